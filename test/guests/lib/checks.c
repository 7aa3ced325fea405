/*
 * The checks every test guest runs, in whatever mode it was compiled for:
 * what CPUID shows, port I/O round trips, the three MSR policies (pass
 * through, emulated, #GP), instructions the guest is told it lacks, CR2,
 * HLT woken by an injected interrupt and the hypercalls; then those of
 * mmiochecks.c, apicchecks.c and debugchecks.c. Each prints PASS or FAIL
 * with its name; names starting with "64-bit:" are checks only the
 * long-mode guest runs, "32-bit:" only the protected-mode one, "32/64-bit:"
 * all but the real-mode one
 * (test/system/guests.ts).
 */
#include "guest.h"

#define TEST_PORT 0x600
#define TEST_IRQ_PORT 0x604
#define MSR_APIC_BASE 0x1b
#define MSR_SYSENTER_CS 0x174
#define MSR_TSC 0x10
#define MSR_TSC_ADJUST 0x3b
#define MSR_MCG_CAP 0x179
#define MSR_TSC_AUX 0xc0000103
#define MSR_EFER 0xc0000080
#define EFER_LME (1ull << 8)
#define MSR_MCG_STATUS 0x17a
#define MSR_ABSENT 0x4000beef

static int streq4(uint32_t v, const char* s) {
  return v == ((uint32_t)(uint8_t)s[0] | (uint32_t)(uint8_t)s[1] << 8 | (uint32_t)(uint8_t)s[2] << 16 | (uint32_t)(uint8_t)s[3] << 24);
}

static void check_cpuid(void) {
  uint32_t r[4];
  cpuid(1, r);
  check((r[2] >> 31) & 1, "cpuid: hypervisor-present bit is set");
  check(!((r[2] >> 5) & 1), "cpuid: VMX is hidden");
  cpuid(0x80000001, r);
  check(!((r[2] >> 2) & 1), "cpuid: SVM is hidden");
  cpuid(0x40000000, r);
  check(r[0] >= 0x40000001 && streq4(r[1], "Type") && streq4(r[2], "rvis") && streq4(r[3], "orTV"),
        "cpuid: leaf 0x40000000 carries the TypervisorTV signature");
  cpuid(0x40000001, r);
  check(r[0] == 2, "cpuid: interface version 2");
  /* Leaf 0x40000002 counts the VM's exits by kind (ECX; 3 is port I/O) that
   * reach the generic handler, and the count itself is no I/O: an OUTSB to
   * the test device is one more. An OUT to its scratch register is none when
   * the exit fast path finishes it (vmm/core/fastports.ts), one when another
   * CPU held the hypervisor lock (the suite's flood VM, test/system/guests.ts,
   * checks the fast path on one CPU). */
  uint32_t before[4], middle[4], after[4];
  const char byte = 0x5a;
  const void* from = &byte;
  cpuid_subleaf(0x40000002, 3, before);
  outb(TEST_PORT, 0x5a);
  cpuid_subleaf(0x40000002, 3, middle);
  __asm__ volatile("outsb" : "+S"(from) : "d"(TEST_PORT) : "memory");
  cpuid_subleaf(0x40000002, 3, after);
  check(middle[0] - before[0] <= 1 && after[0] == middle[0] + 1 && after[3] == before[3],
        "cpuid: leaf 0x40000002 counts the I/O exits the generic handler takes: an OUTSB as one");
  /* Features that are MSR interfaces the VMM refuses are hidden (vmm/emul/cpuidpolicy.ts). */
  cpuid(1, r);
  check(!(r[2] & 0x4cdd4) && !(r[3] & 0xa0640000), "cpuid: leaf 1 hides debug store, thermal control, SpeedStep and PDCM");
  uint32_t faults = gp_faults;
  check((r[3] & 0x4080) == 0x4080 && rdmsr(MSR_MCG_CAP) == 0 && rdmsr(MSR_MCG_STATUS) == 0 && gp_faults == faults,
        "cpuid: leaf 1 offers MCE and MCA, with no error-reporting banks and no machine check in progress");
  cpuid(6, r);
  check(r[0] == 4 && r[1] == 0 && r[2] == 0 && r[3] == 0, "cpuid: leaf 6 offers only the always-running APIC timer");
  cpuid(7, r);
  check(!(r[1] & 0x2009004) && !(r[3] & 0xfc140000), "cpuid: leaf 7 hides SGX, RDT, PT and the speculation-control MSRs");
}

