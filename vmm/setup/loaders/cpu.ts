// The CPU state a kernel is entered in, and the tables in guest RAM behind it.
//
// All three protocols enter the kernel with flat 4 GiB segments and
// interrupts off; Linux names the selectors: __BOOT_CS = 0x10 and
// __BOOT_DS = 0x18 (Documentation/arch/x86/boot.rst, "32-bit Boot Protocol"
// and "64-bit Boot Protocol"), and the others accept them. So every loader
// gets the same small GDT in low guest RAM. The Linux 64-bit entry also needs
// long mode with paging on and an identity mapping of the kernel, the zero page
// and the command line: here 4 GiB with 2 MiB pages (Intel SDM Vol. 3A 4.5,
// table 4-17), which covers everything the loaders place below 4 GiB.

import {
  CR0_ET,
  CR0_PE,
  CR0_PG,
  CR4_PAE,
  EFER_LMA,
  EFER_LME,
  PTE_LARGE,
  PTE_PRESENT,
  PTE_WRITABLE,
} from "../../../kernel/arch/x86";
import { GuestMemory } from "../../core/guestmemory";
import { GuestLayout, LOW_START, LEGACY_START, NOWHERE } from "./layout";
import { CpuMode, LoadResult } from "./loader";

export const BOOT_CS: u16 = 0x10;
export const BOOT_DS: u16 = 0x18;

// Descriptors (SDM Vol. 3A 3.4.5): base 0, limit 0xfffff with G=1, present,
// DPL 0, accessed (so the CPU never writes the GDT, and the VMM can copy the
// access rights into the VMCS/VMCB as they are).
const CODE32: u64 = 0x00cf9b000000ffff; // D=1, execute/read
const CODE64: u64 = 0x00af9b000000ffff; // L=1, execute/read
const DATA: u64 = 0x00cf93000000ffff; // B=1, read/write
const GDT_SIZE: u64 = 32; // null, unused, code (0x10), data (0x18)

const PAGE_TABLES_SIZE: u64 = 6 * 4096; // PML4, PDPT, 4 page directories

// Claims room for the boot GDT and, for Long64, the page tables. Call before
// writing anything, so that a failure leaves guest RAM untouched.
export class EntryTables {
  gdt: u64 = NOWHERE;
  pageTables: u64 = NOWHERE;

  constructor(layout: GuestLayout, public mode: CpuMode) {
    this.gdt = layout.place(GDT_SIZE, 16, LOW_START, LEGACY_START, false, "the boot GDT");
    if (mode == CpuMode.Long64) {
      this.pageTables = layout.place(PAGE_TABLES_SIZE, 4096, LOW_START, LEGACY_START, false, "the boot page tables");
    }
  }

  // Writes the tables and sets the result's entry state.
  apply(memory: GuestMemory, result: LoadResult, entry: u64): void {
    const long = this.mode == CpuMode.Long64;
    memory.zeroRange(this.gdt, GDT_SIZE);
    memory.write64(this.gdt + <u64>BOOT_CS, long ? CODE64 : CODE32);
    memory.write64(this.gdt + <u64>BOOT_DS, DATA);
    result.mode = this.mode;
    result.entry = entry;
    result.gdtBase = this.gdt;
    result.gdtLimit = <u32>(GDT_SIZE - 1);
    result.codeSelector = BOOT_CS;
    result.dataSelector = BOOT_DS;
    result.rflags = 0x2;
    result.cr0 = CR0_PE | CR0_ET;
    if (!long) return;
    writeIdentityMap(memory, this.pageTables);
    result.cr0 |= CR0_PG;
    result.cr3 = this.pageTables;
    result.cr4 = CR4_PAE;
    result.efer = EFER_LME | EFER_LMA;
  }
}

// PML4[0] -> PDPT; PDPT[0..3] -> four page directories of 512 2 MiB pages each.
function writeIdentityMap(memory: GuestMemory, base: u64): void {
  memory.zeroRange(base, PAGE_TABLES_SIZE);
  const pml4 = base, pdpt = base + 0x1000, pd = base + 0x2000;
  memory.write64(pml4, pdpt | PTE_PRESENT | PTE_WRITABLE);
  for (let i: u64 = 0; i < 4; i++) {
    memory.write64(pdpt + i * 8, (pd + i * 0x1000) | PTE_PRESENT | PTE_WRITABLE);
    for (let j: u64 = 0; j < 512; j++) {
      const phys = (i << 30) | (j << 21);
      memory.write64(pd + i * 0x1000 + j * 8, phys | PTE_PRESENT | PTE_WRITABLE | PTE_LARGE);
    }
  }
}
