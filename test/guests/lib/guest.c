/* Console, hypercalls and reporting for the test guests (see guest.h). */
#include "guest.h"

/* The counters and notes of the exception handlers in entry*.S (guest.h). */
volatile uint32_t gp_skip = 2;
volatile uint32_t gp_faults, ud_faults, interrupts, nmis;
volatile uint32_t db_traps;
/* Real mode pushes 16-bit FLAGS, without RF: there gp_eflags stays 0. */
volatile unsigned long db_return, db_dr6, gp_eflags;

void (*volatile nmi_hook)(void);

void nmi_entered(void) {
  nmis++;
  if (nmi_hook) nmi_hook();
}

void (*volatile page_fault_hook)(unsigned long address, unsigned long error);

void page_fault_entered(unsigned long address, unsigned long error) { page_fault_hook(address, error); }

static int failed;
static int intel = -1;

/* VMCALL on Intel, VMMCALL on AMD: the vendor decides which one traps. */
unsigned long hypercall(unsigned long fn, unsigned long a0, unsigned long a1) {
  if (intel < 0) {
    uint32_t r[4];
    cpuid(0, r);
    intel = r[1] == 0x756e6547; /* "Genu" */
  }
  unsigned long result;
  if (intel)
    __asm__ volatile("vmcall" : "=a"(result) : "a"(fn), "b"(a0), "c"(a1) : "memory");
  else
    __asm__ volatile("vmmcall" : "=a"(result) : "a"(fn), "b"(a0), "c"(a1) : "memory");
  return result;
}

/* Weak: the test kernels (test/guests/kernels) print on the UART instead.
 * The console may take fewer bytes than asked while the serial line is
 * busy: yield, and write the rest. */
__attribute__((weak)) void puts(const char* s) {
  unsigned long n = 0;
  while (s[n]) n++;
  while (n > 0) {
    unsigned long written = hypercall(HC_CONSOLE_WRITE, (unsigned long)(uintptr_t)s, n);
    if (written > n) return; /* an error */
    if (written == 0) hypercall(HC_YIELD, 0, 0);
    s += written;
    n -= written;
  }
}

void put_hex(uint64_t v) {
  char buf[19] = "0x";
  for (int i = 0; i < 16; i++) buf[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 15];
  buf[18] = 0;
  puts(buf);
}

static const char* skip_reason;

void skip_next_check(const char* why) { skip_reason = why; }

void check(int ok, const char* name) {
  if (skip_reason) {
    puts("SKIP ");
    puts(name);
    puts(" (");
    puts(skip_reason);
    puts(")\n");
    skip_reason = 0;
    return;
  }
  puts(ok ? "PASS " : "FAIL ");
  puts(name);
  puts("\n");
  if (!ok) failed++;
}

int failures(void) { return failed; }

/* The compiler may call these for struct and array initialisation. */
void* memset(void* d, int c, unsigned long n) {
  for (unsigned long i = 0; i < n; i++) ((char*)d)[i] = (char)c;
  return d;
}
void* memcpy(void* d, const void* s, unsigned long n) {
  for (unsigned long i = 0; i < n; i++) ((char*)d)[i] = ((const char*)s)[i];
  return d;
}
