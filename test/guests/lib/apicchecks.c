/*
 * The vCPU's local APIC as the guest sees it (Intel SDM Vol. 3A chapter
 * 11): its timer in its three modes, IA32_APIC_BASE moving the MMIO window,
 * and x2APIC mode with the IA32_APIC_BASE transitions. Part of the checks
 * every suite guest runs (checks.c).
 */
#include "guest.h"

#define MSR_APIC_BASE 0x1b
#define MSR_TSC_DEADLINE 0x6e0
#define LAPIC 0xfee00000u
/* Where the base-move check puts the APIC: neither RAM nor a device in a
 * flat-binary VM (vmm/setup/flatvms.ts), below 4 GiB for every mode. */
#define LAPIC_MOVED 0xfef00000u
/* A page of RAM no suite guest uses: above their images and stacks. */
#define RAM_PAGE 0x80000u
#define LAPIC_VERSION 0x030
#define LAPIC_TPR 0x080
#define LAPIC_EOI 0x0b0
#define LAPIC_SVR 0x0f0
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INITIAL 0x380
#define LAPIC_TIMER_CURRENT 0x390
#define LAPIC_TIMER_DIVIDE 0x3e0
#define LAPIC_DIVIDE_BY_1 0xb
#define LVT_MASKED (1u << 16)
#define LVT_PERIODIC (1u << 17)
#define LVT_TSC_DEADLINE (2u << 17)
#define TIMER_COUNT 2000000
#define MODE_SWITCH_MS 200
#define DEADLINE_AHEAD_MS 10

static uint32_t timer_count(void) { return mmio_in32(LAPIC + LAPIC_TIMER_CURRENT); }

/* CPUID 0x15: ECX is the core crystal clock, which clocks the APIC timer
 * (11.5.4), counted at divide by 1; EBX (over EAX, 1) is the TSC's ratio. */
static uint32_t timer_ticks_per_ms(void) {
  uint32_t r[4];
  cpuid(0x15, r);
  return r[2] / 1000;
}

static uint64_t tsc_ticks_per_ms(void) {
  uint32_t r[4];
  cpuid(0x15, r);
  return (uint64_t)(r[2] / 1000) * r[1];
}

/* Stops the timer and takes any interrupt it left pending. */
static void timer_quiet(void) {
  mmio_out32(LAPIC + LAPIC_TIMER_INITIAL, 0);
  __asm__ volatile("sti; nop; cli");
  mmio_out32(LAPIC + LAPIC_EOI, 0);
}

/* One run of the mode-switch sequence below; bit n set if its step n held.
 * Each step reads the count right after a change, so a vCPU kept off its
 * CPU for most of a period between two reads (a loaded emulator) can spoil
 * a run without any fault of the timer's: the count may end before the
 * switch it was to outlive. Such a run ends before a HLT that nothing
 * would wake. */
static unsigned mode_switch_run(uint32_t count) {
  unsigned held = 0;
  uint32_t before = interrupts;
  mmio_out32(LAPIC + LAPIC_LVT_TIMER, TEST_VECTOR);
  mmio_out32(LAPIC + LAPIC_TIMER_INITIAL, count);
  while (timer_count() > count - count / 4) {
  }
  uint32_t one_shot = timer_count();
  mmio_out32(LAPIC + LAPIC_LVT_TIMER, LVT_PERIODIC | TEST_VECTOR);
  uint32_t periodic = timer_count();
  if (periodic <= one_shot && periodic != 0) held |= 1;
  if (periodic == 0) {
    timer_quiet();
    return held;
  }
  __asm__ volatile("sti; hlt; cli");
  mmio_out32(LAPIC + LAPIC_EOI, 0);
  /* A periodic count never reads 0: it reloads from the initial count. */
  uint32_t reloaded = timer_count();
  if (interrupts == before + 1 && reloaded != 0) held |= 2;
  mmio_out32(LAPIC + LAPIC_LVT_TIMER, TEST_VECTOR);
  uint32_t after = timer_count();
  if (after <= reloaded && after != 0) held |= 4;
  if (after == 0) {
    timer_quiet();
    return held;
  }
  __asm__ volatile("sti; hlt; cli");
  mmio_out32(LAPIC + LAPIC_EOI, 0);
  if (interrupts == before + 2 && timer_count() == 0) held |= 8;
  timer_quiet();
  return held;
}

/* 11.5.4: rewriting the LVT timer's mode between one-shot and periodic
 * does not restart the count (only TSC-deadline mode disarms it,
 * 11.5.4.1); the new mode decides what happens at 0. Each mode change
 * comes once part of the count is gone, so a count started afresh would
 * read above the one before. A timer that gets it wrong fails every run;
 * up to six runs allow for a vCPU preempted at the wrong moment (three
 * were all spoiled once, on a 2-core host running two test workers and a
 * fuzzing run beside them). Runs after check_apic_timer(): the APIC
 * software-enabled, dividing by 1, interrupts off. */
