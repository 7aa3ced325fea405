// diskbench: make bench's disk benchmark (tools/diskbench.ts), run by the
// initramfs's /init when the kernel command line has
// typervisor.diskbench=DEVICE,PHASE:COUNT,... (initramfs.ts). It opens the
// block device with O_DIRECT, so every read and write goes to the device
// and none to the page cache, and runs the phases in order:
//
//   seq-read:N    N reads of 1 MiB, one after the other from offset 0
//   seq-write:N   N writes of 1 MiB, the same way
//   rand-read:N   N reads of 4 KiB at 4 KiB-aligned offsets drawn by a
//                 xorshift64 generator with a fixed seed
//   queued-read:N the same N reads, QUEUE_DEPTH at a time: submitted
//                 together with Linux's native AIO (io_submit, O_DIRECT),
//                 then waited for together, so that the device has a
//                 queue of requests to batch
//
// Each phase is timed with RDTSC and printed as
// "diskbench: PHASE N requests of B bytes: T ticks", after the ticks the
// machine spent halted meanwhile, "diskbench: PHASE idle: I ticks". Under
// QEMU -icount shift=0 the TSC counts instructions while the CPU runs, and
// real time while it halts (sleep=on), so T - I are the instructions run
// (docs/disk-bench.md). On a bare machine the halts are Linux's idle
// periods, from its cpu_idle trace events (the initramfs's /init turns
// them on, with the TSC as the trace clock); under Typervisor the host
// CPUs' idle ticks, and the VM's exits, from the hypervisor's CPUID leaf
// 0x40000002 (docs/hypercalls.md): "diskbench: PHASE exits: N io A mmio B ...".
//
// A static freestanding x86-64 Linux executable, as netbench.c, with
// which it shares program.h: no libc, raw system calls.

#include "program.h"

enum { SYS_READ = 0, SYS_WRITE = 1, SYS_OPEN = 2, SYS_CLOSE = 3, SYS_IOCTL = 16, SYS_PREAD64 = 17, SYS_PWRITE64 = 18 };
enum { SYS_IO_SETUP = 206, SYS_IO_DESTROY = 207, SYS_IO_GETEVENTS = 208, SYS_IO_SUBMIT = 209 };
// Linux's x86-64 <asm-generic/fcntl.h> and <linux/fs.h>.
#define O_RDONLY 00
#define O_WRONLY 01
#define O_RDWR 02
#define O_TRUNC 01000
#define O_DIRECT 040000
#define BLKGETSIZE64 0x80081272UL

#define SEQUENTIAL_BYTES (1UL << 20)
#define RANDOM_BYTES 4096UL
#define RANDOM_SEED 0x9E3779B97F4A7C15UL
#define QUEUE_DEPTH 32

// Linux's <linux/aio_abi.h>: a request (IOCB_CMD_PREAD) and its completion.
struct iocb {
  u64 data;
  unsigned key, rwFlags;
  unsigned short opcode;
  short priority;
  unsigned fd;
  u64 buf, bytes;
  long offset;
  u64 reserved;
  unsigned flags, resultFd;
};
struct ioEvent {
  u64 data, request;
  long result, result2;
};
#define IOCB_CMD_PREAD 0

// O_DIRECT wants the buffer aligned to the device's logical block; a page is enough.
static unsigned char buffer[SEQUENTIAL_BYTES] __attribute__((aligned(4096)));

static void put(const char *s) { syscall4(SYS_WRITE, 1, (long)s, textLength(s), 0); }

// "diskbench: PHASE", the start of a phase's lines, from its argument "PHASE:COUNT".
static void putPhase(const char *arg) {
  int name = 0;
  while (arg[name] != ':') name++;
  put("diskbench: ");
  syscall4(SYS_WRITE, 1, (long)arg, name, 0);
}

static void putNumber(u64 value) {
  char digits[21];
  int n = 20;
  digits[n] = 0;
  do { digits[--n] = (char)('0' + value % 10); value /= 10; } while (value != 0);
  put(digits + n);
}

// Prints what went wrong with Linux's error number (EINVAL 22, EIO 5...) and exits.
__attribute__((noreturn)) static void fail(const char *what, const char *name, long error) {
  put("diskbench: ");
  put(what);
  put(name);
  put(": error ");
  putNumber((u64)error);
  put("\n");
  leave(1);
}

static int isDigit(char c) { return c >= '0' && c <= '9'; }

static int startsWith(const char *s, const char *prefix) {
  for (int i = 0; prefix[i]; i++) if (s[i] != prefix[i]) return 0;
  return 1;
}

// The count after "NAME:", or -1 if it is not a number.
static long countOf(const char *arg) {
  const char *s = arg;
  while (*s && *s != ':') s++;
  if (*s != ':' || !s[1]) return -1;
  long n = 0;
  for (s++; *s; s++) {
    if (!isDigit(*s)) return -1;
    n = n * 10 + (*s - '0');
  }
  return n;
}

