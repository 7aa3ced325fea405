/*
 * The multiboot test kernel's stress run (stress=N on its command line):
 * what a kernel does at boot and at work, many times over. It sets up its
 * PMU as Linux's perf does at boot: on AMD the four legacy counters, on
 * Intel those CPUID leaf 0xA reports (SDM Vol. 3B 21.2.1). It sends itself
 * NMIs through its local APIC, by its APIC ID and by the self shorthand
 * (SDM Vol. 3A 11.6.1), each to be taken at once. It prints N characters
 * through the polled UART, in numbered lines of 100 with the newline whose
 * contents the system test checks, and runs CPUID N times, reporting the
 * TSC ticks each took. A #GP on the way (a PMU register the VM refuses) is
 * reported as a failure and ends the run with status 1, not in a triple
 * fault.
 */
#include "kernels/kernel.h"

#define NMI_VECTOR 2
#define GP_VECTOR 13
#define DEBUG_EXIT 0xf4
#define AMD_PERF_EVT_SEL0 0xc0010000u
#define AMD_PERF_CTR0 0xc0010004u
#define AMD_LEGACY_COUNTERS 4
#define IA32_PERFEVTSEL0 0x186u
#define IA32_PMC0 0xc1u
#define IA32_PERF_GLOBAL_CTRL 0x38fu
/* Event select bits (APM Vol. 2 13.2.1, SDM Vol. 3B 21.2.1.1): count in
 * ring 3 (USR) and rings 0-2 (OS), enabled (EN); the events count core
 * cycles, AMD's 0x76 and Intel's architectural 0x3c. */
#define EVENT_USR (1u << 16)
#define EVENT_OS (1u << 17)
#define EVENT_EN (1u << 22)
#define AMD_CYCLES 0x76u
#define INTEL_CYCLES 0x3cu
#define ICR_NMI 0x400u
#define ICR_ASSERT 0x4000u
#define ICR_SELF (1u << 18) /* destination shorthand 01b */
#define NMIS 1000
#define LINE 100 /* characters a line, its newline included */

__attribute__((interrupt)) static void nmi_handler(struct interrupt_frame* frame) { nmis++; }

/* It never returns to the handler, which may therefore call it with the
 * caller-saved registers unsaved. */
__attribute__((no_caller_saved_registers, noreturn)) static void report_gp(uint32_t error_code, uint32_t eip) {
  puts("FAIL stress: #GP, error code ");
  put_hex(error_code);
  puts(", at EIP ");
  put_hex(eip);
  puts("\n");
  outl(DEBUG_EXIT, 1);
  for (;;) __asm__ volatile("cli; hlt");
}

__attribute__((interrupt)) static void gp_handler(struct interrupt_frame* frame, uint32_t error_code) {
  report_gp(error_code, frame->eip);
}

/* One counter as Linux's check_hw_exists() and perf's first event treat
 * it: its event select cleared, the counter written and read back, the
 * event programmed and enabled, then all cleared again. */
static int program_counter(uint32_t select, uint32_t counter, uint32_t event) {
  uint32_t enabled = event | EVENT_USR | EVENT_OS | EVENT_EN;
  wrmsr(select, 0);
  int ok = rdmsr(select) == 0;
  wrmsr(counter, 0xabcd);
  ok &= rdmsr(counter) == 0xabcd;
  wrmsr(select, enabled);
  ok &= rdmsr(select) == enabled;
  wrmsr(select, 0);
  wrmsr(counter, 0);
  return ok;
}

