/*
 * percpu.c: what each CPU needs of its own before it can run kernel code,
 * and the handshake that starts an application processor (AP).
 *
 * Each CPU gets a TSS, whose IST1 stack catches double faults, NMIs and
 * machine checks even on a broken stack (SDM Vol. 3A 8.7), and which VMX
 * also needs as the host TR (SDM Vol. 3C 26.2.3). Starting an AP: the
 * kernel picks its stack and calls ap_prepare(), which copies the real-mode
 * trampoline (boot/ap.S) below 1 MiB and returns its page number for the
 * STARTUP IPI; the kernel sends INIT and STARTUP, then ap_wait() spins until
 * the AP reports its per-CPU start-up done.
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

uint32_t ap_prepare(uint32_t cpu, uint64_t stack_top) {
  extern const uint8_t ap_trampoline[], ap_trampoline_end[];
  extern uint32_t ap_efer;
  if (cpu == 0 || cpu >= MAX_CPUS) return 0;
  __builtin_memcpy((void*)(uintptr_t)TRAMPOLINE, ap_trampoline, ap_trampoline_end - ap_trampoline);
  /* The copy's EFER bits: LME and NXE as on this CPU. */
  *(uint32_t*)(uintptr_t)(TRAMPOLINE + ((const uint8_t*)&ap_efer - ap_trampoline)) =
      (uint32_t)rdmsr(MSR_EFER) & (EFER_LME | EFER_NXE);
  ap_stack_top = stack_top;
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