// The VM's exits, from the hypervisor's leaf 0x40000002: of one kind (ECX,
// ExitKind's number), or every exit with ECX all ones; with ECX 0xfffffffe
// the ticks the host's CPUs have spent halted.
#define EXIT_COUNT_LEAF 0x40000002u
#define ALL_EXITS 0xffffffffu
#define HOST_IDLE 0xfffffffeu
static const struct {
  unsigned kind;
  const char *name;
} KINDS[] = {{3, "io"}, {6, "mmio"}, {4, "msr-read"}, {5, "msr-write"}, {2, "hlt"},
             {11, "external-interrupt"}, {12, "interrupt-window"}};
#define KIND_COUNT (sizeof KINDS / sizeof KINDS[0])
struct exitCounts {
  u64 all, kind[KIND_COUNT];
};

static u64 exitCount(unsigned kind) {
  unsigned a, b, c, d;
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(EXIT_COUNT_LEAF), "c"(kind));
  return a | (u64)d << 32;
}

// Whether leaf 0x40000000 carries Typervisor's signature: only then has
// leaf 0x40000002 the exit counts.
static int underTypervisor(void) {
  unsigned a, b, c, d;
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x40000000u), "c"(0));
  return a >= EXIT_COUNT_LEAF && b == 0x65707954 && c == 0x73697672 && d == 0x5654726f; // "TypervisorTV"
}

// Every exit first: the counts of kinds that follow are KIND_COUNT CPUID
// exits of its own, which countsSince() takes out.
static void countExits(struct exitCounts *e) {
  e->all = exitCount(ALL_EXITS);
  for (unsigned i = 0; i < KIND_COUNT; i++) e->kind[i] = exitCount(KINDS[i].kind);
}

// Prints the exits from `before` to `now`, but for this program's own
// CPUIDs: the kinds of `before`, the two reads of the host's idle ticks
// (phase()), and the count of every exit in `now`.
static void putExitsBetween(const struct exitCounts *before, const struct exitCounts *now) {
  put(" exits: ");
  putNumber(now->all - before->all - (KIND_COUNT + 3));
  for (unsigned i = 0; i < KIND_COUNT; i++) {
    put(" ");
    put(KINDS[i].name);
    put(" ");
    putNumber(now->kind[i] - before->kind[i]);
  }
  put("\n");
}

// Linux's trace buffer, which /init has record the cpu_idle events with
// the TSC as their clock (Documentation/trace/ftrace.rst: a counter clock's
// timestamps are printed as the raw count).
#define TRACE "/sys/kernel/tracing/trace"
#define IDLE_EVENT ": cpu_idle: state="
#define IDLE_EXIT 4294967295UL // PWR_EVENT_EXIT, (u32)-1

// Empties the trace buffer (opening it for writing with O_TRUNC does).
static void clearTrace(void) {
  long fd = syscall4(SYS_OPEN, TRACE, O_WRONLY | O_TRUNC, 0, 0);
  if (fd < 0) fail("cannot clear ", TRACE, -fd);
  syscall3(SYS_CLOSE, fd, 0, 0);
}

// The digits from line[start] on, before `end` or the first other character, as a number.
static u64 numberAt(const char *line, int start, int end) {
  u64 n = 0;
  for (int i = start; i < end && isDigit(line[i]); i++) n = n * 10 + (u64)(line[i] - '0');
  return n;
}

// One trace line: an idle period that began (an event with a state) or
// ended (IDLE_EXIT) adds its part within [from, to) to *idle.
static void idleLine(const char *line, int length, u64 from, u64 to, u64 *enteredAt, u64 *idle) {
  int event = textLength(IDLE_EVENT);
  for (int at = 0; at + event <= length; at++) {
    int i = 0;
    while (i < event && line[at + i] == IDLE_EVENT[i]) i++;
    if (i < event) continue;
    // The timestamp is the number just before the event's name.
    int digits = at;
    while (digits > 0 && isDigit(line[digits - 1])) digits--;
    u64 tsc = numberAt(line, digits, at), state = numberAt(line, at + event, length);
    u64 clamped = tsc < from ? from : tsc > to ? to : tsc;
    if (state != IDLE_EXIT) *enteredAt = clamped;
    else if (*enteredAt != 0) {
      *idle += clamped - *enteredAt;
      *enteredAt = 0;
    }
    return;
  }
}

// The ticks Linux spent idle between TSC `from` and `to`, by its trace
// events, read through `scratch` (`room` bytes).
static u64 idleFromTrace(u64 from, u64 to, unsigned char *scratch, long room) {
  long fd = syscall4(SYS_OPEN, TRACE, O_RDONLY, 0, 0);
  if (fd < 0) fail("cannot read ", TRACE, -fd);
  static char line[512];
  int length = 0;
  u64 idle = 0, enteredAt = 0;
  for (long n; (n = syscall3(SYS_READ, fd, scratch, room)) > 0;) {
    for (long i = 0; i < n; i++) {
      if (scratch[i] != '\n') {
        if (length < (int)sizeof line) line[length++] = (char)scratch[i];
        continue;
      }
      idleLine(line, length, from, to, &enteredAt, &idle);
      length = 0;
    }
  }
  syscall3(SYS_CLOSE, fd, 0, 0);
  return idle;
}

