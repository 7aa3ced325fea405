// netbench: make bench's network benchmark (tools/netbench.ts), run by the
// initramfs's /init when the kernel command line has typervisor.netbench=
// (initramfs.ts). Four commands:
//
//   netbench recv PORT BYTES
//       listens on TCP port PORT of every address, takes one connection and
//       reads BYTES from it, then closes it; prints "netbench: received N
//       bytes: first byte at tsc F, last at tsc L, T ticks" (T = L - F)
//   netbench send ADDRESS PORT BYTES
//       connects to ADDRESS:PORT (an IPv4 address in dots), trying again
//       every 20 ms while nothing listens there yet, writes BYTES of zeros,
//       shuts its side down and waits for the receiver to close; prints
//       "netbench: sent N bytes: connected at tsc C, closed at tsc E, T
//       ticks" (T = E - C). Waiting for the receiver's close means nothing
//       sent is still in flight when the machine powers off.
//   netbench veth NAME_A PID_A NAME_B PID_B
//       creates a veth pair, NAME_A in the network namespace of process
//       PID_A and its peer NAME_B in that of PID_B (the bare machine's two
//       namespaces, each held by a process started with `unshare -n`)
//   netbench no-offloads NAME
//       turns transmit checksumming off on interface NAME, which takes
//       scatter-gather and TCP segmentation offload with it, as a virtio-net
//       card without VIRTIO_NET_F_CSUM has them (a bare variant of the
//       benchmark, with the VMs' cards' offloads)
//
// The numbers in the printed lines have fixed widths, so that a transfer of
// no bytes prints as many characters as a real one: the benchmark's
// baseline run differs from its real run by the transfer alone, not by the
// console's port I/O.
//
// Under QEMU -icount shift=0,sleep=off the TSC counts instructions
// (docs/net-bench.md).
//
// A static freestanding x86-64 Linux executable, as diskbench.c, with
// which it shares program.h: no libc, raw system calls.

#include "program.h"

typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

// Linux's x86-64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl).
enum {
  SYS_READ = 0,
  SYS_WRITE = 1,
  SYS_CLOSE = 3,
  SYS_IOCTL = 16,
  SYS_NANOSLEEP = 35,
  SYS_SOCKET = 41,
  SYS_CONNECT = 42,
  SYS_ACCEPT = 43,
  SYS_SENDTO = 44,
  SYS_RECVFROM = 45,
  SYS_SHUTDOWN = 48,
  SYS_BIND = 49,
  SYS_LISTEN = 50,
  SYS_SETSOCKOPT = 54,
};

// <linux/socket.h>, <linux/in.h>, <asm-generic/socket.h>, <linux/net.h>.
#define AF_INET 2
#define AF_NETLINK 16
#define SOCK_STREAM 1
#define SOCK_RAW 3
#define SOL_SOCKET 1
#define SO_REUSEADDR 2
#define SHUT_WR 1

// rtnetlink (man 7 netlink, man 7 rtnetlink; <linux/netlink.h>,
// <linux/rtnetlink.h>, <linux/if_link.h>): a request is a struct nlmsghdr,
// for RTM_NEWLINK a struct ifinfomsg, then attributes, each a struct rtattr
// (length including itself, type) and its payload, padded to 4 bytes.
// IFLA_LINKINFO nests IFLA_INFO_KIND, the driver's name ("veth"), and
// IFLA_INFO_DATA, the driver's own attributes; veth's one is
// VETH_INFO_PEER (include/uapi/linux/veth.h: VETH_INFO_UNSPEC 0,
// VETH_INFO_PEER 1), whose payload is the peer's own struct ifinfomsg and
// attributes (drivers/net/veth.c, veth_newlink(), parses it with
// rtnl_nla_parse_ifinfomsg()). IFLA_NET_NS_PID at either level puts that
// end in the network namespace of the process it names.
#define NETLINK_ROUTE 0
#define RTM_NEWLINK 16
#define NLMSG_ERROR 2
#define NLM_F_REQUEST 0x01
#define NLM_F_ACK 0x04
#define NLM_F_EXCL 0x200
#define NLM_F_CREATE 0x400
#define IFLA_IFNAME 3
#define IFLA_LINKINFO 18
#define IFLA_NET_NS_PID 19
#define IFLA_INFO_KIND 1
#define IFLA_INFO_DATA 2
#define VETH_INFO_PEER 1
#define IFNAMSIZ 16

