/*
 * A guest that attacks with a #DB loop (the class of CVE-2015-8104), in long
 * mode: the #DB gate takes IST1, so every #DB delivery pushes its frame to
 * the same slots, and a data breakpoint (DR0, 8-byte write) sits on the
 * first of them. One single step then makes each delivery of #DB raise the
 * next one. Unvirtualized, the CPU would loop inside that delivery forever,
 * never opening a window for an interrupt. Under the hypervisor every round
 * is an exit (it intercepts #DB), so the other VMs run on, and this one,
 * back at the same RIP round after round, is stopped as an exception loop.
 */
#include "lib/guest.h"

extern uint8_t idt[], tss[]; /* lib/entry64.S */

static uint64_t ist_stack[64] __attribute__((aligned(16)));

/* Reached only if a #DB is ever delivered without raising the next. */
__attribute__((naked)) static void debug_handler(void) {
  __asm__ volatile("1: hlt\n jmp 1b");
}

void guest_main(void) {
  uint64_t top = (uint64_t)(uintptr_t)&ist_stack[64];
  uint64_t handler = (uint64_t)(uintptr_t)debug_handler;
  /* IST1 is the 8 bytes at offset 36 of the 64-bit TSS (SDM Vol. 3A 8.7). */
  __builtin_memcpy(tss + 36, &top, 8);
  /* IDT[1]: an interrupt gate to the handler in the 64-bit code segment
   * (0x18), IST 1 (SDM Vol. 3A 6.14.1). */
  uint8_t* gate = idt + 16 * 1;
  uint16_t low = (uint16_t)handler, selector = 0x18, middle = (uint16_t)(handler >> 16);
  uint32_t high = (uint32_t)(handler >> 32), zero = 0;
  __builtin_memcpy(gate, &low, 2);
  __builtin_memcpy(gate + 2, &selector, 2);
  gate[4] = 1;
  gate[5] = 0x8e;
  __builtin_memcpy(gate + 6, &middle, 2);
  __builtin_memcpy(gate + 8, &high, 4);
  __builtin_memcpy(gate + 12, &zero, 4);
  puts("dbloop: a data breakpoint where #DB pushes its frame, then a single step\n");
  /* The frame's first push, SS, goes to top - 8. DR7: L0, R/W0 = 01 (data
   * writes), LEN0 = 10 (8 bytes) (SDM Vol. 3B 18.2.4). */
  __asm__ volatile("mov %0, %%dr0" ::"r"(top - 8));
  __asm__ volatile("mov %0, %%dr7" ::"r"(0x1ul | (1ul << 16) | (2ul << 18)));
  __asm__ volatile("pushfq; orq $0x100, (%%rsp); popfq; nop" ::: "memory");
  check(0, "dbloop: the #DB loop ended");
  hypercall(HC_EXIT, 1, 0);
}
