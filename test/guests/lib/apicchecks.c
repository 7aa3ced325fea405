/*
 * The vCPU's local APIC as the guest sees it: its timer, and x2APIC mode
 * with the IA32_APIC_BASE transitions. Part of the checks every suite guest
 * runs (checks.c).
 */
#include "guest.h"

#define MSR_APIC_BASE 0x1b
#define LAPIC 0xfee00000u
#define LAPIC_EOI 0x0b0
#define LAPIC_SVR 0x0f0
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INITIAL 0x380
#define LAPIC_TIMER_CURRENT 0x390
#define LAPIC_TIMER_DIVIDE 0x3e0
#define LAPIC_DIVIDE_BY_1 0xb
#define TIMER_COUNT 2000000

/* The local APIC's timer, one-shot, at the TSC's rate: it counts down
 * while the guest runs and interrupts it out of HLT. */
void check_apic_timer(void) {
  mmio_out32(LAPIC + LAPIC_SVR, mmio_in32(LAPIC + LAPIC_SVR) | 0x100);
  mmio_out32(LAPIC + LAPIC_TIMER_DIVIDE, LAPIC_DIVIDE_BY_1);
  mmio_out32(LAPIC + LAPIC_LVT_TIMER, TEST_VECTOR);
  uint32_t before = interrupts;
  __asm__ volatile("cli");
  mmio_out32(LAPIC + LAPIC_TIMER_INITIAL, TIMER_COUNT);
  uint32_t first = mmio_in32(LAPIC + LAPIC_TIMER_CURRENT);
  uint32_t second = mmio_in32(LAPIC + LAPIC_TIMER_CURRENT);
  /* Time passes between the write and each read (an exit each, at least);
   * on a loaded host the count may even reach 0 before the second. */
  check(first < TIMER_COUNT && second <= first, "lapic: the timer's current count runs down");
  __asm__ volatile("sti; hlt; cli");
  check(interrupts == before + 1, "lapic: a one-shot timer interrupt wakes HLT");
  mmio_out32(LAPIC + LAPIC_EOI, 0);
  check(mmio_in32(LAPIC + LAPIC_TIMER_CURRENT) == 0, "lapic: a one-shot timer stops at 0");
}

/* x2APIC mode (SDM Vol. 3A 11.12): IA32_APIC_BASE.EXTD moves the APIC
 * from the MMIO window to MSRs 0x800-0x8FF; leaving it goes through the
 * disabled state (11.12.5), after which the APIC is as after power-up. */
void check_x2apic(void) {
  const uint64_t enabled = 1u << 11, extd = 1u << 10;
  uint32_t r[4];
  cpuid(1, r);
  check((r[2] >> 21) & 1, "x2apic: CPUID offers it");
  uint32_t faults = gp_faults;
  uint64_t base = rdmsr(MSR_APIC_BASE);
  wrmsr(MSR_APIC_BASE, base | extd);
  check(rdmsr(0x802) == 0 && (rdmsr(0x803) & 0xff) == 0x14 && gp_faults == faults,
        "x2apic: in x2APIC mode the ID (0) and the version read through MSRs");
  check(mmio_in32(LAPIC + 0x20) == 0xffffffff, "x2apic: and the MMIO window no longer answers");
  wrmsr(MSR_APIC_BASE, base & ~(enabled | extd));
  cpuid(1, r);
  uint32_t disabled_edx = r[3];
  wrmsr(MSR_APIC_BASE, base);
  check(gp_faults == faults && (mmio_in32(LAPIC + LAPIC_SVR) & 0x1ff) == 0xff, "x2apic: disabled, then xAPIC again, as after power-up");
  cpuid(1, r);
  check(!((disabled_edx >> 9) & 1) && ((r[3] >> 9) & 1), "lapic: CPUID.1:EDX.APIC follows IA32_APIC_BASE's enable bit");
}