struct nlmsghdr {
  u32 len;
  u16 type;
  u16 flags;
  u32 seq;
  u32 pid;
};
struct ifinfomsg {
  u8 family;
  u8 pad;
  u16 type;
  int index;
  u32 flags;
  u32 change;
};
struct rtattr {
  u16 len;
  u16 type;
};
struct sockaddr_in {
  u16 family;
  u16 port; // network byte order
  u32 address; // network byte order
  u8 zero[8];
};
struct sockaddr_nl {
  u16 family;
  u16 pad;
  u32 pid;
  u32 groups;
};
struct timespec {
  long seconds;
  long nanoseconds;
};

// What one read or write moves at most (TCP takes any size; so many
// system calls for 64 MiB cost little next to the transfer).
#define CHUNK (64UL << 10)
static unsigned char buffer[CHUNK] __attribute__((aligned(4096)));

// Output is gathered into whole lines, each written with one write(): on
// the bare machine the receiver and the sender share the console and
// finish at the same moment.
static char line[256];
static int lineLength;

static void put(const char *s) {
  for (int i = 0; s[i]; i++) {
    if (lineLength < (int)sizeof line) line[lineLength++] = s[i];
    if (s[i] == '\n' || lineLength == (int)sizeof line) {
      syscall3(SYS_WRITE, 1, line, lineLength);
      lineLength = 0;
    }
  }
}

// `value` in decimal, right-aligned in `width` characters (if it fits).
static void putNumber(u64 value, int width) {
  char digits[21];
  int n = 20;
  digits[n] = 0;
  do { digits[--n] = (char)('0' + value % 10); value /= 10; } while (value != 0);
  while (n > 0 && 20 - n < width) digits[--n] = ' ';
  put(digits + n);
}

// Prints what went wrong with Linux's error number (ECONNREFUSED 111, EINVAL 22...) and exits.
__attribute__((noreturn)) static void fail(const char *what, const char *name, long error) {
  put("netbench: ");
  put(what);
  put(name);
  put(": error ");
  putNumber((u64)error, 0);
  put("\n");
  leave(1);
}

static int same(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}

// A decimal number, or -1 if `s` is not one.
static long number(const char *s) {
  if (!*s) return -1;
  long n = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    n = n * 10 + (*s - '0');
  }
  return n;
}

static long numberArg(const char *s, const char *what) {
  long n = number(s);
  if (n < 0) fail("not a number: ", what, 22);
  return n;
}

static u16 networkOrder16(u16 x) { return (u16)(x << 8 | x >> 8); }

// "10.0.0.1" in network byte order (its first byte first in memory).
static u32 ipv4(const char *s) {
  u32 address = 0;
  for (int part = 0; part < 4; part++) {
    long n = 0;
    int digits = 0;
    while (*s >= '0' && *s <= '9' && digits < 4) n = n * 10 + (*s++ - '0'), digits++;
    if (digits == 0 || n > 255 || (part < 3 ? *s != '.' : *s != 0)) fail("not an IPv4 address: ", s, 22);
    if (part < 3) s++;
    address |= (u32)n << (8 * part);
  }
  return address;
}

static struct sockaddr_in inetAddress(u32 address, long port) {
  struct sockaddr_in a = {AF_INET, networkOrder16((u16)port), address, {0}};
  return a;
}

// Widths: up to 1 GB and a TSC of up to 1000 G ticks.
#define BYTES_WIDTH 10
#define TSC_WIDTH 13

static void stampLine(const char *verb, u64 bytes, const char *first, u64 from, const char *last, u64 to) {
  put("netbench: ");
  put(verb);
  put(" ");
  putNumber(bytes, BYTES_WIDTH);
  put(" bytes: ");
  put(first);
  put(" at tsc ");
  putNumber(from, TSC_WIDTH);
  put(", ");
  put(last);
  put(" at tsc ");
  putNumber(to, TSC_WIDTH);
  put(", ");
  putNumber(to - from, TSC_WIDTH);
  put(" ticks\n");
}

