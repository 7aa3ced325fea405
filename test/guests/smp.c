/*
 * SMP guest (protected mode, run with cpus=2): the boot vCPU starts the
 * other one the way a PC's firmware and operating system do (SDM Vol. 3A
 * 9.4.4, "MP Initialization Example"): an INIT IPI, then a STARTUP IPI
 * whose vector says where the application processor begins in real mode,
 * both sent through the local APIC's interrupt command register. The AP
 * code below records what it sees and halts; the checks read it. Then the
 * boot vCPU sends the halted AP an NMI, moves its APIC's window into its
 * RAM and back (IA32_APIC_BASE), and last the AP sends an INIT to itself,
 * which must stop it.
 */
#include "lib/guest.h"

#define LAPIC 0xfee00000u
#define LAPIC_ID 0x020
#define LAPIC_VERSION 0x030
#define LAPIC_SVR 0x0f0
#define LAPIC_ICR_LOW 0x300
#define LAPIC_ICR_HIGH 0x310
#define ICR_INIT 0x00000500u
#define ICR_STARTUP 0x00000600u
#define ICR_NMI 0x00000400u
#define ICR_LEVEL_ASSERT 0x00004000u
#define ICR_DELIVERY_PENDING 0x00001000u
#define IA32_APIC_BASE 0x1b
#define APIC_BASE_BSP (1u << 8)
#define APIC_BASE_ENABLE (1u << 11)
#define MOVED_APIC 0x00400000u /* a page of the VM's RAM */

#define AP_VECTOR 0x10           /* the AP starts at 0x10000 */
#define AP_START (AP_VECTOR << 12)
/* What the AP leaves for the checks, below the image (real-mode addresses). */
#define AP_RUNS ((volatile uint32_t*)0x7e00)
#define AP_APIC_ID ((volatile uint32_t*)0x7e04)
#define AP_CS ((volatile uint32_t*)0x7e08)
#define AP_SPINS ((volatile uint32_t*)0x7e0c)
#define AP_SELF_INIT ((volatile uint32_t*)0x7e10)
#define AP_NMIS ((volatile uint32_t*)0x7e14)
#define IVT_NMI ((volatile uint32_t*)(2 * 4)) /* offset, segment */
#define SELF_INIT_VECTOR 0x11    /* ap_self_init starts at 0x11000 */

/* The AP's code, copied to AP_START: real mode, CS = AP_VECTOR << 8, IP = 0.
 * It counts its starts, stores its CPUID APIC ID and CS, and halts with
 * interrupts disabled. Its NMI handler, ap_nmi, counts NMIs. */
extern const char ap_code[], ap_nmi[], ap_code_end[];
__asm__(
    ".pushsection .rodata\n"
    ".code16\n"
    "ap_code:\n"
    "  xor %ax, %ax\n"
    "  mov %ax, %ds\n"
    "  incl 0x7e00\n"
    "  mov %cs, %ax\n"
    "  movzwl %ax, %eax\n"
    "  mov %eax, 0x7e08\n"
    "  mov $1, %eax\n"
    "  cpuid\n"
    "  shr $24, %ebx\n"
    "  mov %ebx, 0x7e04\n"
    "1: cli\n"
    "  hlt\n"
    "  jmp 1b\n"
    "ap_nmi:\n"
    "  push %ds\n"
    "  push %ax\n"
    "  xor %ax, %ax\n"
    "  mov %ax, %ds\n"
    "  incl 0x7e14\n"
    "  pop %ax\n"
    "  pop %ds\n"
    "  iret\n"
    "ap_code_end:\n"
    ".code32\n"
    ".popsection\n");

/* Copied to SELF_INIT_VECTOR << 12: the AP turns on x2APIC mode (from real
 * mode: an MSR write needs no address) and sends an INIT to its own x2APIC
 * ID through the ICR MSR (SDM Vol. 3A 11.12.9); if it still runs after
 * that, it counts in AP_SPINS. */
