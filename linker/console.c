/*
 * console.c: last-resort output and the halt path of the C side.
 * See console.h for why this exists next to the AssemblyScript console.
 */
#include "console.h"
#include "cpu.h"
#include "percpu.h"

#define COM1 0x3f8
#define LSR_THR_EMPTY 0x20
#define QEMU_DEBUG_EXIT_PORT 0xf4
#define BOCHS_SHUTDOWN_PORT 0x8900

int tv_emulator_exit;

/*
 * The AssemblyScript console queues what the UART cannot take at once
 * (kernel/console/console.ts): send that first, so that this line comes
 * after it. Once: if the flush itself traps, the trap's report comes here.
 */
static void sync_with_queue(void) {
  static int syncing;
  if (syncing) return;
  syncing = 1;
  tv_console_flush();
  syncing = 0;
}

void console_putc(char c) {
  sync_with_queue();
  for (int spins = 0; spins < 100000 && !(inb(COM1 + 5) & LSR_THR_EMPTY); spins++) cpu_pause();
  outb(COM1, (uint8_t)c);
  tv_screen_echo(c);
}

void console_puts(const char* s) {
  while (*s) console_putc(*s++);
}

/* At least `min` digits: console_hex prints 16. */
static void put_hex(uint64_t v, int min) {
  char digits[17] = {0};
  int i = 16;
  do digits[--i] = "0123456789abcdef"[v & 15];
  while ((v >>= 4) || 16 - i < min);
  console_puts(digits + i);
}
void console_hex(uint64_t v) { put_hex(v, 16); }

/*
 * The functions' names, in a table tools/build/symbols.ts generates from the
 * first link, placed after all code and data (typervisor.ld): entries sorted
 * by address, names as offsets from the table; the last marks the end of the
 * code. Prints " name+0xoffset", or " ?". A return address is looked up one
 * byte back, in case its call is the last instruction of a function.
 */
extern const struct { uint32_t count; struct { uint32_t address, name; } entry[]; } tv_symbols;
void tv_print_symbol(uint64_t address, int is_return) {
  uint32_t lo = 0, hi = tv_symbols.count;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (tv_symbols.entry[mid].address <= address - is_return) lo = mid + 1;
    else hi = mid;
  }
  const char* name = lo ? (const char*)&tv_symbols + tv_symbols.entry[lo - 1].name : "";
  console_puts(*name ? " " : " ?");
  if (!*name) return;
  console_puts(name);
  console_puts("+0x");
  put_hex(address - tv_symbols.entry[lo - 1].address, 1);
}

/*
 * Frame-pointer backtrace: the image is built with -fno-omit-frame-pointer,
 * so each frame starts with (saved rbp, return address). Stop at the first
 * pointer that leaves this CPU's stack.
 */
void tv_backtrace(uint64_t rbp) {
  for (int depth = 0; depth < 16; depth++) {
    if (!on_this_stack(rbp, 16) || (rbp & 7)) break;
    uint64_t ret = ((uint64_t*)(uintptr_t)rbp)[1];
    if (!ret) break;
    console_puts("    at 0x");
    console_hex(ret);
    tv_print_symbol(ret, 1);
    console_puts("\r\n");
    rbp = ((uint64_t*)(uintptr_t)rbp)[0];
  }
}

/*
 * Stop the machine for good: the other CPUs by an NMI, this one here. Under an emulator started with the kernel option
 * "exit=emulator", also leave the emulator with a status: QEMU's isa-debug-exit
 * device exits with (status << 1) | 1, and Bochs exits on "Shutdown" written
 * to its port 0x8900.
 */
void tv_halt(uint32_t status) {
  cli();
  stop_other_cpus();
  sync_with_queue();
  if (tv_emulator_exit) {
    /* Bochs's exit code does not carry the status: say it on the console too. */
    console_puts("typervisor: exit status 0x");
    console_hex(status);
    console_puts("\r\n");
    outl(QEMU_DEBUG_EXIT_PORT, status);
    for (const char* s = "Shutdown"; *s; s++) outb(BOCHS_SHUTDOWN_PORT, (uint8_t)*s);
  }
  for (;;) hlt();
}