static void init_pmu(void) {
  uint32_t r[4];
  cpuid(0, r);
  int ok = 1;
  if (r[1] == 0x68747541 && r[3] == 0x69746e65 && r[2] == 0x444d4163) { /* "AuthenticAMD" */
    puts("pmu: AMD, the four legacy counters\n");
    for (uint32_t i = 0; i < AMD_LEGACY_COUNTERS; i++)
      ok &= program_counter(AMD_PERF_EVT_SEL0 + i, AMD_PERF_CTR0 + i, AMD_CYCLES);
  } else {
    /* Leaf 0xA: EAX[7:0] the version, EAX[15:8] the general-purpose counters. */
    uint32_t version = 0, counters = 0;
    if (r[0] >= 0xa) {
      cpuid(0xa, r);
      version = r[0] & 0xff;
      counters = version ? (r[0] >> 8) & 0xff : 0;
    }
    puts("pmu: CPUID leaf 0xA: version "); put_dec(version); puts(", "); put_dec(counters); puts(" counters\n");
    for (uint32_t i = 0; i < counters; i++) ok &= program_counter(IA32_PERFEVTSEL0 + i, IA32_PMC0 + i, INTEL_CYCLES);
    if (version >= 2) {
      uint64_t all = (1ull << counters) - 1;
      wrmsr(IA32_PERF_GLOBAL_CTRL, all);
      ok &= rdmsr(IA32_PERF_GLOBAL_CTRL) == all;
      wrmsr(IA32_PERF_GLOBAL_CTRL, 0);
    }
  }
  check(ok, "pmu: the counters CPUID reports take what is written and read it back, without a #GP");
}

/* NMIs to this CPU, alternately by its APIC ID and by the self shorthand
 * (which ignores the destination); each must be taken before the
 * instruction after the ICR write. */
static void check_self_nmis(void) {
  uint32_t self = lapic_id(), before = nmis, late = 0;
  for (uint32_t i = 0; i < NMIS; i++) {
    send_ipi(self, ICR_NMI | ICR_ASSERT | (i & 1 ? ICR_SELF : 0));
    late += nmis != before + i + 1;
  }
  uint32_t taken = nmis - before;
  puts("stress: "); put_dec(NMIS); puts(" NMIs sent to this CPU, "); put_dec(taken); puts(" taken, ");
  put_dec(late); puts(" of them late\n");
  check(taken == NMIS && late == 0,
        "nmi: every NMI sent to the CPU's own APIC, by its ID and by the self shorthand, is taken at once");
}

/* n / LINE lines: "uart NNNNNN " (the line's number), then letters
 * rotating with it, 'A' + (number + column) % 26, to the newline. */
static void print_lines(uint32_t n) {
  char line[LINE + 1];
  for (uint32_t k = 0; k < n / LINE; k++) {
    line[0] = 'u', line[1] = 'a', line[2] = 'r', line[3] = 't', line[4] = ' ', line[11] = ' ';
    for (uint32_t i = 10, v = k; i >= 5; i--, v /= 10) line[i] = (char)('0' + v % 10);
    for (uint32_t i = 12; i < LINE - 1; i++) line[i] = (char)('A' + (k + i) % 26);
    line[LINE - 1] = '\n';
    line[LINE] = 0;
    puts(line);
  }
  puts("stress: "); put_dec(n / LINE * LINE); puts(" characters printed through COM1\n");
}

/* `ticks` / `n` with DIV of EDX:EAX (no 64-bit division without libgcc):
 * the quotient fits in 32 bits while a CPUID takes under 2^32 ticks. */
static uint32_t per(uint64_t ticks, uint32_t n) {
  uint32_t q, r;
  __asm__("divl %4" : "=a"(q), "=d"(r) : "a"((uint32_t)ticks), "d"((uint32_t)(ticks >> 32)), "rm"(n));
  return q;
}

static void time_cpuid(uint32_t n) {
  uint32_t r[4];
  uint64_t start = rdtsc();
  for (uint32_t i = 0; i < n; i++) cpuid(0, r);
  uint64_t ticks = rdtsc() - start;
  puts("stress: "); put_dec(n); puts(" CPUIDs, "); put_dec(per(ticks, n)); puts(" TSC ticks each\n");
}

void stress(uint32_t n) {
  set_interrupt_gate(NMI_VECTOR, (uintptr_t)nmi_handler);
  set_interrupt_gate(GP_VECTOR, (uintptr_t)gp_handler);
  load_idt();
  enable_lapic();
  init_pmu();
  check_self_nmis();
  if (n == 0) return;
  print_lines(n);
  time_cpuid(n);
}