static void receive(long port, u64 bytes) {
  long listener = syscall3(SYS_SOCKET, AF_INET, SOCK_STREAM, 0);
  if (listener < 0) fail("socket", "", -listener);
  int on = 1;
  syscall6(SYS_SETSOCKOPT, listener, SOL_SOCKET, SO_REUSEADDR, (long)&on, sizeof on, 0);
  struct sockaddr_in any = inetAddress(0, port);
  long r = syscall3(SYS_BIND, listener, &any, sizeof any);
  if (r < 0) fail("bind", "", -r);
  r = syscall3(SYS_LISTEN, listener, 1, 0);
  if (r < 0) fail("listen", "", -r);
  long connection = syscall3(SYS_ACCEPT, listener, 0, 0);
  if (connection < 0) fail("accept", "", -connection);
  u64 got = 0, first = 0, last = 0;
  while (got < bytes) {
    u64 want = bytes - got < CHUNK ? bytes - got : CHUNK;
    long n = syscall3(SYS_READ, connection, buffer, want);
    if (n < 0) fail("read", "", -n);
    if (n == 0) break;
    last = rdtsc();
    if (got == 0) first = last;
    got += (u64)n;
  }
  syscall3(SYS_CLOSE, connection, 0, 0);
  syscall3(SYS_CLOSE, listener, 0, 0);
  if (got < bytes) fail("the sender closed early, after bytes: ", "", (long)got);
  stampLine("received", got, "first byte", first, "last", last);
}

static void send(u32 address, long port, u64 bytes) {
  struct sockaddr_in to = inetAddress(address, port);
  long s;
  // Until the receiver listens: its machine may boot later than this one.
  for (int tries = 0;; tries++) {
    s = syscall3(SYS_SOCKET, AF_INET, SOCK_STREAM, 0);
    if (s < 0) fail("socket", "", -s);
    long r = syscall3(SYS_CONNECT, s, &to, sizeof to);
    if (r == 0) break;
    syscall3(SYS_CLOSE, s, 0, 0);
    if (tries == 3000) fail("connect", "", -r);
    struct timespec pause = {0, 20 * 1000 * 1000};
    syscall3(SYS_NANOSLEEP, &pause, 0, 0);
  }
  u64 start = rdtsc(), sent = 0;
  while (sent < bytes) {
    u64 want = bytes - sent < CHUNK ? bytes - sent : CHUNK;
    long n = syscall3(SYS_WRITE, s, buffer, want);
    if (n <= 0) fail("write", "", n < 0 ? -n : 5);
    sent += (u64)n;
  }
  syscall3(SYS_SHUTDOWN, s, SHUT_WR, 0);
  while (syscall3(SYS_READ, s, buffer, CHUNK) > 0) {}
  u64 end = rdtsc();
  syscall3(SYS_CLOSE, s, 0, 0);
  stampLine("sent", sent, "connected", start, "closed", end);
}

// Appends an attribute with `length` bytes of `payload` (none if null) at
// `at`; returns it, for a nest's length to be set once its contents are in.
static struct rtattr *attribute(u8 *message, u32 *at, u16 type, const void *payload, u32 length) {
  struct rtattr *a = (struct rtattr *)(message + *at);
  a->len = (u16)(sizeof *a + length);
  a->type = type;
  for (u32 i = 0; i < length; i++) message[*at + sizeof *a + i] = payload ? ((const u8 *)payload)[i] : 0;
  *at += (sizeof *a + length + 3) & ~3U;
  return a;
}

static void endNest(u8 *message, u32 at, struct rtattr *nest) { nest->len = (u16)(message + at - (u8 *)nest); }

