/*
 * percpu.c: what each CPU needs of its own before it can run kernel code,
 * the handshake that starts an application processor (AP), and the one lock
 * every CPU takes to run the kernel.
 *
 * Each CPU gets a TSS, whose IST1 stack catches double faults, NMIs and
 * machine checks even on a broken stack (SDM Vol. 3A 8.7), and which VMX
 * also needs as the host TR (SDM Vol. 3C 26.2.3); its selector tells a CPU
 * which one it is (this_cpu()). Starting an AP: the kernel picks its stack
 * and calls ap_prepare(), which copies the real-mode trampoline (boot/ap.S)
 * below 1 MiB and returns its page number for the STARTUP IPI; the kernel
 * sends INIT and STARTUP, then ap_wait() spins until the AP is up. The AP
 * then waits until the boot CPU lets every CPU into its loop (shim.c).
 *
 * The kernel is one wasm instance, so CPUs run it one at a time, under
 * hv_lock(): a ticket lock, which serves them in the order they came.
 */
#include "percpu.h"
#include "../boot/layout.h"
#include "cpu.h"

struct tss {
  uint32_t reserved0;
  uint64_t rsp[3];
  uint64_t reserved1;
  uint64_t ist[7];
  uint64_t reserved2;
  uint16_t reserved3, iomap_base;
} __attribute__((packed));

static struct tss tss[MAX_CPUS];
/* Each CPU's stack, for backtraces: [low, high). */
static uint64_t stack_low[MAX_CPUS], stack_high[MAX_CPUS];
static uint8_t ist_stacks[MAX_CPUS][16384] __attribute__((aligned(16)));
static struct { uint64_t base; uint16_t limit; } idt;

void tss_install(uint32_t cpu) {
  extern uint64_t boot_gdt_tss[2 * MAX_CPUS];
  struct tss* t = &tss[cpu];
  uint64_t base = (uintptr_t)t, limit = sizeof *t - 1;
  t->ist[0] = (uintptr_t)(ist_stacks[cpu] + sizeof ist_stacks[cpu]);
  t->iomap_base = sizeof *t;
  /* 64-bit TSS descriptor, type 9 (available), present (SDM Vol. 3A 8.2.3). */
  boot_gdt_tss[2 * cpu] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
                          ((limit >> 16 & 0xf) << 48) | ((base >> 24 & 0xff) << 56);
  boot_gdt_tss[2 * cpu + 1] = base >> 32;
  ltr(GDT_TSS + 16 * cpu);
}

uint32_t this_cpu(void) {
  uint16_t tr;
  __asm__ volatile("str %0" : "=r"(tr));
  return (tr - GDT_TSS) / 16;
}

void set_stack(uint32_t cpu, uint64_t low, uint64_t high) {
  stack_low[cpu] = low;
  stack_high[cpu] = high;
}

int on_this_stack(uint64_t address, uint64_t bytes) {
  uint32_t cpu = this_cpu();
  return address >= stack_low[cpu] && address + bytes <= stack_high[cpu];
}

/* Remembered so that every AP loads the same IDT the kernel built. */
void idt_load(uint64_t base, uint16_t limit) {
  idt.base = base;
  idt.limit = limit;
  lidt(base, limit);
}

/* Read by boot/ap.S and ap_enter(); written before the STARTUP IPI. */
uint64_t ap_stack_top;
static uint32_t ap_cpu;
static uint64_t ap_cr3;
static volatile uint32_t ap_state;

