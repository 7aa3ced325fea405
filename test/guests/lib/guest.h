/*
 * The test guests' little library: console output and exit through the
 * hypervisor's hypercalls (docs/hypercalls.md), port and MSR access, and the
 * PASS/FAIL reporting the system tests read. Compiled three times: for real
 * mode (-m16), protected mode (-m32) and long mode (-m64).
 */
#ifndef GUEST_H
#define GUEST_H
#include <stdint.h>

#define HC_CONSOLE_WRITE 1
#define HC_EXIT 2
#define HC_YIELD 3

/* Set by the entry code's exception handlers (entry*.S); the #GP handler
 * skips the faulting instruction, gp_skip bytes (2: RDMSR/WRMSR). */
extern volatile uint32_t gp_faults;
extern volatile uint32_t gp_skip;
/* Counted by the #UD handlers, which skip a 3-byte instruction. */
extern volatile uint32_t ud_faults;
extern volatile uint32_t interrupts;
/* Counted by nmi_entered(), which the NMI handlers of entry*.S call; it
 * then calls nmi_hook, if set. */
extern volatile uint32_t nmis;
extern void (*volatile nmi_hook)(void);
/* 64-bit: the #PF handler calls page_fault_hook(address, error code), which
 * must make the faulting instruction able to run again. */
extern void (*volatile page_fault_hook)(unsigned long address, unsigned long error);
/* The #DB handler counts traps and notes where each returns to and DR6;
 * the #GP handler notes the EFLAGS the fault pushed (not in real mode). */
extern volatile uint32_t db_traps;
extern volatile unsigned long db_return, db_dr6, gp_eflags;
#define TEST_VECTOR 0x40

unsigned long hypercall(unsigned long fn, unsigned long a0, unsigned long a1);
void puts(const char* s);
void put_hex(uint64_t v);
void check(int ok, const char* name);
/* The next check() reports SKIP with `why` instead of its result: for a
 * behaviour the CPU underneath lacks (the system tests say which may). */
void skip_next_check(const char* why);
int failures(void);

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

static inline void cpuid_subleaf(uint32_t leaf, uint32_t subleaf, uint32_t r[4]) {
  __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(subleaf));
}
static inline void cpuid(uint32_t leaf, uint32_t r[4]) { cpuid_subleaf(leaf, 0, r); }
/* RDMSR/WRMSR are 2 bytes long: the #GP handler skips them. */
static inline uint64_t rdmsr(uint32_t msr) {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("rdmsr" : "+a"(lo), "+d"(hi) : "c"(msr));
  return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v) {
  __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

/* XSETBV and XGETBV are 3 bytes long. */
static inline void xsetbv(uint32_t xcr, uint64_t v) {
  __asm__ volatile("xsetbv" ::"c"(xcr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}
static inline uint64_t xgetbv(uint32_t xcr) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(xcr));
  return ((uint64_t)hi << 32) | lo;
}

/* A 32-bit device register read or write as exactly one MOV through a
 * pointer register, as Linux's readl/writel: a plain C access may be fused
 * with its neighbour into an OR on the register, and clang -m16 truncates
 * absolute addresses in ModRM to 16 bits. */
static inline uint32_t mmio_in32(uintptr_t address) {
  uint32_t v;
  __asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(address) : "memory");
  return v;
}
static inline void mmio_out32(uintptr_t address, uint32_t v) {
  __asm__ volatile("movl %0, (%1)" ::"r"(v), "r"(address) : "memory");
}

int run_checks(const char* mode);
/* The checks of mmiochecks.c, apicchecks.c, nmichecks.c and debugchecks.c, which run_checks() runs. */
void check_mmio(void);
void check_mmio_read_modify_write(void);
void check_mmio_strings(void);
void check_apic_timer(void);
void check_x2apic(void);
void check_task_priority(void); /* 64-bit only: CR8 */
void check_store_memo(void);    /* 64-bit only: the exit fast path's replayed APIC store */
void check_nmis(void);
void check_debug_registers(const char* mode);
void check_single_step(void);
void check_breakpoints(void);
void check_fault_rf(const char* mode);

#endif