static u64 xorshift64(u64 *state) {
  u64 x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *state = x;
}

// `count` reads of RANDOM_BYTES at the offsets `state` draws, QUEUE_DEPTH
// submitted at once through an AIO context and then all waited for.
static void queuedReads(int fd, u64 size, long count, u64 *state, const char *arg) {
  static struct iocb requests[QUEUE_DEPTH];
  static struct iocb *list[QUEUE_DEPTH];
  static struct ioEvent events[QUEUE_DEPTH];
  u64 context = 0;
  long r = syscall3(SYS_IO_SETUP, QUEUE_DEPTH, (long)&context, 0);
  if (r < 0) fail("io_setup failed: ", arg, -r);
  for (long done = 0; done < count;) {
    long n = count - done < QUEUE_DEPTH ? count - done : QUEUE_DEPTH;
    for (long i = 0; i < n; i++) {
      struct iocb *q = &requests[i];
      *q = (struct iocb){0};
      q->opcode = IOCB_CMD_PREAD;
      q->fd = (unsigned)fd;
      q->buf = (u64)(buffer + i * RANDOM_BYTES);
      q->bytes = RANDOM_BYTES;
      q->offset = (long)((xorshift64(state) % (size / RANDOM_BYTES)) * RANDOM_BYTES);
      list[i] = q;
    }
    r = syscall3(SYS_IO_SUBMIT, context, n, (long)list);
    if (r != n) fail("io_submit failed: ", arg, r < 0 ? -r : 5);
    for (long got = 0; got < n; got += r) {
      r = syscall6(SYS_IO_GETEVENTS, (long)context, n - got, n - got, (long)events, 0, 0);
      if (r <= 0) fail("io_getevents failed: ", arg, r < 0 ? -r : 5);
      for (long i = 0; i < r; i++) {
        long result = events[i].result;
        if (result != (long)RANDOM_BYTES) fail("read failed: ", arg, result < 0 ? -result : 5);
      }
    }
    done += n;
  }
  syscall3(SYS_IO_DESTROY, context, 0, 0);
}

// Runs one phase on `fd` (of `size` bytes) and prints its line.
static void phase(int fd, u64 size, const char *arg) {
  long count = countOf(arg);
  int write = startsWith(arg, "seq-write:"), queued = startsWith(arg, "queued-read:");
  int random = queued || startsWith(arg, "rand-read:");
  if (count < 0 || !(write || random || startsWith(arg, "seq-read:"))) fail("no such phase: ", arg, 22);
  u64 bytes = random ? RANDOM_BYTES : SEQUENTIAL_BYTES;
  if ((u64)count * bytes > size && !random) fail("device too small for ", arg, 28);
  u64 state = RANDOM_SEED;
  struct exitCounts exits;
  int counted = underTypervisor();
  u64 hostIdle = 0;
  if (counted) {
    countExits(&exits);
    hostIdle = exitCount(HOST_IDLE);
  } else clearTrace();
  u64 start = rdtsc();
  if (queued) queuedReads(fd, size, count, &state, arg);
  for (long i = 0; i < count && !queued; i++) {
    u64 offset = random ? (xorshift64(&state) % (size / RANDOM_BYTES)) * RANDOM_BYTES : (u64)i * bytes;
    long done = syscall4(write ? SYS_PWRITE64 : SYS_PREAD64, fd, (long)buffer, (long)bytes, (long)offset);
    if (done != (long)bytes) fail(write ? "write failed: " : "read failed: ", arg, done < 0 ? -done : 5);
  }
  u64 end = rdtsc(), ticks = end - start;
  u64 idle = counted ? exitCount(HOST_IDLE) - hostIdle : idleFromTrace(start, end, buffer, sizeof buffer);
  if (counted) {
    struct exitCounts now;
    countExits(&now);
    putPhase(arg);
    putExitsBetween(&exits, &now);
  }
  putPhase(arg);
  put(" idle: ");
  putNumber(idle);
  put(" ticks\n");
  putPhase(arg);
  put(" ");
  putNumber((u64)count);
  put(" requests of ");
  putNumber(bytes);
  put(" bytes: ");
  putNumber(ticks);
  put(" ticks\n");
}

static void run(long argc, char **argv) {
  if (argc < 2) fail("usage: ", "diskbench DEVICE [PHASE:COUNT]...", 22);
  long fd = syscall4(SYS_OPEN, (long)argv[1], O_RDWR | O_DIRECT, 0, 0);
  if (fd < 0) fail("cannot open ", argv[1], -fd);
  u64 size = 0;
  long r = syscall4(SYS_IOCTL, fd, (long)BLKGETSIZE64, (long)&size, 0);
  if (r < 0) fail("not a block device: ", argv[1], -r);
  for (unsigned i = 0; i < sizeof buffer; i++) buffer[i] = (unsigned char)(i * 7 + 1);
  for (long i = 2; i < argc; i++) phase((int)fd, size, argv[i]);
}