extern const char ap_self_init[], ap_self_init_end[];
__asm__(
    ".pushsection .rodata\n"
    ".code16\n"
    "ap_self_init:\n"
    "  xor %ax, %ax\n"
    "  mov %ax, %ds\n"
    "  movl $1, 0x7e10\n"
    "  mov $0x1b, %ecx\n"
    "  rdmsr\n"
    "  or $0xc00, %eax\n"        /* IA32_APIC_BASE: enabled, x2APIC */
    "  wrmsr\n"
    "  mov $0x830, %ecx\n"       /* the x2APIC ICR: destination in EDX */
    "  mov $0x4500, %eax\n"      /* INIT, level assert */
    "  mov $1, %edx\n"
    "  wrmsr\n"
    "1: incl 0x7e0c\n"
    "  jmp 1b\n"
    "ap_self_init_end:\n"
    ".code32\n"
    ".popsection\n");

static uint32_t lapic_read(uint32_t reg) { return mmio_in32(LAPIC + reg); }
static void lapic_write(uint32_t reg, uint32_t v) { mmio_out32(LAPIC + reg, v); }

static void send_ipi(uint32_t apic_id, uint32_t command) {
  lapic_write(LAPIC_ICR_HIGH, apic_id << 24);
  lapic_write(LAPIC_ICR_LOW, command);
}

/* Lets the AP run until it has started `runs` times: it may share this
 * vCPU's host CPU (each yield gives it a turn) or run on another one, which
 * may take a while to get there on a loaded host. */
#define AP_WAIT_YIELDS 200000
static int wait_for_ap(uint32_t runs) {
  for (int i = 0; i < AP_WAIT_YIELDS && *AP_RUNS < runs; i++) hypercall(HC_YIELD, 0, 0);
  return *AP_RUNS == runs;
}

/* IA32_APIC_BASE moves the APIC's 4 KiB window (SDM Vol. 3A 11.4.4): into
 * RAM, where this vCPU then finds its APIC instead of the memory, which
 * is untouched and back once the window leaves. */
static void check_apic_move(void) {
  volatile uint32_t* under = (volatile uint32_t*)(MOVED_APIC + LAPIC_VERSION);
  *under = 0x5a5a5a5a;
  wrmsr(IA32_APIC_BASE, MOVED_APIC | APIC_BASE_ENABLE | APIC_BASE_BSP);
  check((mmio_in32(MOVED_APIC + LAPIC_VERSION) & 0xff) == 0x14 && mmio_in32(MOVED_APIC + LAPIC_ID) >> 24 == 0,
        "smp: IA32_APIC_BASE moves the APIC's window, into RAM too");
  wrmsr(IA32_APIC_BASE, LAPIC | APIC_BASE_ENABLE | APIC_BASE_BSP);
  check(*under == 0x5a5a5a5a, "smp: the RAM under the moved window is untouched and back once it leaves");
  check((lapic_read(LAPIC_VERSION) & 0xff) == 0x14, "smp: the APIC is back at 0xfee00000");
}

/* Each vCPU is a package of its own, one core of one thread
 * (vmm/emul/cpuidpolicy.ts), so the packages an OS counts are the vCPUs the VM
 * has, whatever the host's topology. Leaves the host lacks read as zero. */
static void check_topology(void) {
  uint32_t r[4];
  cpuid(1, r);
  check(!((r[3] >> 28) & 1) && ((r[1] >> 16) & 0xff) == 1, "smp: CPUID leaf 1: no HTT, one logical processor per package");
  cpuid(0, r);
  uint32_t basic = r[0];
  cpuid(4, r);
  check(basic < 4 || r[0] >> 14 == 0, "smp: CPUID leaf 4: one core per package, no cache shared");
  if (basic >= 0xb) {
    uint32_t smt[4], core[4], end[4];
    cpuid_subleaf(0xb, 0, smt);
    cpuid_subleaf(0xb, 1, core);
    cpuid_subleaf(0xb, 2, end);
    check(smt[0] == 0 && smt[1] == 1 && smt[2] == 0x100 && core[0] == 0 && core[1] == 1 && core[2] == 0x201 && end[1] == 0 && end[2] == 2,
          "smp: CPUID leaf 0xB: one thread, one core, nothing shifted off the x2APIC ID");
    check(smt[3] == 0 && end[3] == 0, "smp: CPUID leaf 0xB: the boot vCPU's x2APIC ID is 0");
  }
  cpuid(0x80000000, r);
  uint32_t extended = r[0];
  cpuid(0x80000008, r);
  check(extended < 0x80000008 || (r[2] & 0xf0ff) == 0, "smp: CPUID 0x80000008: one core per package");
}

