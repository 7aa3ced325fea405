// The guest page walker (vmm/emul/guestpaging.ts) on page tables built by hand in
// guest RAM, in every paging mode (Intel SDM Vol. 3A chapter 4): none,
// 32-bit with 4 KiB and 4 MiB pages, PAE, 4-level and 5-level long mode.
import { beforeEach, describe, expect, it } from "vitest";
import { load, type Exports, type Unit } from "./harness";

interface WalkerExports {
  guestRamHost(): bigint;
  guestRamSize(): bigint;
  translate(linear: bigint, cr0: bigint, cr3: bigint, cr4: bigint, efer: bigint): number;
  translatedPhysical(): bigint;
  failedEntry(): bigint;
  pageFaultFor(write: number, cpl: number, cr0: bigint, cr4: bigint, rflags: bigint): number;
}

const TRANSLATED = 0, NOT_PRESENT = 1, TABLE_OUTSIDE_RAM = 2;
const CR0_PG = 0x8000_0001n; // PG with PE
const CR4_PSE = 0x10n, CR4_PAE = 0x20n, CR4_LA57 = 0x1000n;
const EFER_LONG = 0x500n; // LME and LMA
const P = 1n, RW = 2n, PS = 0x80n, XD = 1n << 63n;
const KiB = 1024n, MiB = 1024n * KiB, GiB = 1024n * MiB;

let unit: Unit<WalkerExports>;
let e: Exports<WalkerExports>;
let host: bigint;
let nextTable: bigint;

beforeEach(async () => {
  unit = await load<WalkerExports>("mmio.ts");
  e = unit.exports;
  host = e.guestRamHost();
  nextTable = 0x10_0000n;
});

const write32 = (gpa: bigint, v: bigint) => unit.machine.phys.write32(host + gpa, v);
const write64 = (gpa: bigint, v: bigint) => unit.machine.phys.write64(host + gpa, v);
const read64 = (gpa: bigint) => unit.machine.phys.read64(host + gpa);
const newTable = () => {
  const t = nextTable;
  nextTable += 4n * KiB;
  return t;
};

function translate(linear: bigint, cr0: bigint, cr3: bigint, cr4: bigint, efer = 0n): bigint | number {
  const result = e.translate(linear, cr0, cr3, cr4, efer);
  return result === TRANSLATED ? e.translatedPhysical() : result;
}

// Maps `linear` to `phys` in 8-byte-entry tables under `root` with `levels`
// levels, ending in a page at `leafLevel` (1: 4 KiB, 2: 2 MiB, 3: 1 GiB).
function map8(root: bigint, levels: number, linear: bigint, phys: bigint, leafLevel = 1): void {
  let table = root;
  for (let level = levels; level > leafLevel; level--) {
    const slot = table + ((linear >> BigInt(12 + 9 * (level - 1))) & 0x1ffn) * 8n;
    let entry = read64(slot);
    if ((entry & P) === 0n) {
      entry = newTable() | P | RW;
      write64(slot, entry);
    }
    table = entry & 0x000f_ffff_ffff_f000n;
  }
  const shift = BigInt(12 + 9 * (leafLevel - 1));
  write64(table + ((linear >> shift) & 0x1ffn) * 8n, phys | P | RW | (leafLevel > 1 ? PS : 0n));
}

