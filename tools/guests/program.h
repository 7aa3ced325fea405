// What the initramfs's benchmark programs (diskbench.c, netbench.c) share:
// the entry point, the raw system call, the TSC and a string's length. Each is a static
// freestanding x86-64 Linux executable with no libc (programs.ts): the
// x86-64 system call ABI takes the number in RAX and the arguments in RDI,
// RSI, RDX, R10, R8 and R9, and clobbers RCX and R11. RDTSC is allowed in
// user mode because Linux leaves CR4.TSD clear (SDM Vol. 2B "RDTSC").

typedef unsigned long u64;

static long syscall6(long number, long a, long b, long c, long d, long e, long f) {
  long result;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall"
                   : "=a"(result)
                   : "a"(number), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return result;
}
#define syscall3(n, a, b, c) syscall6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define syscall4(n, a, b, c, d) syscall6(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

static u64 rdtsc(void) {
  unsigned lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((u64)hi << 32) | lo;
}

static int textLength(const char *s) {
  int n = 0;
  while (s[n]) n++;
  return n;
}

enum { SYS_EXIT = 60 };

// Ends the program with `status` (the loop tells the compiler exit does not return).
__attribute__((noreturn)) static void leave(long status) {
  for (;;) syscall3(SYS_EXIT, status, 0, 0);
}

// Each program's work on its arguments; returning ends the program with status 0.
static void run(long argc, char **argv);

// Called from _start with the initial stack: argc, then argv[] (System V
// x86-64 ABI, 3.4.1 "Initial Stack and Register State").
__attribute__((noreturn, used)) static void start(long *stack) {
  run(stack[0], (char **)(stack + 1));
  leave(0);
}

// The entry point: the stack pointer, aligned to 16 bytes as a call expects, is the argument.
__asm__(".globl _start\n_start:\n  mov %rsp, %rdi\n  and $-16, %rsp\n  call start\n");