static void veth(const char *nameA, long pidA, const char *nameB, long pidB) {
  if (textLength(nameA) >= IFNAMSIZ || textLength(nameB) >= IFNAMSIZ) fail("name too long: ", nameA, 22);
  static u8 message[512] __attribute__((aligned(4)));
  u32 at = sizeof(struct nlmsghdr);
  struct ifinfomsg link = {0};
  for (u32 i = 0; i < sizeof link; i++) message[at + i] = ((u8 *)&link)[i];
  at += sizeof link;
  u32 pid = (u32)pidA;
  attribute(message, &at, IFLA_IFNAME, nameA, textLength(nameA) + 1);
  attribute(message, &at, IFLA_NET_NS_PID, &pid, sizeof pid);
  struct rtattr *info = attribute(message, &at, IFLA_LINKINFO, 0, 0);
  attribute(message, &at, IFLA_INFO_KIND, "veth", 5);
  struct rtattr *data = attribute(message, &at, IFLA_INFO_DATA, 0, 0);
  struct rtattr *peer = attribute(message, &at, VETH_INFO_PEER, &link, sizeof link);
  pid = (u32)pidB;
  attribute(message, &at, IFLA_IFNAME, nameB, textLength(nameB) + 1);
  attribute(message, &at, IFLA_NET_NS_PID, &pid, sizeof pid);
  endNest(message, at, peer);
  endNest(message, at, data);
  endNest(message, at, info);
  struct nlmsghdr *header = (struct nlmsghdr *)message;
  header->len = at;
  header->type = RTM_NEWLINK;
  header->flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
  header->seq = 1;
  header->pid = 0;

  long s = syscall3(SYS_SOCKET, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  if (s < 0) fail("netlink socket", "", -s);
  struct sockaddr_nl kernel = {AF_NETLINK, 0, 0, 0};
  long r = syscall6(SYS_SENDTO, s, (long)message, at, 0, (long)&kernel, sizeof kernel);
  if (r < 0) fail("netlink send", "", -r);
  // The acknowledgement: an NLMSG_ERROR message whose error is 0, or minus Linux's error number.
  static u8 reply[1024] __attribute__((aligned(4)));
  r = syscall6(SYS_RECVFROM, s, (long)reply, sizeof reply, 0, 0, 0);
  if (r < (long)(sizeof(struct nlmsghdr) + sizeof(int))) fail("netlink receive", "", r < 0 ? -r : 5);
  struct nlmsghdr *answer = (struct nlmsghdr *)reply;
  int error = *(int *)(reply + sizeof *answer);
  if (answer->type != NLMSG_ERROR) fail("netlink: no acknowledgement for ", nameA, 5);
  if (error != 0) fail("cannot create the veth pair ", nameA, -error);
  syscall3(SYS_CLOSE, s, 0, 0);
  put("netbench: veth pair ");
  put(nameA);
  put(" (namespace of process ");
  putNumber((u64)pidA, 0);
  put("), ");
  put(nameB);
  put(" (namespace of process ");
  putNumber((u64)pidB, 0);
  put(")\n");
}

// The legacy ethtool requests (man 8 ethtool's -K, <linux/ethtool.h>,
// <linux/sockios.h>): SIOCETHTOOL on any socket, with a struct ifreq
// whose data points to a struct ethtool_value { cmd, data }.
#define SIOCETHTOOL 0x8946
#define ETHTOOL_STXCSUM 0x17

struct ifreq {
  char name[IFNAMSIZ];
  void *data;
  u8 rest[16];
};
struct ethtool_value {
  u32 cmd;
  u32 data;
};

static void noOffloads(const char *name) {
  if (textLength(name) >= IFNAMSIZ) fail("name too long: ", name, 22);
  struct ifreq request = {{0}, 0, {0}};
  for (int i = 0; name[i]; i++) request.name[i] = name[i];
  struct ethtool_value value = {ETHTOOL_STXCSUM, 0};
  request.data = &value;
  long s = syscall3(SYS_SOCKET, AF_INET, SOCK_STREAM, 0);
  if (s < 0) fail("socket", "", -s);
  long r = syscall3(SYS_IOCTL, s, SIOCETHTOOL, &request);
  if (r < 0) fail("cannot turn transmit checksumming off on ", name, -r);
  syscall3(SYS_CLOSE, s, 0, 0);
  put("netbench: ");
  put(name);
  put(": transmit checksumming off\n");
}

static void run(long argc, char **argv) {
  if (argc == 4 && same(argv[1], "recv")) {
    receive(numberArg(argv[2], "port"), (u64)numberArg(argv[3], "bytes"));
  } else if (argc == 5 && same(argv[1], "send")) {
    send(ipv4(argv[2]), numberArg(argv[3], "port"), (u64)numberArg(argv[4], "bytes"));
  } else if (argc == 6 && same(argv[1], "veth")) {
    veth(argv[2], numberArg(argv[3], "pid"), argv[4], numberArg(argv[5], "pid"));
  } else if (argc == 3 && same(argv[1], "no-offloads")) {
    noOffloads(argv[2]);
  } else {
    fail("usage: ", "netbench recv PORT BYTES | send ADDRESS PORT BYTES | veth NAME PID NAME PID | no-offloads NAME", 22);
  }
}
