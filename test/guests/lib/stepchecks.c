/*
 * Single-step and RF across instructions the VMM completes for the guest.
 * With RFLAGS.TF set, a CPU takes a #DB trap after each instruction, DR6.BS
 * set (Intel SDM Vol. 3B 18.3.1.4); an instruction the VMM finished in the
 * guest's place (CPUID, IN, an MMIO load, RDMSR) must trap right after it
 * too, not one instruction later. And a fault pushes RFLAGS with RF set
 * (18.3.1.1), so the faulting instruction's breakpoint does not fire again
 * when the handler returns to it; the VMM's injected faults must do the
 * same. Part of the checks every suite guest runs (checks.c).
 */
#include "guest.h"

#define TEST_PORT 0x600
#define MMIO_ID 0xfeb00008u
#define MSR_APIC_BASE 0x1b
#define MSR_ABSENT 0x4000beef
#define DR6_BS (1u << 14)
#define RFLAGS_RF (1ul << 16)

/* TF on: POPF sets it, and the trap follows the instruction after POPF. */
#ifdef __x86_64__
#define SET_TF "pushfq\n\torq $0x100, (%%rsp)\n\tpopfq\n\t"
#define AFTER(reg) "lea stepped_%=(%%rip), " reg
#else
#define SET_TF "pushfl\n\torl $0x100, (%%esp)\n\tpopfl\n\t"
#define AFTER(reg) "mov $stepped_%=, " reg
#endif

/* The trap came once, right after the stepped instruction (at stepped_N),
 * and DR6 says single-step. */
static int trapped_at(uint32_t traps_before, unsigned long label) {
  return db_traps == traps_before + 1 && db_return == label && (db_dr6 & DR6_BS);
}

void check_single_step(void) {
  unsigned long label, a = 0, c = 0, d = 0;
  uint32_t before = db_traps;
  __asm__ volatile(SET_TF "cpuid\nstepped_%=:\n\t" AFTER("%0") : "=r"(label), "+a"(a), "+c"(c), "=b"(d) :: "edx", "memory");
  check(trapped_at(before, label), "debug: single-step traps right after CPUID");

  before = db_traps;
  __asm__ volatile(SET_TF "inl %%dx, %%eax\nstepped_%=:\n\t" AFTER("%0") : "=r"(label), "=a"(a) : "d"(TEST_PORT) : "memory");
  check(trapped_at(before, label), "debug: single-step traps right after IN");

  before = db_traps;
  __asm__ volatile(SET_TF "movl (%2), %%eax\nstepped_%=:\n\t" AFTER("%0") : "=r"(label), "=a"(a) : "r"((uintptr_t)MMIO_ID) : "memory");
  check(trapped_at(before, label) && a == 0x4f494d54, "debug: single-step traps right after an MMIO load");

  before = db_traps;
  __asm__ volatile(SET_TF "rdmsr\nstepped_%=:\n\t" AFTER("%0") : "=r"(label), "=a"(a), "=d"(d) : "c"(MSR_APIC_BASE) : "memory");
  check(trapped_at(before, label), "debug: single-step traps right after RDMSR");
}

/* The #GP of a WRMSR to an MSR that does not exist is the VMM's to inject. */
void check_fault_rf(const char* mode) {
  if (mode[0] == 'r') return; /* real mode pushes FLAGS without RF */
  uint32_t faults = gp_faults;
  gp_eflags = 0;
  wrmsr(MSR_ABSENT, 0);
  check(gp_faults == faults + 1 && (gp_eflags & RFLAGS_RF), "32/64-bit: an injected #GP pushes RFLAGS.RF set");
}