static void check_ports(void) {
  outl(TEST_PORT, 0x12345678);
  check(inl(TEST_PORT) == 0x12345678, "io: 32-bit round trip");
  outw(TEST_PORT, 0xbeef);
  check(inl(TEST_PORT) == 0x1234beef, "io: 16-bit write merges into the register");
  outb(TEST_PORT + 3, 0xab);
  check(inb(TEST_PORT + 3) == 0xab && inw(TEST_PORT) == 0xbeef, "io: 8-bit access at an offset");
  check(inb(0x1234) == 0xff, "io: an unclaimed port reads as all ones");
  /* The exit fast path finishes this read when the hypervisor lock is free
   * (vmm/core/fastports.ts), the generic handler when not: both merge AX. */
  unsigned long w = ~0ul;
  __asm__ volatile("inw %%dx, %%ax" : "+a"(w) : "d"(TEST_PORT));
  check(w == ((~0ul << 16) | 0xbeef), "io: a 16-bit IN of a device register merges into RAX");
  /* The POST port is quiet: the exit fast path answers it (vmm/core/fastports.ts). */
  unsigned long a = ~0ul;
  __asm__ volatile("outb %%al, $0x80\n\tinb $0x80, %%al" : "+a"(a));
  check(a == (~0ul << 8), "io: the POST port takes writes and reads as zero, AL merged into RAX");
  a = ~0ul;
  __asm__ volatile("inl $0x80, %%eax" : "+a"(a));
  check(a == 0, "io: a 32-bit IN of the POST port clears RAX");
}

/* INS and OUTS (SDM Vol. 2A "INS", Vol. 2B "OUTS"): REP INSW stores the
 * scratch register's low word at ES:rDI three times, REP OUTSB writes each
 * byte to its low byte, and both step their index register and count rCX
 * down to 0, in every mode's address size. */
static void check_string_ports(void) {
  uint16_t words[4] = {0, 0, 0, 0x5555};
  const char bytes[3] = {'a', 'b', 'c'};
  outl(TEST_PORT, 0x1234beef);
  void* to = words;
  unsigned long n = 3;
  __asm__ volatile("rep insw" : "+D"(to), "+c"(n) : "d"(TEST_PORT) : "memory");
  check(n == 0 && to == words + 3 && words[0] == 0xbeef && words[2] == 0xbeef && words[3] == 0x5555,
        "io: REP INSW fills memory from a port");
  const void* from = bytes;
  n = 3;
  __asm__ volatile("rep outsb" : "+S"(from), "+c"(n) : "d"(TEST_PORT) : "memory");
  check(n == 0 && from == bytes + 3 && inl(TEST_PORT) == 0x1234be63, "io: REP OUTSB writes memory to a port");
}

#ifdef __x86_64__
/* A string instruction the VMM carries out faults where the CPU's would
 * (SDM Vol. 3A 4.7): REP INSW into a 2 MiB page that is not present takes
 * #PF with CR2 the address and the error code of a write, RIP still on the
 * instruction; the handler maps the page, and the instruction runs again,
 * to the end. Demand paging, with entry64.S's identity map: the page at
 * 8 MiB is free RAM. */
extern uint64_t pd[];
#define DEMAND_PAGE 0x800000ul
static volatile unsigned long fault_address, fault_error, page_faults;

static void map_on_demand(unsigned long address, unsigned long error) {
  fault_address = address;
  fault_error = error;
  page_faults++;
  pd[address >> 21] |= 1;
  __asm__ volatile("invlpg (%0)" ::"r"(address) : "memory");
}

