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
//
// Each phase is timed with RDTSC and printed as
// "diskbench: PHASE N requests of B bytes: T ticks". Under QEMU -icount
// shift=0,sleep=off the TSC counts instructions (docs/disk-bench.md).
//
// A static freestanding x86-64 Linux executable, as netbench.c, with
// which it shares program.h: no libc, raw system calls.

#include "program.h"

enum { SYS_WRITE = 1, SYS_OPEN = 2, SYS_IOCTL = 16, SYS_PREAD64 = 17, SYS_PWRITE64 = 18 };
// Linux's x86-64 <asm-generic/fcntl.h> and <linux/fs.h>.
#define O_RDWR 02
#define O_DIRECT 040000
#define BLKGETSIZE64 0x80081272UL

#define SEQUENTIAL_BYTES (1UL << 20)
#define RANDOM_BYTES 4096UL
#define RANDOM_SEED 0x9E3779B97F4A7C15UL

// O_DIRECT wants the buffer aligned to the device's logical block; a page is enough.
static unsigned char buffer[SEQUENTIAL_BYTES] __attribute__((aligned(4096)));

static void put(const char *s) { syscall4(SYS_WRITE, 1, (long)s, textLength(s), 0); }

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
    if (*s < '0' || *s > '9') return -1;
    n = n * 10 + (*s - '0');
  }
  return n;
}

static u64 xorshift64(u64 *state) {
  u64 x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *state = x;
}

// Runs one phase on `fd` (of `size` bytes) and prints its line.
static void phase(int fd, u64 size, const char *arg) {
  long count = countOf(arg);
  int write = startsWith(arg, "seq-write:"), random = startsWith(arg, "rand-read:");
  if (count < 0 || !(write || random || startsWith(arg, "seq-read:"))) fail("no such phase: ", arg, 22);
  u64 bytes = random ? RANDOM_BYTES : SEQUENTIAL_BYTES;
  if ((u64)count * bytes > size && !random) fail("device too small for ", arg, 28);
  u64 state = RANDOM_SEED;
  u64 start = rdtsc();
  for (long i = 0; i < count; i++) {
    u64 offset = random ? (xorshift64(&state) % (size / RANDOM_BYTES)) * RANDOM_BYTES : (u64)i * bytes;
    long done = syscall4(write ? SYS_PWRITE64 : SYS_PREAD64, fd, (long)buffer, (long)bytes, (long)offset);
    if (done != (long)bytes) fail(write ? "write failed: " : "read failed: ", arg, done < 0 ? -done : 5);
  }
  u64 ticks = rdtsc() - start;
  put("diskbench: ");
  int name = 0;
  while (arg[name] != ':') name++;
  syscall4(SYS_WRITE, 1, (long)arg, name, 0);
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
