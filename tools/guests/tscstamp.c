// tscstamp: the first command of the initramfs's /init (initramfs.ts). It
// prints the time stamp counter once, as "tscstamp: /init at tsc N", and
// exits. Under QEMU -icount shift=0,sleep=off the TSC counts virtual
// nanoseconds from power-on (one per instruction), and Typervisor gives its
// guests the host's TSC unchanged (no TSC offset), so N is a deterministic
// clock of the whole machine's boot, bare or in a VM (make bench,
// tools/linuxbench.ts).
//
// A static freestanding x86-64 Linux executable: no libc, two raw system
// calls (write = 1, exit = 60; the x86-64 syscall ABI passes them in RAX,
// RDI, RSI, RDX and clobbers RCX and R11). RDTSC is allowed in user mode
// because Linux leaves CR4.TSD clear (SDM Vol. 2B "RDTSC").

typedef unsigned long u64;

static long syscall3(long number, long a, long b, long c) {
  long result;
  __asm__ volatile("syscall" : "=a"(result) : "a"(number), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return result;
}

__attribute__((noreturn)) void _start(void) {
  unsigned lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  u64 tsc = ((u64)hi << 32) | lo;

  static const char prefix[] = "tscstamp: /init at tsc ";
  char line[sizeof prefix + 21];
  char digits[20];
  int n = 0, length = 0;
  do { digits[n++] = (char)('0' + tsc % 10); tsc /= 10; } while (tsc != 0);
  for (int i = 0; i < (int)sizeof prefix - 1; i++) line[length++] = prefix[i];
  while (n > 0) line[length++] = digits[--n];
  line[length++] = '\n';
  syscall3(1, 1, (long)line, length);
  for (;;) syscall3(60, 0, 0, 0);
}
