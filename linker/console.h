/*
 * console.h: the C side's last-resort output. The real console (log levels,
 * formatting) is AssemblyScript; this is only for the few messages that must
 * come out when the AssemblyScript instance cannot run: early exceptions and
 * wasm traps. It writes to COM1, which the kernel configures at boot.
 */
#ifndef TV_CONSOLE_H
#define TV_CONSOLE_H
#include <stdint.h>

void console_putc(char c);
void console_puts(const char* s);
void console_hex(uint64_t v);
void tv_halt(uint32_t status) __attribute__((noreturn));
void tv_console_flush(void); /* the AssemblyScript console's queue (shim.c) */
void tv_screen_echo(char c); /* the AssemblyScript screen, which shows what the C side prints too (shim.c) */
void tv_fault_witness(uint32_t cpu); /* the vCPU cpu ran, and its last exits (shim.c) */
void tv_backtrace(uint64_t rbp);
void tv_print_symbol(uint64_t address, int is_return);

extern int tv_emulator_exit;

#endif