static void check_string_page_fault(void) {
  volatile uint16_t* words = (volatile uint16_t*)(DEMAND_PAGE + 0x10);
  page_fault_hook = map_on_demand;
  pd[DEMAND_PAGE >> 21] &= ~1ul;
  __asm__ volatile("invlpg (%0)" ::"r"(DEMAND_PAGE) : "memory");
  outl(TEST_PORT, 0x1234beef);
  void* to = (void*)words;
  unsigned long n = 2;
  __asm__ volatile("rep insw" : "+D"(to), "+c"(n) : "d"(TEST_PORT) : "memory");
  check(page_faults == 1 && fault_address == (unsigned long)words && fault_error == 2 && n == 0 && words[1] == 0xbeef,
        "64-bit: REP INSW into a page not present takes #PF, then runs again to the end");
  page_fault_hook = 0;
}
#endif

static void check_msrs(void) {
  uint32_t before = gp_faults;
  wrmsr(MSR_SYSENTER_CS, 0x10);
  check(rdmsr(MSR_SYSENTER_CS) == 0x10 && gp_faults == before, "msr: SYSENTER_CS passes through");
  check((rdmsr(MSR_APIC_BASE) & ~0xfffull) == 0xfee00000 && gp_faults == before, "msr: APIC base is emulated");
  rdmsr(MSR_ABSENT);
  check(gp_faults == before + 1, "msr: reading an absent MSR raises #GP");
  wrmsr(MSR_ABSENT, 1);
  check(gp_faults == before + 2, "msr: writing an absent MSR raises #GP");
}

/* Leaves 0x15/0x16 report the TSC frequency the hypervisor calibrated
 * (the crystal's Hz in ECX times EBX over EAX); the system test compares the
 * printed figure with the hypervisor's own log line. */
static void check_tsc_frequency(void) {
  uint32_t r[4];
  cpuid(0, r);
  check(r[0] >= 0x16, "cpuid: the TSC frequency leaves 0x15 and 0x16 are offered");
  cpuid(0x15, r);
  uint32_t khz = r[2] / 1000 * r[1]; /* EAX is 1 */
  check(r[0] == 1 && r[1] >= 1 && r[2] > 0, "cpuid: leaf 0x15 gives the TSC as a crystal frequency times a ratio");
  cpuid(0x16, r);
  check(r[0] == khz / 1000 && r[1] == khz / 1000, "cpuid: leaf 0x16 gives the same frequency in MHz");
  puts("tsc: ");
  put_hex(khz);
  puts(" kHz\n");
}

/* The vCPU's own TSC (vmm/vcpustate/tsc.ts, SDM Vol. 3B "Time-Stamp Counter
 * Adjustment"): IA32_TSC_ADJUST moves it, a TSC write moves IA32_TSC_ADJUST
 * by as much, and back at 0 the TSC is where it would have been. A wrong
 * offset is off by a multiple of the step; the slack (a minute or more of
 * TSC ticks) is time the vCPU may spend waiting for a loaded host. */
static void check_tsc_adjust(void) {
  const uint64_t step = 1ull << 40, slack = step / 4;
  uint32_t r[4];
  cpuid(7, r);
  check((r[1] >> 1) & 1, "tsc: CPUID offers IA32_TSC_ADJUST");
  uint32_t faults = gp_faults;
  check(rdmsr(MSR_TSC_ADJUST) == 0, "tsc: IA32_TSC_ADJUST starts at 0");
  uint64_t before = rdtsc();
  wrmsr(MSR_TSC_ADJUST, step);
  uint64_t moved = rdtsc();
  check(moved - before >= step && moved - before < step + slack && rdmsr(MSR_TSC_ADJUST) == step,
        "tsc: writing IA32_TSC_ADJUST moves the TSC by as much");
  wrmsr(MSR_TSC, rdtsc() - 3 * step);
  uint64_t adjust = rdmsr(MSR_TSC_ADJUST);
  check(adjust + 2 * step < slack || -(adjust + 2 * step) < slack,
        "tsc: writing the TSC moves IA32_TSC_ADJUST by as much");
  wrmsr(MSR_TSC_ADJUST, 0);
  uint64_t after = rdtsc();
  check(after > before && after - before < slack && gp_faults == faults, "tsc: back at 0, the TSC is the one it started with");
}

