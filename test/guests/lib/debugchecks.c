/*
 * The debug registers and single-step, as the guest sees them: DR0-DR3 and
 * DR7 are each VM's own; data and I/O breakpoints and general detect raise
 * their #DB (Intel SDM Vol. 3B 18.2, 18.3); and single-step and RF hold
 * across instructions the VMM completes for the guest. With RFLAGS.TF set, a CPU takes a #DB trap after each instruction, DR6.BS
 * set (Intel SDM Vol. 3B 18.3.1.4); an instruction the VMM finished in the
 * guest's place (CPUID, IN, an MMIO load, RDMSR) must trap right after it
 * too, not one instruction later. And a fault pushes RFLAGS with RF set
 * (18.3.1.1), so the faulting instruction's breakpoint does not fire again
 * when the handler returns to it; the VMM's injected faults must do the
 * same. Part of the checks every suite guest runs (checks.c).
 */
#include "guest.h"

#define DEBUG_REGISTER_ACCESS(n)                                         \
  static unsigned long read_dr##n(void) { unsigned long v; __asm__ volatile("mov %%dr" #n ", %0" : "=r"(v)); return v; } \
  static void write_dr##n(unsigned long v) { __asm__ volatile("mov %0, %%dr" #n ::"r"(v)); }
DEBUG_REGISTER_ACCESS(0)
DEBUG_REGISTER_ACCESS(1)
DEBUG_REGISTER_ACCESS(2)
DEBUG_REGISTER_ACCESS(3)
DEBUG_REGISTER_ACCESS(7)

/* Debug registers are each VM's own: values set before a yield (the other
 * VMs run, with breakpoints of their own) are still there after it. The
 * addresses differ per guest and no guest executes them (the BIOS area:
 * QEMU 7.2 leaves one guest's execution breakpoint in force while the
 * others run, ../shared/notes/platforms.md), so the enabled execution
 * breakpoint never fires. */
void check_debug_registers(const char* mode) {
  unsigned long tag = (unsigned char)mode[0];
  write_dr0(0xf0000 + tag);
  write_dr1(0x20000 + tag);
  write_dr2(0x30000 + tag);
  write_dr3(0x40000 + tag);
  write_dr7(0x401); /* L0: execution breakpoint at DR0 */
  hypercall(HC_YIELD, 0, 0);
  check(read_dr0() == 0xf0000 + tag && read_dr1() == 0x20000 + tag && read_dr2() == 0x30000 + tag && read_dr3() == 0x40000 + tag,
        "debug: DR0-DR3 are the VM's own across a yield");
  check((read_dr7() & 0xff) == 0x01, "debug: DR7 is the VM's own across a yield");
  write_dr7(0x400);
}

#define TEST_PORT 0x600
#define POST_PORT 0x80
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
  __asm__ volatile(SET_TF "outb %%al, $0x80\nstepped_%=:\n\t" AFTER("%0") : "=r"(label) : "a"(0) : "memory");
  check(trapped_at(before, label), "debug: single-step traps right after an OUT to the POST port");

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

#define DR7_RESERVED 0x400ul
#define DR7_GD (1ul << 13)
#define DR6_BD (1u << 13)
#define CR4_DE (1ul << 3)
/* DR7 for breakpoint n: enabled locally, R/W and LEN (18.2.4). */
#define DR7_BREAKPOINT(n, rw, len) ((1ul << (2 * (n))) | ((unsigned long)(rw) << (16 + 4 * (n))) | ((unsigned long)(len) << (18 + 4 * (n))))
#define RW_WRITE 1
#define RW_IO 2
#define LEN_1 0
#define LEN_4 3

static unsigned long read_cr4(void) { unsigned long v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static void write_cr4(unsigned long v) { __asm__ volatile("mov %0, %%cr4" ::"r"(v)); }

static volatile uint32_t watched;

/* A data breakpoint on RAM (the CPU's own business), an I/O breakpoint on
 * a port (the VMM's: every IN exits), and general detect: DR7.GD makes the
 * next MOV DR fault with DR6.BD, and the #DB clears GD (18.2.4). */
void check_breakpoints(void) {
  unsigned long label, a = 0;
  uint32_t before = db_traps;
  write_dr1((uintptr_t)&watched);
  write_dr7(DR7_RESERVED | DR7_BREAKPOINT(1, RW_WRITE, LEN_4));
  __asm__ volatile("movl $1, (%1)\nstepped_%=:\n\t" AFTER("%0") : "=r"(label) : "r"(&watched) : "memory");
  write_dr7(DR7_RESERVED);
  check(db_traps == before + 1 && db_return == label && (db_dr6 & 2), "debug: a data breakpoint traps right after the write");

  unsigned long cr4 = read_cr4();
  write_cr4(cr4 | CR4_DE);
  write_dr0(TEST_PORT);
  write_dr7(DR7_RESERVED | DR7_BREAKPOINT(0, RW_IO, LEN_4));
  before = db_traps;
  __asm__ volatile("inl %%dx, %%eax\nstepped_%=:\n\t" AFTER("%0") : "=r"(label), "=a"(a) : "d"(TEST_PORT) : "memory");
  write_dr7(DR7_RESERVED);
  write_cr4(cr4);
  check(db_traps == before + 1 && db_return == label && (db_dr6 & 1), "debug: an I/O breakpoint traps right after IN");

  write_cr4(cr4 | CR4_DE);
  write_dr2(POST_PORT);
  write_dr7(DR7_RESERVED | DR7_BREAKPOINT(2, RW_IO, LEN_1));
  before = db_traps;
  __asm__ volatile("outb %%al, $0x80\nstepped_%=:\n\t" AFTER("%0") : "=r"(label) : "a"(0) : "memory");
  write_dr7(DR7_RESERVED);
  write_cr4(cr4);
  check(db_traps == before + 1 && db_return == label && (db_dr6 & 4), "debug: an I/O breakpoint on the POST port traps right after OUT");

  before = db_traps;
  write_dr7(DR7_RESERVED | DR7_GD);
  __asm__ volatile(AFTER("%0") "\nstepped_%=:\n\tmov %%dr0, %1" : "=&r"(label), "=r"(a) :: "memory");
  /* No #DB, and DR7 still says GD: the CPU itself ignores it. (Reading
   * DR7 would fault if it did not.) */
  if (db_traps == before) {
    write_dr7(DR7_RESERVED);
    skip_next_check("the CPU ignores DR7.GD");
  }
  check(db_traps == before + 1 && db_return == label && (db_dr6 & DR6_BD) && !(read_dr7() & DR7_GD),
        "debug: general detect faults on MOV DR and clears DR7.GD");
}
