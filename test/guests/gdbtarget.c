/*
 * A guest for the GDB stub's system test (test/system/gdb.test.ts), in long
 * mode. It waits until the debugger writes 1 into `released` (gdb's memory
 * write), then calls gdb_tick() TICKS times, where the test's breakpoint
 * sits, and executes an INT3 of its own, which must reach its own #BP
 * handler while the debugger's breakpoint at gdb_done() is planted (and
 * INT3s intercepted). The test reads the symbols' addresses from
 * build/guests/gdbtarget.bin.elf.
 */
#include "lib/guest.h"
#include "lib/idt64.h"

#define TICKS 5

volatile uint64_t released;
volatile uint64_t ticks;
volatile uint32_t own_breakpoints;

__attribute__((noinline)) void gdb_tick(void) {
  ticks++;
}

__attribute__((noinline)) void gdb_done(void) {
  __asm__ volatile("");
}

/* The guest's own #BP handler: counts, and returns after the INT3. */
__attribute__((naked)) static void breakpoint_handler(void) {
  __asm__ volatile("lock incl own_breakpoints(%rip)\n iretq");
}

void guest_main(void) {
  set_idt_gate(3, breakpoint_handler, 0);
  puts("gdbtarget: waiting for the debugger\n");
  while (!released) __asm__ volatile("pause");
  for (int i = 0; i < TICKS; i++) gdb_tick();
  __asm__ volatile("int3");
  gdb_done();
  check(ticks == TICKS, "gdb: the ticks ran after the breakpoint");
  check(own_breakpoints == 1, "gdb: the guest's own INT3 reached its handler");
  hypercall(HC_EXIT, failures() ? 1 : 0, 0);
}
