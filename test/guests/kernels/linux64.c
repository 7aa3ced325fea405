/*
 * The 64-bit Linux-protocol test kernel (kernel.h): a bzImage that the
 * hypervisor loads through the 64-bit boot protocol (vmm/setup/loaders/bzimage.ts;
 * Documentation/arch/x86/boot.rst "64-bit Boot Protocol"). It checks the
 * entry state: long mode with paging and PAE, the boot GDT's __BOOT_CS 0x10
 * and __BOOT_DS 0x18, interrupts off, RSI = boot_params, and the identity
 * map over the first 4 GiB; then boot_params itself (zero-page.rst): the
 * copied setup header, type_of_loader, the command line, the E820 map and,
 * with module=NAME, the initrd.
 */
#include "kernels/kernel.h"

extern uint64_t entry_regs[4]; /* rax, rbx, rdi, rbp at entry */
extern char _end[];

#define EFER 0xc0000080
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define CR0_PE (1ull << 0)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define RFLAGS_IF (1ull << 9)

static uint8_t u8at(const uint8_t* p, int off) { return p[off]; }
static uint16_t u16at(const uint8_t* p, int off) { return (uint16_t)(p[off] | p[off + 1] << 8); }
static uint32_t u32at(const uint8_t* p, int off) { return (uint32_t)u16at(p, off) | (uint32_t)u16at(p, off + 2) << 16; }
static uint64_t u64at(const uint8_t* p, int off) { return (uint64_t)u32at(p, off) | (uint64_t)u32at(p, off + 4) << 32; }

/* The physical address `va` maps to through the guest's own page tables, or ~0. */
static uint64_t translate(uint64_t cr3, uint64_t va) {
  const uint64_t* table = (const uint64_t*)(uintptr_t)(cr3 & ~0xfffull);
  for (int level = 3; level >= 0; level--) {
    uint64_t e = table[(va >> (12 + 9 * level)) & 511];
    if (!(e & 1)) return ~0ull;
    uint64_t frame = e & 0x000ffffffffff000ull;
    if (level == 0) return frame | (va & 0xfff);
    if (level <= 2 && (e & 0x80)) {
      uint64_t size = 1ull << (12 + 9 * level);
      return (frame & ~(size - 1)) | (va & (size - 1));
    }
    table = (const uint64_t*)(uintptr_t)frame;
  }
  return ~0ull;
}

static void check_entry(const uint8_t* bp) {
  uint64_t cr0, cr3, cr4, rflags;
  uint16_t cs, ds, es, ss;
  struct __attribute__((packed)) { uint16_t limit; uint64_t base; } gdtr;
  __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
  __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
  __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
  __asm__ volatile("pushfq; pop %0" : "=r"(rflags));
  __asm__ volatile("mov %%cs, %0; mov %%ds, %1; mov %%es, %2; mov %%ss, %3" : "=r"(cs), "=r"(ds), "=r"(es), "=r"(ss));
  __asm__ volatile("sgdt %0" : "=m"(gdtr));
  uint64_t efer = rdmsr(EFER);
  check((efer & (EFER_LME | EFER_LMA)) == (EFER_LME | EFER_LMA), "linux: entry: EFER.LME and EFER.LMA set");
  check((cr0 & (CR0_PE | CR0_PG)) == (CR0_PE | CR0_PG) && (cr4 & CR4_PAE), "linux: entry: CR0.PE, CR0.PG and CR4.PAE set");
  check((rflags & RFLAGS_IF) == 0, "linux: entry: interrupts disabled");
  check(cs == 0x10 && ds == 0x18 && es == 0x18 && ss == 0x18, "linux: entry: CS is __BOOT_CS (0x10), DS/ES/SS are __BOOT_DS (0x18)");
  const uint64_t* gdt = (const uint64_t*)(uintptr_t)gdtr.base;
  check(gdtr.limit >= 0x1f && ((gdt[2] >> 53) & 3) == 1 && ((gdt[3] >> 40) & 0x9a) == 0x92,
        "linux: entry: the GDT has a 64-bit code and a data descriptor there");
  check((uint64_t)(uintptr_t)bp < 0x100000 && entry_regs[1] == 0 && entry_regs[2] == 0 && entry_regs[3] == 0,
        "linux: entry: RSI = boot_params below 1 MiB, RBX/RDI/RBP zero");
  check(translate(cr3, 0) == 0 && translate(cr3, 0x100200) == 0x100200 && translate(cr3, 0x7fffffff) == 0x7fffffff &&
        translate(cr3, 0xfffff000) == 0xfffff000, "linux: entry: the page tables identity-map the first 4 GiB");
}

void linux64_main(const uint8_t* bp) {
  puts("linux64 test kernel\n");
  check_uart();
  check_entry(bp);
  check(u32at(bp, 0x202) == 0x53726448 && u16at(bp, 0x206) == 0x020f, "linux: boot_params: setup header copied (HdrS, version)");
  check(u8at(bp, 0x210) == 0xff && (u8at(bp, 0x211) & 0x81) == 0x81, "linux: boot_params: type_of_loader 0xff, LOADED_HIGH and CAN_USE_HEAP");
  const char* cmdline = (const char*)(uintptr_t)u32at(bp, 0x228);
  char value[64];
  option(cmdline, "ram", value, sizeof value);
  uint64_t ram = number(value) << 20;
  option(cmdline, "cpus", value, sizeof value);
  uint64_t cpus = number(value);
  check(cmdline != 0 && ram != 0 && cpus != 0, "linux: boot_params: command line with ram= and cpus=");
  puts("command line: "); puts(cmdline); puts("\n");

  int entries = u8at(bp, 0x1e8);
  struct region map[32];
  for (int i = 0; i < entries && i < 32; i++) {
    map[i].base = u64at(bp, 0x2d0 + 20 * i);
    map[i].length = u64at(bp, 0x2d0 + 20 * i + 8);
    map[i].type = u32at(bp, 0x2d0 + 20 * i + 16);
  }
  check(entries > 0 && entries <= 32, "linux: boot_params: an E820 map");
  check_memory_map(map, entries < 32 ? entries : 32, ram);

  option(cmdline, "module", value, sizeof value);
  uint64_t initrd = u32at(bp, 0x218), size = u32at(bp, 0x21c);
  if (value[0]) {
    check(initrd != 0 && (initrd & 0xfff) == 0 && initrd >= 0x200000 && initrd + size <= ram,
          "linux: initrd: page-aligned in RAM, clear of the kernel's init_size");
    check(initrd != 0 && module_contents_ok((const char*)(uintptr_t)initrd, size), "linux: initrd: contents");
  } else {
    check(initrd == 0 && size == 0, "linux: no initrd");
  }
  check_fw_cfg(ram, cpus);
  finish(cmdline, "linux64 test kernel");
}