/* An NMI IPI to the AP, halted with IF=0: an NMI ends HLT whatever IF
 * says (SDM Vol. 2A "HLT"), and the AP's handler takes it through its
 * real-mode IVT. */
static void check_nmi_ipi(void) {
  *IVT_NMI = (AP_VECTOR << 8) << 16 | (uint32_t)(ap_nmi - ap_code);
  *AP_NMIS = 0;
  send_ipi(1, ICR_NMI | ICR_LEVEL_ASSERT);
  for (int i = 0; i < AP_WAIT_YIELDS && *AP_NMIS == 0; i++) hypercall(HC_YIELD, 0, 0);
  check(*AP_NMIS == 1 && *AP_RUNS == 1, "smp: an NMI IPI wakes the AP, halted with IF=0, and it takes the NMI");
}

/* An INIT a CPU sends to itself puts it in wait-for-SIPI like any other
 * (SDM Vol. 3A 9.4.4); a later STARTUP starts it again. */
static void check_self_init(void) {
  for (const char* p = ap_self_init; p < ap_self_init_end; p++) {
    *(volatile char*)((SELF_INIT_VECTOR << 12) + (p - ap_self_init)) = *p;
  }
  *AP_SPINS = 0;
  *AP_SELF_INIT = 0;
  send_ipi(1, ICR_INIT | ICR_LEVEL_ASSERT);
  send_ipi(1, ICR_STARTUP | ICR_LEVEL_ASSERT | SELF_INIT_VECTOR);
  for (int i = 0; i < AP_WAIT_YIELDS && !*AP_SELF_INIT; i++) hypercall(HC_YIELD, 0, 0);
  for (int i = 0; i < AP_WAIT_YIELDS / 10; i++) hypercall(HC_YIELD, 0, 0);
  check(*AP_SELF_INIT == 1 && *AP_SPINS == 0, "smp: an INIT the AP sends itself stops it");
  send_ipi(1, ICR_STARTUP | ICR_LEVEL_ASSERT | AP_VECTOR);
  check(wait_for_ap(3), "smp: and a STARTUP starts it again");
}

void guest_main(void) {
  uint32_t r[4];
  check_topology();
  cpuid(1, r);
  check(r[1] >> 24 == 0, "smp: the boot vCPU's CPUID reports APIC ID 0");
  check(lapic_read(LAPIC_ID) >> 24 == 0, "smp: the boot vCPU's local APIC ID is 0");
  check((lapic_read(LAPIC_VERSION) & 0xff) == 0x14, "smp: the local APIC is an integrated one (version 0x14)");
  lapic_write(LAPIC_SVR, lapic_read(LAPIC_SVR) | 0x100);

  for (const char* p = ap_code; p < ap_code_end; p++) *(volatile char*)(AP_START + (p - ap_code)) = *p;
  *AP_RUNS = 0;
  send_ipi(1, ICR_INIT | ICR_LEVEL_ASSERT);
  send_ipi(1, ICR_STARTUP | ICR_LEVEL_ASSERT | AP_VECTOR);
  check((lapic_read(LAPIC_ICR_LOW) & ICR_DELIVERY_PENDING) == 0, "smp: the ICR reports the IPI delivered");
  check(wait_for_ap(1), "smp: INIT then STARTUP starts the AP");
  check(*AP_CS == AP_VECTOR << 8, "smp: the AP starts at CS = vector << 8, IP = 0");
  check(*AP_APIC_ID == 1, "smp: the AP's CPUID reports APIC ID 1");

  /* A STARTUP IPI reaches only a CPU that waits for one (SDM 9.4.4). */
  send_ipi(1, ICR_STARTUP | ICR_LEVEL_ASSERT | AP_VECTOR);
  for (int i = 0; i < AP_WAIT_YIELDS / 10; i++) hypercall(HC_YIELD, 0, 0);
  check(*AP_RUNS == 1, "smp: a STARTUP IPI to a running AP is ignored");
  check_nmi_ipi();

  send_ipi(1, ICR_INIT | ICR_LEVEL_ASSERT);
  send_ipi(1, ICR_STARTUP | ICR_LEVEL_ASSERT | AP_VECTOR);
  check(wait_for_ap(2), "smp: INIT and STARTUP restart the AP");
  check_apic_move();
  check_self_init();

  hypercall(HC_EXIT, failures(), 0);
}