describe("guest page walker", () => {
  it("with paging off, a linear address is physical", () => {
    expect(translate(0x12345n, 0x11n, 0x5000n, CR4_PAE)).toBe(0x12345n);
    expect(translate(0xfeb0_0004n, 0n, 0n, 0n)).toBe(0xfeb0_0004n);
  });

  describe("32-bit paging", () => {
    const dir = 0x1000n;
    it("4 KiB pages through a page table", () => {
      write32(dir + 1n * 4n, 0x2000n | P | RW);
      write32(0x2000n + 3n * 4n, 0x5000n | P);
      expect(translate(0x0040_3123n, CR0_PG, dir | 0x18n, 0n)).toBe(0x5123n);
    });
    it("4 MiB pages with CR4.PSE, PSE-36 address bits included", () => {
      write32(dir + 3n * 4n, 0x0080_0000n | P | PS);
      expect(translate(0x00c1_2345n, CR0_PG, dir, CR4_PSE)).toBe(0x0081_2345n);
      write32(dir + 4n * 4n, 0x0040_0000n | (0x3n << 13n) | P | PS);
      expect(translate(0x0100_0010n, CR0_PG, dir, CR4_PSE)).toBe(0x3_0040_0010n);
    });
    it("PS means nothing without CR4.PSE: the entry points to a page table", () => {
      write32(dir + 3n * 4n, 0x3000n | P | PS);
      write32(0x3000n + 0x12n * 4n, 0x7000n | P);
      expect(translate(0x00c1_2345n, CR0_PG, dir, 0n)).toBe(0x7345n);
    });
    it("reports the entry that is not present", () => {
      expect(translate(0x0140_0000n, CR0_PG, dir, 0n)).toBe(NOT_PRESENT);
      expect(e.failedEntry()).toBe(dir + 5n * 4n);
      write32(dir + 5n * 4n, 0x2000n | P);
      expect(translate(0x0140_8000n, CR0_PG, dir, 0n)).toBe(NOT_PRESENT);
      expect(e.failedEntry()).toBe(0x2000n + 8n * 4n);
    });
  });

  describe("PAE paging", () => {
    const pdpt = 0x3020n; // 32-byte aligned: CR3 bits 31:5
    it("4 KiB and 2 MiB pages under the four PDPTEs", () => {
      write64(pdpt + 1n * 8n, 0x4000n | P);
      map8(0x4000n, 2, 0x4020_1abcn, 0x9000n);
      expect(translate(0x4020_1abcn, CR0_PG, pdpt, CR4_PAE)).toBe(0x9abcn);
      write64(pdpt + 3n * 8n, 0x6000n | P);
      map8(0x6000n, 2, 0xc060_0000n, 0x1_2340_0000n, 2);
      expect(translate(0xc07f_fff0n, CR0_PG, pdpt, CR4_PAE)).toBe(0x1_235f_fff0n);
    });
    it("ignores execute-disable in the address", () => {
      write64(pdpt, 0x4000n | P);
      write64(0x4000n, 0x5000n | P);
      write64(0x5000n + 2n * 8n, XD | 0x8000n | P);
      expect(translate(0x2004n, CR0_PG, pdpt, CR4_PAE)).toBe(0x8004n);
    });
    it("stops at a PDPTE that is not present", () => {
      expect(translate(0x8000_0000n, CR0_PG, pdpt, CR4_PAE)).toBe(NOT_PRESENT);
      expect(e.failedEntry()).toBe(pdpt + 2n * 8n);
    });
  });

  describe("4-level paging", () => {
    const pml4 = 0x8000n;
    const linear = 0x0000_7f80_1234_5678n;
    it("4 KiB, 2 MiB and 1 GiB pages", () => {
      map8(pml4, 4, linear, 0x2_0000_0000n);
      expect(translate(linear, CR0_PG, pml4 | 0x18n, CR4_PAE, EFER_LONG)).toBe(0x2_0000_0678n);
      map8(pml4, 4, 0x4000_0000n, 0x1_0000_0000n, 2);
      expect(translate(0x4012_3456n, CR0_PG, pml4, CR4_PAE, EFER_LONG)).toBe(0x1_0012_3456n);
      map8(pml4, 4, 0xffff_8000_c000_0000n, 0x40_0000_0000n, 3);
      expect(translate(0xffff_8000_c123_4567n, CR0_PG, pml4, CR4_PAE, EFER_LONG)).toBe(0x40_0123_4567n);
    });
    it("ignores CR4.PSE and takes long mode over PAE", () => {
      map8(pml4, 4, 0x1000n, 0x3000n);
      expect(translate(0x1004n, CR0_PG, pml4, CR4_PAE | CR4_PSE, EFER_LONG)).toBe(0x3004n);
    });
    it("reports a table outside guest RAM without reading it", () => {
      const outside = e.guestRamSize() + 0x1000n;
      write64(pml4, outside | P);
      expect(translate(0x1000n, CR0_PG, pml4, CR4_PAE, EFER_LONG)).toBe(TABLE_OUTSIDE_RAM);
      expect(e.failedEntry()).toBe(outside);
    });
    it("reports a page that is not present", () => {
      map8(pml4, 4, 0x1000n, 0x3000n);
      expect(translate(0x2000n, CR0_PG, pml4, CR4_PAE, EFER_LONG)).toBe(NOT_PRESENT);
      const pt = read64(read64(read64(pml4) & ~0xfffn) & ~0xfffn) & ~0xfffn;
      expect(e.failedEntry()).toBe(pt + 2n * 8n);
    });
  });

  // For the memory end of a string instruction the VMM carries out (SDM
  // Vol. 3A 4.6, 4.7): -1 where the MMU allows the access, else the error
  // code (bit 0 protection, 1 write, 2 user).
  describe("permissions, as page-fault error codes", () => {
    const pml4 = 0x8000n, U = 4n, WP = 1n << 16n, SMAP = 1n << 21n, AC = 1n << 18n;
    // The leaf at `linear` gets `bits` (P always); the tables above allow everything.
    const page = (linear: bigint, bits: bigint) => {
      map8(pml4, 4, linear, 0x3000n);
      const pdpt = read64(pml4) & ~0xfffn, pd = read64(pdpt) & ~0xfffn, pt = read64(pd) & ~0xfffn;
      for (const table of [pml4, pdpt, pd]) write64(table, read64(table) | U);
      write64(pt + ((linear >> 12n) & 0x1ffn) * 8n, 0x3000n | P | bits);
    };
    const fault = (linear: bigint, write: boolean, cpl: number, cr0 = CR0_PG, cr4 = CR4_PAE, rflags = 2n) => {
      e.translate(linear, cr0, pml4, cr4, EFER_LONG);
      return e.pageFaultFor(write ? 1 : 0, cpl, cr0, cr4, rflags);
    };
    it("not present: P clear, with W and U as the access", () => {
      page(0x1000n, RW | U);
      expect([fault(0x2000n, true, 0), fault(0x2000n, false, 3), fault(0x2000n, true, 3)]).toEqual([2, 4, 6]);
    });
    it("user mode reaches only user pages, and writes only writable ones", () => {
      page(0x1000n, RW);
      page(0x2000n, U);
      expect([fault(0x1000n, false, 3), fault(0x2000n, false, 3), fault(0x2000n, true, 3)]).toEqual([5, -1, 7]);
    });
    it("supervisor writes to read-only pages fault only with CR0.WP", () => {
      page(0x1000n, 0n);
      expect([fault(0x1000n, true, 0), fault(0x1000n, true, 0, CR0_PG | WP), fault(0x1000n, false, 0)]).toEqual([
        -1,
        3,
        -1,
      ]);
    });
    it("with CR4.SMAP, supervisor accesses to user pages fault unless RFLAGS.AC is set", () => {
      page(0x1000n, RW | U);
      const smap = CR4_PAE | SMAP;
      expect([fault(0x1000n, false, 0, CR0_PG, smap), fault(0x1000n, true, 0, CR0_PG, smap, 2n | AC)]).toEqual([1, -1]);
    });
    it("with paging off, everything is allowed", () => {
      expect(fault(0x1000n, true, 3, 0x11n)).toBe(-1);
    });
  });

  describe("5-level paging (CR4.LA57)", () => {
    const pml5 = 0x9000n;
    it("walks the PML5 first, with bits 56:48 as its index", () => {
      const linear = 0x00ab_cdef_1234_5000n;
      map8(pml5, 5, linear, 0x7000n);
      expect(translate(linear | 0x321n, CR0_PG, pml5, CR4_PAE | CR4_LA57, EFER_LONG)).toBe(0x7321n);
      // The same address under 4-level paging uses the PML5 as a PML4.
      expect(translate(linear, CR0_PG, pml5, CR4_PAE, EFER_LONG)).toBe(NOT_PRESENT);
    });
  });
});
