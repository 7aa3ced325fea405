/*
 * The multiboot v1 test kernel: loaded by the hypervisor from a VM
 * configuration (vmm/kernelvms.ts) the way QEMU's -kernel loads it. It
 * checks what the loader and the PC platform give it and reports each check
 * as a PASS/FAIL line on COM1 (the 16550 model, which is the VM's console),
 * then writes its status to QEMU's isa-debug-exit port 0xf4.
 *
 * Its command line says what to expect: "ram=MiB cpus=N module=NAME
 * exit=V"; with module= it expects exactly one module of that name whose
 * contents start with "TVMOD". On success it writes V to port 0xf4 (the VM
 * exits with status (V << 1) | 1), after any failure 1 (status 3).
 *
 * Multiboot Specification 0.6.96, 3.3 "Boot information format"; fw_cfg as
 * in QEMU's docs/specs/fw_cfg.rst.
 */
#include "lib/guest.h"

#define BOOTLOADER_MAGIC 0x2badb002
#define MBI_MEMORY (1u << 0)
#define MBI_CMDLINE (1u << 2)
#define MBI_MODS (1u << 3)
#define MBI_MMAP (1u << 6)
#define MBI_LOADER_NAME (1u << 9)

struct mb_info {
  uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
  uint32_t syms[4];
  uint32_t mmap_length, mmap_addr;
  uint32_t drives_length, drives_addr, config_table, boot_loader_name;
};
struct mb_module { uint32_t start, end, string, reserved; };
struct __attribute__((packed)) mb_mmap { uint32_t size; uint64_t base, length; uint32_t type; };

#define COM1 0x3f8
#define LSR_THR_EMPTY 0x20
#define FW_CFG_SELECTOR 0x510
#define FW_CFG_DATA 0x511
#define DEBUG_EXIT 0xf4

extern char _end[];
static int failed;

/* The guest library's reporting (guest.h), over the UART instead of hypercalls. */
void puts(const char* s) {
  for (; *s; s++) {
    while (!(inb(COM1 + 5) & LSR_THR_EMPTY)) {}
    outb(COM1, (uint8_t)*s);
  }
}
void check(int ok, const char* name) {
  puts(ok ? "PASS " : "FAIL ");
  puts(name);
  puts("\n");
  if (!ok) failed++;
}
int failures(void) { return failed; }

static void put_dec(uint32_t v) {
  char buf[21];
  int i = 20;
  buf[i] = 0;
  do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v && i > 0);
  puts(buf + i);
}

static int str_eq(const char* a, const char* b) {
  while (*a && *a == *b) { a++; b++; }
  return *a == *b;
}

