/*
 * The multiboot v1 test kernel (kernel.h): loaded the way QEMU's -kernel
 * loads it (vmm/setup/loaders/multiboot1.ts), it checks the magic in EAX and the
 * information structure in EBX (Multiboot Specification 0.6.96, 3.2 and 3.3
 * "Boot information format"): flags, mem_lower/mem_upper, the memory map,
 * the command line, the boot loader's name and, with module=NAME, one module
 * of that name. With EAX wrong it exits at once with status 1. Then it
 * finds its CPUs in the ACPI tables and starts them (mpboot.c), has a
 * virtio function interrupt it by MSI (pcichecks.c), hands a virtqueue
 * garbage (queuechecks.c) and, with stress=N, runs stress.c's N
 * characters and CPUIDs.
 */
#include "kernels/kernel.h"

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

extern char _end[];

static void check_memory(const struct mb_info* mbi, uint64_t ram) {
  check((mbi->flags & MBI_MEMORY) != 0, "multiboot: flags: mem_lower/mem_upper present");
  check(mbi->mem_lower == 0x9f000 / 1024, "multiboot: mem_lower is 636 KiB (RAM below the legacy area at 0x9f000)");
  check((uint64_t)mbi->mem_upper == (ram - 0x100000) / 1024, "multiboot: mem_upper is the configured RAM above 1 MiB");
  check((mbi->flags & MBI_MMAP) != 0 && mbi->mmap_length > 0, "multiboot: flags: memory map present");
  struct region map[32];
  int n = 0;
  for (uint32_t at = mbi->mmap_addr; at < mbi->mmap_addr + mbi->mmap_length && n < 32; n++) {
    const struct mb_mmap* e = (const struct mb_mmap*)(uintptr_t)at;
    map[n].base = e->base;
    map[n].length = e->length;
    map[n].type = e->type;
    at += e->size + 4;
  }
  check_memory_map(map, n, ram);
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
  check(module_contents_ok((const char*)(uintptr_t)m->start, m->end - m->start), "multiboot: module: contents");
}

void mbtest_main(uint32_t magic, const struct mb_info* mbi) {
  puts("multiboot test kernel\n");
  check_uart();
  check(magic == BOOTLOADER_MAGIC, "multiboot: magic 0x2badb002 in EAX");
  if (magic != BOOTLOADER_MAGIC) { outl(0xf4, 1); return; }

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
  check_smp((uint32_t)cpus);
  check_msi();
  check_queue_garbage();
  option(cmdline, "stress", value, sizeof value);
  if (value[0]) stress((uint32_t)number(value));
  finish(cmdline, "multiboot test kernel");
}
