/* The test kernels' shared checks and reporting (kernel.h). */
#include "kernels/kernel.h"

#define COM1 0x3f8
#define LSR_THR_EMPTY 0x20
#define FW_CFG_SELECTOR 0x510
#define FW_CFG_DATA 0x511
#define DEBUG_EXIT 0xf4

/* guest.h's console over the UART instead of hypercalls; check() and
 * failures() are lib/guest.c's, on top of it. */
void puts(const char* s) {
  for (; *s; s++) {
    while (!(inb(COM1 + 5) & LSR_THR_EMPTY)) {}
    outb(COM1, (uint8_t)*s);
  }
}

void put_dec(uint32_t v) {
  char buf[11];
  int i = 10;
  buf[i] = 0;
  do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v && i > 0);
  puts(buf + i);
}

int str_eq(const char* a, const char* b) {
  while (*a && *a == *b) { a++; b++; }
  return *a == *b;
}

void option(const char* cmdline, const char* key, char* out, int size) {
  out[0] = 0;
  for (const char* p = cmdline; *p; p++) {
    if (p != cmdline && p[-1] != ' ') continue;
    const char* k = key;
    const char* q = p;
    while (*k && *q == *k) { k++; q++; }
    if (*k || *q != '=') continue;
    q++;
    int n = 0;
    while (*q && *q != ' ' && n < size - 1) out[n++] = *q++;
    out[n] = 0;
  }
}

uint64_t number(const char* s) {
  uint64_t v = 0;
  for (; *s >= '0' && *s <= '9'; s++) v = v * 10 + (uint64_t)(*s - '0');
  return v;
}

void check_memory_map(const struct region* map, int n, uint64_t ram) {
  uint64_t usable = 0, top = 0;
  int low = 0, high = 0, legacy = 0;
  for (int i = 0; i < n; i++) {
    const struct region* e = &map[i];
    if (e->type == 1) {
      usable += e->length;
      if (e->base + e->length > top) top = e->base + e->length;
      if (e->base == 0 && e->length == 0x9f000) low = 1;
      if (e->base == 0x100000 && e->length == ram - 0x100000) high = 1;
    } else if (e->base <= 0x9f000 && e->base + e->length >= 0x100000) {
      legacy = 1;
    }
  }
  check(low && high, "memory map: usable RAM [0, 0x9f000) and [1 MiB, configured RAM)");
  check(usable == ram - (0x100000 - 0x9f000) && top == ram, "memory map: no usable RAM beyond the configured size");
  check(legacy, "memory map: the legacy area [0x9f000, 1 MiB) is reserved");
  puts("memory: "); put_dec((uint32_t)(usable >> 10)); puts(" KiB usable of "); put_dec((uint32_t)(ram >> 20)); puts(" MiB\n");
}

int module_contents_ok(const char* data, uint64_t size) {
  return size >= 5 && data[0] == 'T' && data[1] == 'V' && data[2] == 'M' && data[3] == 'O' && data[4] == 'D';
}

/* fw_cfg item `key`: `n` bytes, little-endian, through the traditional interface. */
static uint64_t fw_cfg_read(uint16_t key, int n) {
  outw(FW_CFG_SELECTOR, key);
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v |= (uint64_t)inb(FW_CFG_DATA) << (8 * i);
  return v;
}

void check_uart(void) {
  outb(COM1 + 7, 0x5a);
  int ok = inb(COM1 + 7) == 0x5a;
  check(ok, "uart: COM1 scratch register round trip");
}

void check_fw_cfg(uint64_t ram, uint64_t cpus) {
  check(fw_cfg_read(0x0000, 4) == 0x554d4551, "fw_cfg: signature \"QEMU\"");
  check((fw_cfg_read(0x0001, 4) & 1) == 1, "fw_cfg: ID has the traditional interface");
  check(fw_cfg_read(0x0005, 2) == cpus, "fw_cfg: CPU count");
  check(fw_cfg_read(0x0003, 8) == ram, "fw_cfg: RAM size");
  check(fw_cfg_read(0x7fff, 4) == 0, "fw_cfg: an unknown item reads as zeros");
}

/* Resets the machine through one of a PC chipset's reset registers: "92",
 * System Control Port A, whose bit 0 rising is the fast reset; or "cf9",
 * the Reset Control Register, written as Linux's "cf9" reboot does it:
 * SYS_RST (bit 1), then RST_CPU (bit 2) rising with it. */
static void reset_through(const char* how) {
  if (str_eq(how, "92")) {
    uint8_t a = inb(0x92) & ~1;
    outb(0x92, a);
    outb(0x92, a | 1);
  } else if (str_eq(how, "cf9")) {
    uint8_t r = inb(0xcf9) & ~6;
    outb(0xcf9, r | 2);
    outb(0xcf9, r | 6);
  }
}

/* Leaves through the exit port with status exit=N (1 if a check failed),
 * or, with reset=92 or reset=cf9, by resetting the machine. */
void finish(const char* cmdline, const char* kernel) {
  char value[32];
  option(cmdline, "exit", value, sizeof value);
  uint32_t status = failures() ? 1 : (uint32_t)number(value);
  puts(kernel);
  puts(failures() ? ": some checks failed\n" : ": all checks passed\n");
  option(cmdline, "reset", value, sizeof value);
  if (value[0]) reset_through(value);
  outl(DEBUG_EXIT, status);
}