/* What CPUID hides raises what the hardware would raise without it. */
static void check_hidden_instructions(void) {
  uint32_t r[4];
  cpuid(1, r);
  check(!((r[2] >> 3) & 1), "cpuid: MONITOR/MWAIT is hidden");
  uint32_t before = ud_faults;
  __asm__ volatile("monitor" ::"a"(0x8000), "c"(0), "d"(0));
  __asm__ volatile("mwait" ::"a"(0), "c"(0));
  check(ud_faults == before + 2, "monitor/mwait: raise #UD");
}

static uint64_t rdpmc(uint32_t counter) {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("rdpmc" : "+a"(lo), "+d"(hi) : "c"(counter));
  return ((uint64_t)hi << 32) | lo;
}

/* AMD's four legacy performance counters exist on every AMD64 processor
 * (APM Vol. 2 13.2.1): a kernel sets them up at boot. They keep what is
 * written (the virtual PMU counts nothing) and RDPMC reads them; a fifth
 * is #GP. Intel's CPUID leaf 0xA says there are no counters, so the AMD
 * MSRs are absent and every RDPMC is #GP. RDPMC is 2 bytes long. */
static void check_performance_counters(void) {
  uint32_t r[4], gp = gp_faults;
  int ok;
  cpuid(0, r);
  if (r[1] == 0x68747541) { /* "Auth" */
    wrmsr(0xc0010000, 0x430076); /* cycles, OS and user, enabled */
    wrmsr(0xc0010004, 12345);
    ok = rdmsr(0xc0010000) == 0x430076 && rdmsr(0xc0010004) == 12345 && rdpmc(0) == 12345 && gp_faults == gp;
    rdpmc(4);
    wrmsr(0xc0010000, 1ull << 50); /* a reserved event-select bit */
    cpuid(0x80000001, r);
    /* PerfCtrExtCore, PerfCtrExtNB, PerfCtrExtLLC: counters not offered. */
    ok = ok && gp_faults == gp + 2 && !(r[2] & ((1u << 23) | (1u << 24) | (1u << 28)));
  } else {
    rdpmc(0);
    rdmsr(0xc0010000);
    ok = gp_faults == gp + 2;
  }
  check(ok, "pmu: the counters the vendor promises (AMD's legacy four, Intel's none) and no others");
}