/* The value of "key=" in the command line, copied into out (empty if absent). */
static void option(const char* cmdline, const char* key, char* out, int size) {
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

static uint64_t number(const char* s) {
  uint64_t v = 0;
  for (; *s >= '0' && *s <= '9'; s++) v = v * 10 + (uint64_t)(*s - '0');
  return v;
}

/* fw_cfg item `key`: `n` bytes, little-endian, through the traditional interface. */
static uint64_t fw_cfg_read(uint16_t key, int n) {
  outw(FW_CFG_SELECTOR, key);
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v |= (uint64_t)inb(FW_CFG_DATA) << (8 * i);
  return v;
}

static void check_memory(const struct mb_info* mbi, uint64_t ram) {
  check((mbi->flags & MBI_MEMORY) != 0, "multiboot: flags: mem_lower/mem_upper present");
  check(mbi->mem_lower == 0x9f000 / 1024, "multiboot: mem_lower is 636 KiB (RAM below the legacy area at 0x9f000)");
  check((uint64_t)mbi->mem_upper == (ram - 0x100000) / 1024, "multiboot: mem_upper is the configured RAM above 1 MiB");
  check((mbi->flags & MBI_MMAP) != 0 && mbi->mmap_length > 0, "multiboot: flags: memory map present");
  uint64_t usable = 0, top = 0;
  int low = 0, high = 0, legacy = 0, entries = 0;
  for (uint32_t at = mbi->mmap_addr; at < mbi->mmap_addr + mbi->mmap_length && entries < 64; entries++) {
    const struct mb_mmap* e = (const struct mb_mmap*)(uintptr_t)at;
    if (e->type == 1) {
      usable += e->length;
      if (e->base + e->length > top) top = e->base + e->length;
      if (e->base == 0 && e->length == 0x9f000) low = 1;
      if (e->base == 0x100000 && e->length == ram - 0x100000) high = 1;
    } else if (e->base <= 0x9f000 && e->base + e->length >= 0x100000) {
      legacy = 1;
    }
    at += e->size + 4;
  }
  check(low && high, "multiboot: memory map: usable RAM [0, 0x9f000) and [1 MiB, configured RAM)");
  check(usable == ram - (0x100000 - 0x9f000) && top == ram, "multiboot: memory map: no usable RAM beyond the configured size");
  check(legacy, "multiboot: memory map: the legacy area [0x9f000, 1 MiB) is reserved");
  puts("memory: "); put_dec((uint32_t)(usable >> 10)); puts(" KiB usable of "); put_dec((uint32_t)(ram >> 20)); puts(" MiB\n");
}

static void check_module(const struct mb_info* mbi, const char* expected, uint64_t ram) {
  if (!expected[0]) {
    check((mbi->flags & MBI_MODS) == 0 || mbi->mods_count == 0, "multiboot: no modules");
    return;
  }
  check((mbi->flags & MBI_MODS) != 0 && mbi->mods_count == 1, "multiboot: flags: one module");
  if (mbi->mods_count < 1) return;
  const struct mb_module* m = (const struct mb_module*)(uintptr_t)mbi->mods_addr;
  check((m->start & 0xfff) == 0 && m->start >= (uint32_t)(uintptr_t)_end && m->end > m->start && m->end <= ram,
        "multiboot: module: page-aligned, after the kernel, inside RAM");
  check(m->string != 0 && str_eq((const char*)(uintptr_t)m->string, expected), "multiboot: module: its command line is its name");
  const char* data = (const char*)(uintptr_t)m->start;
  check(m->end - m->start >= 5 && data[0] == 'T' && data[1] == 'V' && data[2] == 'M' && data[3] == 'O' && data[4] == 'D',
        "multiboot: module: contents");
}

static void check_fw_cfg(uint64_t ram, uint64_t cpus) {
  check(fw_cfg_read(0x0000, 4) == 0x554d4551, "fw_cfg: signature \"QEMU\"");
  check((fw_cfg_read(0x0001, 4) & 1) == 1, "fw_cfg: ID has the traditional interface");
  check(fw_cfg_read(0x0005, 2) == cpus, "fw_cfg: CPU count");
  check(fw_cfg_read(0x0003, 8) == ram, "fw_cfg: RAM size");
  check(fw_cfg_read(0x7fff, 4) == 0, "fw_cfg: an unknown item reads as zeros");
}

void mbtest_main(uint32_t magic, const struct mb_info* mbi) {
  /* The UART's scratch register: the console really is a 16550. */
  outb(COM1 + 7, 0x5a);
  int uart = inb(COM1 + 7) == 0x5a;
  puts("multiboot test kernel\n");
  check(uart, "uart: COM1 scratch register round trip");
  check(magic == BOOTLOADER_MAGIC, "multiboot: magic 0x2badb002 in EAX");
  if (magic != BOOTLOADER_MAGIC) { outl(DEBUG_EXIT, 1); return; }

  const char* cmdline = (mbi->flags & MBI_CMDLINE) ? (const char*)(uintptr_t)mbi->cmdline : "";
  char value[64];
  option(cmdline, "ram", value, sizeof value);
  uint64_t ram = number(value) << 20;
  option(cmdline, "cpus", value, sizeof value);
  uint64_t cpus = number(value);
  check((mbi->flags & MBI_CMDLINE) != 0 && ram != 0 && cpus != 0, "multiboot: command line with ram= and cpus=");
  check((mbi->flags & MBI_LOADER_NAME) != 0 && str_eq((const char*)(uintptr_t)mbi->boot_loader_name, "typervisor"),
        "multiboot: boot loader name");
  puts("command line: "); puts(cmdline); puts("\n");

  check_memory(mbi, ram);
  option(cmdline, "module", value, sizeof value);
  check_module(mbi, value, ram);
  check_fw_cfg(ram, cpus);

  option(cmdline, "exit", value, sizeof value);
  uint32_t status = failures() ? 1 : (uint32_t)number(value);
  puts(failures() ? "multiboot test kernel: some checks failed\n" : "multiboot test kernel: all checks passed\n");
  outl(DEBUG_EXIT, status);
}
