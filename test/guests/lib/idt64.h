/*
 * Gates in entry64.S's IDT, for the long-mode programs that install a
 * handler of their own (dbloop.c, gdbtarget.c).
 */
#ifndef IDT64_H
#define IDT64_H
#include <stdint.h>

extern uint8_t idt[]; /* entry64.S */

/* IDT[vector]: a 16-byte IA-32e interrupt gate to `handler`: offset 15:0,
 * selector 0x18 (entry64.S's 64-bit code), IST `ist` (0: none), type 0x8E
 * (present, DPL 0, interrupt gate), offset 31:16, offset 63:32, reserved
 * (SDM Vol. 3A 6.14.1, Figure 6-8). */
static inline void set_idt_gate(int vector, void (*handler)(void), int ist) {
  uint64_t offset = (uint64_t)(uintptr_t)handler;
  uint8_t* gate = idt + 16 * vector;
  uint16_t low = (uint16_t)offset, selector = 0x18, middle = (uint16_t)(offset >> 16);
  uint32_t high = (uint32_t)(offset >> 32), zero = 0;
  __builtin_memcpy(gate, &low, 2);
  __builtin_memcpy(gate + 2, &selector, 2);
  gate[4] = (uint8_t)ist;
  gate[5] = 0x8e;
  __builtin_memcpy(gate + 6, &middle, 2);
  __builtin_memcpy(gate + 8, &high, 4);
  __builtin_memcpy(gate + 12, &zero, 4);
}

#endif