uint32_t ap_prepare(uint32_t cpu, uint64_t stack_top, uint64_t stack_bytes) {
  extern const uint8_t ap_trampoline[], ap_trampoline_end[];
  extern uint32_t ap_efer;
  if (cpu == 0 || cpu >= MAX_CPUS) return 0;
  __builtin_memcpy((void*)(uintptr_t)TRAMPOLINE, ap_trampoline, ap_trampoline_end - ap_trampoline);
  /* The copy's EFER bits: LME and NXE as on this CPU. */
  *(uint32_t*)(uintptr_t)(TRAMPOLINE + ((const uint8_t*)&ap_efer - ap_trampoline)) =
      (uint32_t)rdmsr(MSR_EFER) & (EFER_LME | EFER_NXE);
  ap_stack_top = stack_top;
  set_stack(cpu, stack_top - stack_bytes, stack_top);
  ap_cpu = cpu;
  ap_cr3 = read_cr3();
  ap_state = AP_NOT_STARTED;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  return TRAMPOLINE >> 12;
}

/* Spins until the AP is done (or `spins` run out); returns its state. */
uint32_t ap_wait(uint32_t spins) {
  for (uint32_t i = 0; i < spins && ap_state != AP_DONE; i++) cpu_pause();
  return ap_state;
}

/* On the AP: take over the kernel's tables, say we are alive. */
uint32_t ap_enter(void) {
  write_cr3(ap_cr3);
  tss_install(ap_cpu);
  lidt(idt.base, idt.limit);
  ap_state = AP_RUNNING;
  return ap_cpu;
}

void ap_leave(void) {
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  ap_state = AP_DONE;
}

/* Set once the boot CPU has built the VMs: every CPU may enter its loop. */
static volatile uint32_t all_go;

void let_cpus_go(void) { __atomic_store_n(&all_go, 1, __ATOMIC_RELEASE); }

void wait_for_go(void) {
  while (!__atomic_load_n(&all_go, __ATOMIC_ACQUIRE)) cpu_pause();
}

/*
 * The hypervisor lock. A CPU takes a ticket and waits until the owner count
 * reaches it; the TSC ticks each CPU spends waiting are counted. A CPU that
 * waits while another stops the machine stops too.
 */
volatile uint32_t lock_next_ticket, lock_owner;
static uint64_t lock_wait_ticks[MAX_CPUS];
volatile uint32_t tv_stopping;

void hv_lock(uint32_t cpu) {
  uint32_t ticket = __atomic_fetch_add(&lock_next_ticket, 1, __ATOMIC_RELAXED);
  if (__atomic_load_n(&lock_owner, __ATOMIC_ACQUIRE) == ticket) return;
  uint64_t since = rdtsc();
  while (__atomic_load_n(&lock_owner, __ATOMIC_ACQUIRE) != ticket) {
    if (tv_stopping) halt_this_cpu();
    cpu_pause();
  }
  lock_wait_ticks[cpu] += rdtsc() - since;
}

uint64_t lock_waited(uint32_t cpu) { return cpu < MAX_CPUS ? lock_wait_ticks[cpu] : 0; }

/* For good, with interrupts off; NMIs find it halted again. */
void halt_this_cpu(void) {
  for (;;) __asm__ volatile("cli; hlt" ::: "memory");
}

/*
 * A fatal error on this CPU: the others must not run on with a kernel that
 * may be broken. An NMI to all but self (ICR delivery mode 4, shorthand 3,
 * SDM Vol. 3A 11.6.1) reaches them in a guest (NMIs exit to the host on
 * both backends) and in the host, even with interrupts off; trap_entry()
 * halts a CPU that takes an NMI once tv_stopping is set.
 */
void stop_other_cpus(void) {
  if (__atomic_exchange_n(&tv_stopping, 1, __ATOMIC_SEQ_CST)) return;
  volatile uint32_t* icr_low = (volatile uint32_t*)(uintptr_t)((rdmsr(MSR_APIC_BASE) & ~0xfffull) + 0x300);
  *icr_low = (3u << 18) | (4u << 8);
}

/* End of interrupt to this CPU's local APIC (SDM Vol. 3A 11.8.5). */
void lapic_eoi(void) {
  *(volatile uint32_t*)(uintptr_t)((rdmsr(MSR_APIC_BASE) & ~0xfffull) + 0xb0) = 0;
}