static void check_timer_mode_switch(void) {
  const uint32_t count = timer_ticks_per_ms() * MODE_SWITCH_MS;
  unsigned held = 0;
  for (int run = 0; run < 6 && held != 15; run++) held = mode_switch_run(count);
  check(held & 1, "lapic: one-shot to periodic, the count goes on");
  check(held & 2, "lapic: at 0 the timer, now periodic, interrupts and reloads");
  check(held & 4, "lapic: periodic to one-shot, the count goes on");
  check(held & 8, "lapic: at 0 the timer, now one-shot, interrupts and stops");
}

/* 11.5.4.1: in TSC-deadline mode (LVT timer bits 18:17 = 10b) the timer
 * interrupts once the TSC reaches IA32_TSC_DEADLINE, which then reads 0;
 * a deadline already passed interrupts at once. */
static void check_tsc_deadline(void) {
  uint32_t r[4];
  cpuid(1, r);
  check((r[2] >> 24) & 1, "lapic: CPUID offers the TSC-deadline timer");
  mmio_out32(LAPIC + LAPIC_LVT_TIMER, LVT_TSC_DEADLINE | TEST_VECTOR);
  uint32_t before = interrupts, faults = gp_faults;
  /* NOP ends STI's interrupt shadow before the WRMSR. */
  __asm__ volatile("sti; nop");
  wrmsr(MSR_TSC_DEADLINE, 1);
  uint32_t taken = interrupts;
  __asm__ volatile("cli");
  mmio_out32(LAPIC + LAPIC_EOI, 0);
  check(taken == before + 1 && gp_faults == faults,
        "lapic: a TSC deadline already passed interrupts right after its WRMSR");
  check(rdmsr(MSR_TSC_DEADLINE) == 0, "lapic: a TSC deadline that fired reads 0");
  uint64_t deadline = rdtsc() + DEADLINE_AHEAD_MS * tsc_ticks_per_ms();
  wrmsr(MSR_TSC_DEADLINE, deadline);
  /* On a loaded host the vCPU may lose its CPU for longer than that in
   * between: then the deadline has fired and reads 0, as it should. */
  uint64_t held = rdmsr(MSR_TSC_DEADLINE);
  check(held == deadline || (held == 0 && rdtsc() >= deadline), "lapic: IA32_TSC_DEADLINE holds a deadline ahead");
  __asm__ volatile("sti; hlt; cli");
  check(interrupts == before + 2 && rdtsc() >= deadline,
        "lapic: a TSC deadline ahead wakes HLT once the TSC reaches it");
  mmio_out32(LAPIC + LAPIC_EOI, 0);
  mmio_out32(LAPIC + LAPIC_LVT_TIMER, LVT_MASKED);
}

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
  check_timer_mode_switch();
  check_tsc_deadline();
}

/* 11.4.5: IA32_APIC_BASE moves the APIC's 4 KiB window to another page;
 * the page it left is no longer the APIC (here nothing is there, and reads
 * return all ones), and the APIC keeps its registers through the moves. */
static void check_apic_base_move(uint64_t base) {
  uint64_t moved = (base & 0xfff) | LAPIC_MOVED;
  uint32_t faults = gp_faults;
  wrmsr(MSR_APIC_BASE, moved);
  check(gp_faults == faults && rdmsr(MSR_APIC_BASE) == moved, "lapic: IA32_APIC_BASE takes another base");
  check((mmio_in32(LAPIC_MOVED + LAPIC_VERSION) & 0xff) == 0x14, "lapic: the APIC answers at its new base");
  mmio_out32(LAPIC_MOVED + LAPIC_TPR, 0x20);
  mmio_out32(LAPIC + LAPIC_TPR, 0x30);
  check(mmio_in32(LAPIC + LAPIC_VERSION) == 0xffffffff && mmio_in32(LAPIC_MOVED + LAPIC_TPR) == 0x20,
        "lapic: the old base is no longer the APIC");
  wrmsr(MSR_APIC_BASE, base);
  check(gp_faults == faults && mmio_in32(LAPIC + LAPIC_TPR) == 0x20
            && mmio_in32(LAPIC_MOVED + LAPIC_VERSION) == 0xffffffff,
        "lapic: moved back, the APIC answers at its old base with its registers");
  mmio_out32(LAPIC + LAPIC_TPR, 0);
}

/* An APIC moved onto RAM hides that page: its accesses go to the APIC,
 * never to memory (11.4.1), and the RAM comes back as it was. */