static unsigned long read_cr2(void) { unsigned long v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static void write_cr2(unsigned long v) { __asm__ volatile("mov %0, %%cr2" ::"r"(v)); }

/* CR2 is each VM's own: one VM's fault address is not another's to read or
 * plant (VT-x leaves CR2 to the hypervisor). Each round writes a value
 * only this guest uses and yields, so that the other VMs run in between. */
static void check_cr2(const char* mode) {
  unsigned long tag = 0x5a5a0000ul + ((unsigned long)(unsigned char)mode[0] << 8);
  int wrong = 0;
  for (unsigned long round = 0; round < 32; round++) {
    write_cr2(tag + round);
    hypercall(HC_YIELD, 0, 0);
    if (read_cr2() != tag + round) wrong++;
  }
  check(wrong == 0, "cr2: the VM's own across yields");
}

/* RDTSCP returns IA32_TSC_AUX in ECX: each VM's own, as CR2 is. (Both
 * emulators' CPUs have RDTSCP, so the hypervisor must offer it.) */
static void check_tsc_aux(const char* mode) {
  uint32_t r[4];
  cpuid(0x80000001, r);
  check((r[3] >> 27) & 1, "cpuid: RDTSCP is offered");
  unsigned long tag = 0x7a000000ul + ((unsigned long)(unsigned char)mode[0] << 8);
  uint32_t faults = gp_faults;
  int wrong = 0;
  for (unsigned long round = 0; round < 8; round++) {
    wrmsr(MSR_TSC_AUX, tag + round);
    hypercall(HC_YIELD, 0, 0);
    uint32_t lo, hi, aux;
    __asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
    if (aux != tag + round || rdmsr(MSR_TSC_AUX) != tag + round) wrong++;
  }
  check(wrong == 0 && gp_faults == faults, "rdtscp: IA32_TSC_AUX is the VM's own across yields");
}

/* Protection keys, where the CPU has them: CPUID's OSPKE follows CR4.PKE,
 * leaf 0xD offers XCR0's PKRU component, and PKRU (set by WRPKRU, which
 * needs CR4.PKE, at any privilege level) is each VM's own across yields.
 * Key 0, which this guest's pages carry, keeps all rights. */
static int pkru_is_own(const char* mode) {
  uint32_t r[4], wrong = 0;
  unsigned long cr4;
  cpuid_subleaf(0xd, 0, r);
  int component = (r[0] >> 9) & 1;
  cpuid(7, r);
  int before = (r[2] >> 4) & 1;
  __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
  __asm__ volatile("mov %0, %%cr4" ::"r"(cr4 | (1ul << 22)));
  cpuid(7, r);
  int after = (r[2] >> 4) & 1;
  uint32_t tag = 0xa8000000u | ((uint32_t)(uint8_t)mode[0] << 8);
  for (uint32_t round = 0; round < 8; round++) {
    __asm__ volatile("wrpkru" ::"a"(tag + (round << 16)), "c"(0), "d"(0));
    hypercall(HC_YIELD, 0, 0);
    uint32_t pkru, edx;
    __asm__ volatile("rdpkru" : "=a"(pkru), "=d"(edx) : "c"(0));
    if (pkru != tag + (round << 16)) wrong++;
  }
  __asm__ volatile("wrpkru" ::"a"(0), "c"(0), "d"(0));
  __asm__ volatile("mov %0, %%cr4" ::"r"(cr4));
  return component && !before && after && wrong == 0;
}

static void check_pkru(const char* mode) {
  uint32_t r[4];
  int ok = 0;
  cpuid(7, r);
  if (!((r[2] >> 3) & 1)) skip_next_check("the CPU has no protection keys");
  else ok = pkru_is_own(mode);
  check(ok, "pkru: protection keys with OSPKE following CR4.PKE, PKRU the VM's own across yields");
}

#ifndef __x86_64__
/* PAE paging turned on by a MOV to CR0 loads the four PDPTEs from CR3, and
 * one that is present with a reserved bit set makes the MOV raise #GP with
 * paging still off (SDM Vol. 3A 4.4.1). Intel's rule: AMD's CPUs check a
 * PDPTE when a translation uses it (a #PF), as QEMU does. */
static uint64_t pdpt[4] __attribute__((aligned(32)));

static int pae_paging_faults(void) {
  unsigned long cr0, cr3, cr4, now;
  __asm__ volatile("mov %%cr0, %0\n\tmov %%cr3, %1\n\tmov %%cr4, %2" : "=r"(cr0), "=r"(cr3), "=r"(cr4));
  pdpt[0] = 1 | (1u << 5); /* present, and bit 5, reserved in a PDPTE */
  __asm__ volatile("mov %0, %%cr3\n\tmov %1, %%cr4" ::"r"((uintptr_t)pdpt), "r"(cr4 | (1ul << 5)) : "memory");
  uint32_t before = gp_faults;
  gp_skip = 3; /* mov %eax, %cr0 */
  __asm__ volatile("mov %0, %%cr0" ::"a"(cr0 | (1ul << 31)) : "memory");
  gp_skip = 2;
  __asm__ volatile("mov %%cr0, %0" : "=r"(now));
  __asm__ volatile("mov %0, %%cr4\n\tmov %1, %%cr3" ::"r"(cr4), "r"(cr3) : "memory");
  return gp_faults == before + 1 && !(now >> 31);
}

static void check_pae_pdptes(void) {
  uint32_t r[4];
  int ok = 0;
  cpuid(0, r);
  if (r[1] != 0x756e6547) skip_next_check("AMD checks a PDPTE only when a translation uses it"); /* "Genu" */
  else ok = pae_paging_faults();
  check(ok, "32-bit: a reserved bit in a PDPTE makes enabling PAE paging #GP");
}
#endif

#ifdef __x86_64__
/* EFER.LME cannot change while paging is on (SDM Vol. 3A 10.8.5, APM Vol.
 * 2 3.1.7): the WRMSR raises #GP and EFER stays as it was. */
static void check_efer_lme(void) {
  uint64_t efer = rdmsr(MSR_EFER);
  uint32_t faults = gp_faults;
  wrmsr(MSR_EFER, efer & ~EFER_LME);
  check(gp_faults == faults + 1 && rdmsr(MSR_EFER) == efer, "64-bit: clearing EFER.LME while paging raises #GP");
}

/* Top of a stack in a 2 MiB chunk of RAM no other check touches: the VMM
 * makes a chunk ready when the guest first touches it, through a nested
 * page fault (vmm/core/guestmemory.ts). */
#define FRESH_STACK 0xd00000ul

/* An INT n whose delivery the VMM interrupts runs its handler once: its
 * first push meets RAM not yet ready, a nested page fault in the middle
 * of the delivery. The instruction did not complete, so the guest must not
 * find it done twice after the VMM resumes it (APM Vol. 2 15.7.2). With
 * interrupts off, only the INT reaches the handler that counts them. */
static void check_soft_interrupt_on_fresh_stack(void) {
  unsigned long flags, saved;
  __asm__ volatile("pushf\n pop %0\n cli" : "=r"(flags)::"memory");
  uint32_t before = interrupts;
  __asm__ volatile("mov %%rsp, %0\n mov %1, %%rsp\n int $0x40\n mov %0, %%rsp" : "=&r"(saved) : "r"(FRESH_STACK) : "memory");
  uint32_t after = interrupts;
  __asm__ volatile("push %0\n popf" ::"r"(flags) : "memory", "cc");
  check(after == before + 1, "64-bit: an INT n delivered onto a stack the VMM makes ready runs its handler once");
}

unsigned long user_hypercall(unsigned long fn, int intel); /* entry64.S */

/* A user program cannot call the hypervisor: at CPL 3 the hypercall
 * instruction raises #UD, as it would outside a VM, and does nothing. */
static void check_user_hypercall(void) {
  uint32_t r[4], before = ud_faults;
  cpuid(0, r);
  unsigned long rax = user_hypercall(HC_YIELD, r[1] == 0x756e6547); /* "Genu" */
  check(ud_faults == before + 1 && rax == HC_YIELD, "64-bit: a hypercall from user mode raises #UD");
  check(hypercall(HC_YIELD, 0, 0) == 0 && hypercall(HC_YIELD | 1ul << 32, 0, 0) == ~0ul,
        "64-bit: a yield returns 0; the call's number is all 64 bits of RAX");
}
#endif

/* XCR0 through XSETBV: the hypervisor validates it and keeps it per VM. */
static void check_xsetbv(void) {
  uint32_t r[4];
  unsigned long cr4;
  cpuid(1, r);
  check((r[2] >> 26) & 1, "cpuid: XSAVE is offered");
  check(!((r[2] >> 27) & 1), "cpuid: OSXSAVE is clear while CR4.OSXSAVE is");
  __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
  __asm__ volatile("mov %0, %%cr4" ::"r"(cr4 | (1ul << 18)));
  cpuid(1, r);
  check((r[2] >> 27) & 1, "cpuid: OSXSAVE follows CR4.OSXSAVE");
  xsetbv(0, 3);
  check(xgetbv(0) == 3, "xsetbv: XCR0 = x87|SSE takes effect");
  uint32_t before = gp_faults;
  gp_skip = 3;
  xsetbv(0, 2);
  check(gp_faults == before + 1, "xsetbv: XCR0 without x87 raises #GP");
  uint64_t now = xgetbv(0);
  check(now == 3, "xsetbv: a refused XCR0 leaves the old one");
  if (now != 3) { puts("xcr0 is "); put_hex(now); puts("\n"); }
  gp_skip = 2;
  cpuid(0xd, r);
  if (r[0] & 4) {
    xsetbv(0, 7);
    check(xgetbv(0) == 7, "xsetbv: AVX state can be enabled");
  }
}

static void check_halt_wakeup(void) {
  uint32_t before = interrupts;
  __asm__ volatile("cli");
  outb(TEST_IRQ_PORT, TEST_VECTOR);
  /* STI's interrupt shadow covers HLT: the interrupt arrives in the halt. */
  __asm__ volatile("sti; hlt; cli");
  check(interrupts == before + 1, "hlt: woken by an injected interrupt");
}

/* An instruction the VMM completes ends STI's interrupt shadow like any
 * other: an interrupt pending at STI arrives right after the one
 * instruction the shadow covers (SDM Vol. 2B "STI"), here a CPUID and an
 * OUT to the POST port, both finished on the exit fast path. Bochs (VT-x)
 * keeps the shadow across such an exit and catches a VMM that forgets to
 * end it; QEMU's AMD-V does not report it there. */
static void check_interrupt_shadow(void) {
  uint32_t before = interrupts, seen, a = 0, b, c = 0, d;
  __asm__ volatile("cli");
  outb(TEST_IRQ_PORT, TEST_VECTOR);
  __asm__ volatile("sti\n\tcpuid\n\tmovl %5, %0\n\tcli"
                   : "=S"(seen), "+a"(a), "=b"(b), "+c"(c), "=d"(d)
                   : "m"(interrupts) : "memory");
  check(seen == before + 1, "interrupts: the one after STI; CPUID arrives before the next instruction");
  before = interrupts;
  outb(TEST_IRQ_PORT, TEST_VECTOR);
  __asm__ volatile("sti\n\toutb %%al, $0x80\n\tmovl %1, %0\n\tcli" : "=S"(seen) : "m"(interrupts), "a"(a) : "memory");
  check(seen == before + 1, "interrupts: the one after STI; OUT arrives before the next instruction");
}

static void check_hypercalls(void) {
  check(hypercall(HC_YIELD, 0, 0) == 0, "hypercall: yield returns 0");
  check(hypercall(0x7777, 0, 0) == (unsigned long)-1, "hypercall: unknown function returns -1");
  check(hypercall(HC_CONSOLE_WRITE, 0x8000, 1ul << 20) == (unsigned long)-2, "hypercall: oversized console write returns -2");
}

int run_checks(const char* mode) {
  puts("guest running in ");
  puts(mode);
  puts("\n");
  check_cpuid();
  check_tsc_frequency();
  check_tsc_adjust();
  check_ports();
  check_string_ports();
  check_msrs();
  check_xsetbv();
  check_hidden_instructions();
  check_performance_counters();
  check_debug_registers(mode);
  check_single_step();
  check_breakpoints();
  check_fault_rf(mode);
  check_cr2(mode);
  check_tsc_aux(mode);
  check_pkru(mode);
#ifndef __x86_64__
  if (MODE[0] == '3') check_pae_pdptes();
#endif
#ifdef __x86_64__
  check_string_page_fault();
  check_soft_interrupt_on_fresh_stack();
  check_user_hypercall();
  check_efer_lme();
#endif
  check_halt_wakeup();
  check_interrupt_shadow();
  check_hypercalls();
  check_mmio();
  check_mmio_read_modify_write();
  check_mmio_strings();
  check_apic_timer();
  check_x2apic();
  check_nmis();
#ifdef __x86_64__
  check_task_priority();
  check_store_memo();
#endif
  return failures();
}
