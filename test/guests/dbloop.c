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
#include "lib/idt64.h"

extern uint8_t tss[]; /* lib/entry64.S */

static uint64_t ist_stack[64] __attribute__((aligned(16)));

/* Reached only if a #DB is ever delivered without raising the next. */
__attribute__((naked)) static void debug_handler(void) {
  __asm__ volatile("1: hlt\n jmp 1b");
}

void guest_main(void) {
  uint64_t top = (uint64_t)(uintptr_t)&ist_stack[64];
  /* IST1 is the 8 bytes at offset 36 of the 64-bit TSS (SDM Vol. 3A 8.7). */
  __builtin_memcpy(tss + 36, &top, 8);
  /* IDT[1]: the handler, on IST 1. */
  set_idt_gate(1, debug_handler, 1);
  puts("dbloop: a data breakpoint where #DB pushes its frame, then a single step\n");
  /* The frame's first push, SS, goes to top - 8. DR7: L0, R/W0 = 01 (data
   * writes), LEN0 = 10 (8 bytes) (SDM Vol. 3B 18.2.4). */
  __asm__ volatile("mov %0, %%dr0" ::"r"(top - 8));
  __asm__ volatile("mov %0, %%dr7" ::"r"(0x1ul | (1ul << 16) | (2ul << 18)));
  __asm__ volatile("pushfq; orq $0x100, (%%rsp); popfq; nop" ::: "memory");
  check(0, "dbloop: the #DB loop ended");
  hypercall(HC_EXIT, 1, 0);
}