static void check_apic_over_ram(uint64_t base) {
  mmio_out32(RAM_PAGE + LAPIC_VERSION, 0x5a5a5a5a);
  mmio_out32(RAM_PAGE + LAPIC_TPR, 0xa5a5a5a5);
  wrmsr(MSR_APIC_BASE, (base & 0xfff) | RAM_PAGE);
  mmio_out32(RAM_PAGE + LAPIC_TPR, 0x20);
  check((mmio_in32(RAM_PAGE + LAPIC_VERSION) & 0xff) == 0x14 && mmio_in32(RAM_PAGE + LAPIC_TPR) == 0x20,
        "lapic: moved onto RAM, the APIC hides the page");
  wrmsr(MSR_APIC_BASE, base);
  check(mmio_in32(RAM_PAGE + LAPIC_VERSION) == 0x5a5a5a5a && mmio_in32(RAM_PAGE + LAPIC_TPR) == 0xa5a5a5a5
            && mmio_in32(LAPIC + LAPIC_TPR) == 0x20,
        "lapic: moved off again, the RAM page is back as it was");
  mmio_out32(LAPIC + LAPIC_TPR, 0);
}

/* x2APIC mode (SDM Vol. 3A 11.12): IA32_APIC_BASE.EXTD moves the APIC
 * from the MMIO window to MSRs 0x800-0x8FF; leaving it goes through the
 * disabled state (11.12.5), after which the APIC is as after power-up.
 * The base moves come first: the checks here leave the APIC reset. */
void check_x2apic(void) {
  check_apic_base_move(rdmsr(MSR_APIC_BASE));
  check_apic_over_ram(rdmsr(MSR_APIC_BASE));
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

#ifdef __x86_64__
#define LAPIC_ICR_LOW 0x300
#define ICR_TO_SELF (1u << 18) /* destination shorthand 01b */
#define MOV_CR8_LENGTH 4       /* REX, 0F 22, ModRM */

static unsigned long read_cr8(void) { unsigned long v; __asm__ volatile("mov %%cr8, %0" : "=r"(v)); return v; }
static void write_cr8(unsigned long v) { __asm__ volatile("mov %0, %%cr8" ::"r"(v)); }

/* CR8 is the TPR's priority class, bits 7:4 (11.8.6.5): one register seen
 * two ways, and it masks the interrupts of its class and below. */
void check_task_priority(void) {
  write_cr8(5);
  check(mmio_in32(LAPIC + LAPIC_TPR) == 0x50, "64-bit: CR8 writes the APIC's TPR bits 7:4");
  mmio_out32(LAPIC + LAPIC_TPR, 0x3c);
  check(read_cr8() == 3, "64-bit: CR8 reads the APIC's TPR bits 7:4");

  /* TEST_VECTOR is of class 4: CR8 = 4 holds a self-IPI back, 3 lets it
   * in. The APIC must be software-enabled to accept it (check_x2apic()
   * left it as after power-up). */
  mmio_out32(LAPIC + LAPIC_SVR, mmio_in32(LAPIC + LAPIC_SVR) | 0x100);
  write_cr8(4);
  uint32_t before = interrupts;
  mmio_out32(LAPIC + LAPIC_ICR_LOW, ICR_TO_SELF | TEST_VECTOR);
  __asm__ volatile("sti; nop; nop; cli");
  uint32_t held = interrupts;
  write_cr8(3);
  __asm__ volatile("sti; nop; cli");
  mmio_out32(LAPIC + LAPIC_EOI, 0);
  check(held == before && interrupts == before + 1, "64-bit: CR8 masks the interrupts of its priority class and below");

  uint32_t faults = gp_faults;
  gp_skip = MOV_CR8_LENGTH;
  write_cr8(16);
  gp_skip = 2;
  check(gp_faults == faults + 1 && read_cr8() == 3, "64-bit: CR8 refuses a value above 15 with #GP");
  write_cr8(0);
}

/* The exit fast path replays the vCPU's last MMIO store to its APIC while
 * the instruction at RIP is the same one (vmm/core/storememo.ts). Code
 * rewritten in place must run as what it is now: a MOV to EOI runs twice
 * (the second time replayed), then the same bytes become a longer MOV to
 * TPR, which must set the TPR and return, not end an interrupt and resume
 * in its middle. */
static uint8_t store_stub[16] __attribute__((aligned(16)));

static void run_store_stub(uint32_t value) {
  __asm__ volatile("call *%0" ::"r"(store_stub), "a"(value), "d"(LAPIC + LAPIC_EOI) : "memory");
}

void check_store_memo(void) {
  static const uint8_t to_eoi[] = {0x89, 0x02, 0xc3};       /* mov %eax,(%rdx); ret */
  static const uint8_t to_tpr[] = {0x89, 0x42, 0xd0, 0xc3}; /* mov %eax,-0x30(%rdx); ret */
  for (unsigned i = 0; i < sizeof to_eoi; i++) store_stub[i] = to_eoi[i];
  run_store_stub(0);
  run_store_stub(0);
  for (unsigned i = 0; i < sizeof to_tpr; i++) store_stub[i] = to_tpr[i];
  run_store_stub(0x20);
  check(mmio_in32(LAPIC + LAPIC_TPR) == 0x20, "64-bit: an MMIO store rewritten in place runs as its new self");
  mmio_out32(LAPIC + LAPIC_TPR, 0);
}
#endif
