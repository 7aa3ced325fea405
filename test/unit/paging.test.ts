// Page tables: the radix tree (kernel/mm/pagetable.ts) with the x86-64 entry
// format, the host's own tables (kernel/mm/hostpaging.ts) and the page
// allocator beneath them (kernel/mm/linearpages.ts).
import { beforeEach, describe, expect, it } from "vitest";
import {
  BOOT_STACK_BOTTOM,
  LINEAR_BASE,
  LINEAR_PHYS_BASE,
  LINEAR_WINDOW_PDPT,
  load,
  type Exports,
  type Unit,
} from "./harness";

interface PagingExports {
  uncached(): bigint;
  writeBack(): bigint;
  ptCreate(maxLeafLevel: number): void;
  ptMap(virt: bigint, phys: bigint, size: bigint, attributes: bigint): void;
  ptUnmap(virt: bigint): void;
  ptRoot(): number;
  ptRootPhys(): bigint;
  ptTranslate(virt: bigint): number;
  trPhys(): bigint;
  trAttributes(): bigint;
  trLevel(): number;
  regionsClear(): void;
  regionAdd(base: bigint, length: bigint, type: number): void;
  hostBuild(hugePages: number): void;
  hostStackGuard(): bigint;
  linearAllocPages(count: number): number;
  linearFreePage(page: number): void;
  linearPhysOf(offset: number): bigint;
  heapChurn(count: number, size: number): number;
}

const KiB = 1024n, MiB = 1024n * KiB, GiB = 1024n * MiB;
const PAGE = 4096n;
const PRESENT = 1n, WRITABLE = 2n, PWT = 8n, PCD = 16n, PS = 0x80n;
const ADDRESS = 0x000f_ffff_ffff_f000n;
const LEVEL_SIZE = [0n, 4n * KiB, 2n * MiB, 1n * GiB, 512n * GiB];

let unit: Unit<PagingExports>;
let e: Exports<PagingExports>;
let UC: bigint;

beforeEach(async () => {
  unit = await load<PagingExports>("paging.ts");
  e = unit.exports;
  UC = e.uncached();
});

interface Tr {
  phys: bigint;
  attributes: bigint;
  level: number;
}
function translate(virt: bigint): Tr | null {
  if (!e.ptTranslate(virt)) return null;
  return { phys: e.trPhys(), attributes: e.trAttributes(), level: e.trLevel() };
}

// Reads a page-table entry the way the MMU would: by physical address, which
// the stubs place at LINEAR_PHYS_BASE + linear offset.
function physEntry(tablePhys: bigint, index: number): bigint {
  const offset = Number(tablePhys - LINEAR_PHYS_BASE) + index * 8;
  const buffer = unit.exports.memory.buffer;
  if (offset < 0 || offset + 8 > buffer.byteLength) {
    throw new Error(`table at 0x${tablePhys.toString(16)} is not in the linear memory`);
  }
  return new DataView(buffer).getBigUint64(offset, true);
}

// An independent 4-level walk (Intel SDM Vol. 3A 4.5) over the raw entries.
interface Walk {
  phys: bigint;
  level: number;
  entry: bigint;
}
function walk(virt: bigint): Walk | null {
  let table = e.ptRootPhys();
  for (let level = 4; level >= 1; level--) {
    const index = Number((virt >> (12n + 9n * BigInt(level - 1))) & 511n);
    const entry = physEntry(table, index);
    if (!(entry & PRESENT)) return null;
    if (level === 1 || (level <= 3 && entry & PS)) {
      const size = LEVEL_SIZE[level];
      return { phys: (entry & ADDRESS & ~(size - 1n)) + (virt & (size - 1n)), level, entry };
    }
    expect(entry & PS, `PS in a level-${level} table pointer`).toBe(0n);
    table = entry & ADDRESS;
  }
  return null;
}

// translate() and the raw walk must agree.
function check(virt: bigint, phys: bigint, level: number, attributes = 0n): void {
  const what = `virt 0x${virt.toString(16)}`;
  expect(translate(virt), what).toEqual({ phys, attributes, level });
  const w = walk(virt);
  expect(w, what).not.toBeNull();
  expect(w!.phys, what).toBe(phys);
  expect(w!.level, what).toBe(level);
  expect(w!.entry & (PWT | PCD), what).toBe(attributes);
  expect(w!.entry & WRITABLE, what).toBe(WRITABLE);
  if (level > 1) expect(w!.entry & PS, what).toBe(PS);
}

function unmapped(virt: bigint): void {
  expect(translate(virt), `virt 0x${virt.toString(16)}`).toBeNull();
  expect(walk(virt), `virt 0x${virt.toString(16)}`).toBeNull();
}

describe("PageTable", () => {
  it("keeps its tables in page-aligned linear memory at the stubbed physical address", () => {
    e.ptCreate(3);
    expect(e.ptRoot() % 4096).toBe(0);
    expect(e.ptRootPhys()).toBe(BigInt(e.ptRoot()) + LINEAR_PHYS_BASE);
    for (let i = 0; i < 512; i++) expect(physEntry(e.ptRootPhys(), i)).toBe(0n);
    unmapped(0n);
  });

  it("maps a 1 GiB-aligned gigabyte with one 1 GiB page", () => {
    e.ptCreate(3);
    e.ptMap(1n * GiB, 2n * GiB, 1n * GiB, 0n);
    check(1n * GiB, 2n * GiB, 3);
    check(1n * GiB + 0x12345n, 2n * GiB + 0x12345n, 3);
    check(2n * GiB - 1n, 3n * GiB - 1n, 3);
    unmapped(1n * GiB - 1n);
    unmapped(2n * GiB);
  });

  it("uses 2 MiB pages when 1 GiB pages are not allowed", () => {
    e.ptCreate(2);
    e.ptMap(1n * GiB, 2n * GiB, 1n * GiB, 0n);
    for (const off of [0n, 0x1f_ffffn, 0x20_0000n, 0x3fff_f000n]) check(1n * GiB + off, 2n * GiB + off, 2);
  });

  it("uses only 4 KiB pages when large pages are not allowed", () => {
    e.ptCreate(1);
    e.ptMap(0n, 0n, 4n * MiB, 0n);
    for (const virt of [0n, 0x1f_f000n, 0x20_0000n, 0x3f_ffffn]) check(virt, virt, 1);
    unmapped(4n * MiB);
  });

  it("picks the largest page each piece's alignment and length allow", () => {
    e.ptCreate(3);
    // [0x1ff000, 0x601000): 4 KiB, 2 MiB, 2 MiB, 4 KiB.
    e.ptMap(0x1f_f000n, 0x1f_f000n, 0x40_2000n, 0n);
    check(0x1f_f000n, 0x1f_f000n, 1);
    check(0x20_0000n, 0x20_0000n, 2);
    check(0x5f_f000n, 0x5f_f000n, 2);
    check(0x60_0000n, 0x60_0000n, 1);
    unmapped(0x1f_e000n);
    unmapped(0x60_1000n);
    // Across a gigabyte boundary: 2 MiB, 1 GiB, 2 MiB.
    e.ptCreate(3);
    e.ptMap(1n * GiB - 2n * MiB, 5n * GiB - 2n * MiB, 1n * GiB + 4n * MiB, 0n);
    check(1n * GiB - 2n * MiB, 5n * GiB - 2n * MiB, 2);
    check(1n * GiB, 5n * GiB, 3);
    check(2n * GiB - 1n, 6n * GiB - 1n, 3);
    check(2n * GiB, 6n * GiB, 2);
    unmapped(2n * GiB + 2n * MiB);
  });

  it("falls back to 4 KiB pages when virtual and physical alignment differ", () => {
    e.ptCreate(3);
    e.ptMap(1n * GiB, 0x30_1000n, 4n * MiB, 0n);
    check(1n * GiB, 0x30_1000n, 1);
    check(1n * GiB + 0x20_0000n, 0x50_1000n, 1);
    check(1n * GiB + 0x3f_f000n, 0x70_0000n, 1);
    // A large page needs the size too, not just the alignment.
    e.ptCreate(3);
    e.ptMap(0n, 0n, 1n * MiB, 0n);
    check(0n, 0n, 1);
    check(0xf_f000n, 0xf_f000n, 1);
    unmapped(1n * MiB);
  });

  it("maps anywhere in the 48-bit space, including the upper half", () => {
    e.ptCreate(3);
    const high = 0xffff_8000_0000_0000n, top = 0xffff_ffff_ffe0_0000n;
    e.ptMap(high, 0x100_0000n, 2n * MiB, 0n);
    e.ptMap(top, 0x200_0000n, 2n * MiB, 0n);
    e.ptMap(0x7fff_ffff_f000n, 0x300_0000n, PAGE, 0n);
    check(high + 0x1234n, 0x100_1234n, 2);
    check(top + 0x1f_ffffn, 0x21f_ffffn, 2);
    check(0x7fff_ffff_f123n, 0x300_0123n, 1);
    unmapped(0n);
    unmapped(0xffff_8000_0020_0000n);
  });

  it("stores the caching attributes in each leaf", () => {
    e.ptCreate(3);
    expect(UC).toBe(PWT | PCD);
    expect(e.writeBack()).toBe(0n);
    e.ptMap(0n, 0n, 1n * GiB, UC);
    e.ptMap(1n * GiB, 1n * GiB, 2n * MiB, 0n);
    e.ptMap(1n * GiB + 2n * MiB, 0xfee0_0000n, PAGE, UC);
    check(0x1000n, 0x1000n, 3, UC);
    check(1n * GiB + 0x1000n, 1n * GiB + 0x1000n, 2, 0n);
    check(1n * GiB + 2n * MiB, 0xfee0_0000n, 1, UC);
  });

  it("replaces an existing mapping", () => {
    e.ptCreate(3);
    e.ptMap(0n, 0x100_0000n, 2n * MiB, 0n);
    e.ptMap(0n, 0x400_0000n, 2n * MiB, UC);
    check(0x1000n, 0x400_1000n, 2, UC);
    // Small pages replaced by a large one, then split again.
    e.ptCreate(3);
    e.ptMap(0x20_0000n, 0x900_0000n, 16n * PAGE, 0n);
    check(0x20_3000n, 0x900_3000n, 1);
    e.ptMap(0x20_0000n, 0xa00_0000n, 2n * MiB, UC);
    check(0x20_3000n, 0xa00_3000n, 2, UC);
    check(0x3f_f000n, 0xa1f_f000n, 2, UC);
    e.ptUnmap(0x20_3000n);
    unmapped(0x20_3000n);
    check(0x20_4000n, 0xa00_4000n, 1, UC);
  });

  it("splitting a 1 GiB page for a 4 KiB one keeps the rest of it identical", () => {
    e.ptCreate(3);
    const phys = 7n * GiB;
    e.ptMap(0n, phys, 1n * GiB, UC);
    const page = 0x1234_5000n;
    e.ptMap(page, 0xdead_0000n, PAGE, 0n);
    check(page, 0xdead_0000n, 1, 0n);
    check(page + 0xfffn, 0xdead_0fffn, 1, 0n);
    const block = page & ~(2n * MiB - 1n);
    // Every other page of the 2 MiB block that held it: now 4 KiB pages.
    for (let v = block; v < block + 2n * MiB; v += PAGE) {
      if (v !== page) check(v + 0x10n, phys + v + 0x10n, 1, UC);
    }
    // Every other 2 MiB block of the gigabyte: now 2 MiB pages.
    for (let v = 0n; v < 1n * GiB; v += 2n * MiB) {
      if (v !== block) {
        check(v, phys + v, 2, UC);
        check(v + 2n * MiB - 1n, phys + v + 2n * MiB - 1n, 2, UC);
      }
    }
    unmapped(1n * GiB);
  });

  it("splitting a 2 MiB page for a 4 KiB one keeps the rest of it identical", () => {
    e.ptCreate(2);
    e.ptMap(0x4000_0000n, 0x8000_0000n, 4n * MiB, 0n);
    e.ptMap(0x4020_0000n, 0x10_0000n, PAGE, UC);
    check(0x4020_0000n, 0x10_0000n, 1, UC);
    for (let off = PAGE; off < 2n * MiB; off += PAGE) check(0x4020_0000n + off, 0x8020_0000n + off, 1);
    check(0x4000_0000n, 0x8000_0000n, 2);
    check(0x401f_f000n, 0x801f_f000n, 2);
  });

  it("unmaps a single page out of a large one", () => {
    e.ptCreate(3);
    e.ptMap(0n, 0n, 2n * GiB, 0n);
    e.ptUnmap(0x3f_f000n);
    unmapped(0x3f_f000n);
    unmapped(0x3f_ffffn);
    check(0x3f_e000n, 0x3f_e000n, 1);
    check(0x40_0000n, 0x40_0000n, 2);
    check(0x20_0000n, 0x20_0000n, 1);
    check(1n * GiB, 1n * GiB, 3);
    e.ptUnmap(0x3f_f000n); // again: still unmapped, nothing else changes
    unmapped(0x3f_f000n);
    check(0x3f_e000n, 0x3f_e000n, 1);
  });
});

describe("buildHostPageTable", () => {
  // QEMU's map for 128 MiB, with the usual holes.
  const QEMU_128M: Array<[bigint, bigint, number]> = [
    [0x0n, 0x9fc00n, 1],
    [0x9fc00n, 0x400n, 2],
    [0xf0000n, 0x10000n, 2],
    [0x100000n, 0x7ee0000n, 1],
    [0x7fe0000n, 0x20000n, 2],
    [0xfffc0000n, 0x40000n, 2],
  ];
  const build = (regions: Array<[bigint, bigint, number]>, huge: boolean, framebuffer: [bigint, bigint] = [0n, 0n]) => {
    e.regionsClear();
    for (const [b, l, t] of regions) e.regionAdd(b, l, t);
    e.hostBuild(huge ? 1 : 0, ...framebuffer);
  };
  const identity = (virt: bigint, attributes: bigint, level?: number) => {
    const tr = translate(virt);
    expect(tr, `virt 0x${virt.toString(16)}`).not.toBeNull();
    expect(tr!.phys).toBe(virt);
    expect(tr!.attributes, `attributes at 0x${virt.toString(16)}`).toBe(attributes);
    if (level !== undefined) expect(tr!.level, `level at 0x${virt.toString(16)}`).toBe(level);
    const w = walk(virt);
    expect(w?.phys).toBe(virt);
    expect(w!.entry & (PWT | PCD)).toBe(attributes);
  };

  for (const huge of [true, false]) {
    describe(huge ? "with 1 GiB pages" : "with 2 MiB pages at most", () => {
      it("maps RAM write-back and the rest below 4 GiB uncached, identity", () => {
        build(QEMU_128M, huge);
        identity(0n + PAGE, 0n);
        identity(0x9f000n, 0n); // the legacy hole sits in a RAM block
        identity(0xb8000n, 0n);
        identity(0x7fd_f000n, 0n);
        identity(0x7fe_0000n, 0n); // reserved, but in a 2 MiB block with RAM
        identity(0x800_0000n, UC, 2); // first block without RAM
        identity(0x4000_0000n, UC, huge ? 3 : 2);
        identity(0xc000_0000n, UC, huge ? 3 : 2);
        identity(0xfec0_0000n, UC); // IOAPIC
        identity(0xfee0_0000n, UC); // local APIC
        identity(0xffff_f000n, UC);
        unmapped(0x1_0000_0000n); // nothing above 4 GiB without RAM there
        unmapped(0x40_0000_0000n);
      });

      it("maps RAM above 4 GiB write-back and nothing else up there", () => {
        build([...QEMU_128M, [0x1_0000_0000n, 0x2000_0000n, 1], [0xfd_0000_0000n, 0x3_0000_0000n, 2]], huge);
        identity(0x1_0000_0000n, 0n, 2);
        identity(0x1_1fff_f000n, 0n, 2);
        unmapped(0x1_2000_0000n); // above the RAM, below the rounded-up top
        unmapped(0x1_3fff_f000n);
        unmapped(0xfd_0000_0000n);
        identity(0xfee0_0000n, UC);
        build([...QEMU_128M, [0x1_0000_0000n, 4n * GiB, 1]], huge);
        identity(0x1_8000_0000n, 0n, huge ? 3 : 2);
        identity(0x1_ffff_f000n, 0n, huge ? 3 : 2);
        unmapped(0x2_0000_0000n);
      });

      it("maps the framebuffer write-combining (PAT entry 1: PWT alone), and nothing around it", () => {
        const WC = PWT;
        build(QEMU_128M, huge, [0xfd00_0000n, 0xfd30_0000n]); // SeaBIOS's 1024x768x32
        identity(0xfd00_0000n, WC, 2);
        identity(0xfd20_0000n, WC, 1); // the last 1 MiB: 4 KiB pages
        identity(0xfd2f_f000n, WC, 1);
        identity(0xfd30_0000n, UC, 1);
        identity(0xfcff_f000n, UC);
        identity(0xfee0_0000n, UC); // local APIC
        build(QEMU_128M, huge, [0xe000_1000n, 0xe000_3000n]); // unaligned: only its pages
        identity(0xe000_0000n, UC, 1);
        identity(0xe000_1000n, WC, 1);
        identity(0xe000_2000n, WC, 1);
        identity(0xe000_3000n, UC, 1);
      });

      it("maps ACPI tables and NVS write-back like RAM", () => {
        build([[0x0n, 0x9fc00n, 1], [0x100000n, 0x3ff00000n, 1], [0x4000_0000n, 0x10_0000n, 3], [
          0x4020_0000n,
          0x10_0000n,
          4,
        ]], huge);
        identity(0x4000_0000n, 0n);
        identity(0x4020_0000n, 0n);
        identity(0x4040_0000n, UC);
      });

      it("leaves the page below the boot stack unmapped as a guard", () => {
        build(QEMU_128M, huge);
        const guard = e.hostStackGuard();
        expect(guard).toBe(BOOT_STACK_BOTTOM - PAGE);
        unmapped(guard);
        identity(guard - PAGE, 0n, 1);
        identity(guard + PAGE, 0n);
        identity(BOOT_STACK_BOTTOM, 0n);
      });

      it("links the linear memory's window into the top level, unchanged", () => {
        build(QEMU_128M, huge);
        const slot = Number((LINEAR_BASE >> 39n) & 511n);
        expect(physEntry(e.ptRootPhys(), slot)).toBe(LINEAR_WINDOW_PDPT | PRESENT | WRITABLE);
        // A foreign subtree: translate() does not follow it.
        expect(translate(LINEAR_BASE)).toBeNull();
        // Only the identity map's slot and the window's are present.
        const present: number[] = [];
        for (let i = 0; i < 512; i++) if (physEntry(e.ptRootPhys(), i) & PRESENT) present.push(i);
        expect(present).toEqual([0, slot]);
      });
    });
  }
});

describe("linear pages", () => {
  it("hands out zeroed, page-aligned, distinct pages and reuses freed ones", () => {
    const a = e.linearAllocPages(1), b = e.linearAllocPages(1), c = e.linearAllocPages(3);
    for (const p of [a, b, c]) expect(p % 4096).toBe(0);
    expect(new Set([a, b, c]).size).toBe(3);
    expect(e.linearPhysOf(c)).toBe(BigInt(c) + LINEAR_PHYS_BASE);
    const mem = new Uint8Array(e.memory.buffer);
    mem.fill(0x5a, b, b + 4096);
    e.linearFreePage(b);
    const again = e.linearAllocPages(1);
    expect(again).toBe(b);
    expect(mem.subarray(b, b + 4096).every((x) => x === 0)).toBe(true);
    // Multi-page blocks do not overlap each other.
    const blocks = [c, e.linearAllocPages(17), e.linearAllocPages(2), e.linearAllocPages(16)];
    const spans = blocks.map((s, i) => [s, s + [3, 17, 2, 16][i] * 4096]);
    for (const [s1, t1] of spans) for (const [s2, t2] of spans) if (s1 !== s2) expect(s1 < t2 && s2 < t1).toBe(false);
  });

  it("keeps the garbage-collected heap off its pages", () => {
    const pages = e.linearAllocPages(8);
    const mem = () => new Uint8Array(e.memory.buffer, pages, 8 * 4096);
    expect(e.heapChurn(64, 64 * 1024)).toBe(64); // 4 MiB of heap, growing the memory
    const later = e.linearAllocPages(4);
    expect(mem().every((x) => x === 0)).toBe(true);
    expect(new Uint8Array(e.memory.buffer, later, 4 * 4096).every((x) => x === 0)).toBe(true);
  });

  it(
    "only returns physically contiguous blocks when the linear memory is backed by scattered 2 MiB "
      + "chunks",
    async () => {
      // Each 2 MiB chunk of linear memory sits somewhere else physically, in reverse order.
      const CHUNK = 0x20_0000;
      const scattered = (offset: number) =>
        0x10_0000_0000n - BigInt(Math.floor(offset / CHUNK) + 1) * BigInt(CHUNK) + BigInt(offset % CHUNK);
      const u = await load<PagingExports>("paging.ts", { shim: { linear_to_phys: (o: number) => scattered(o >>> 0) } });
      const blocks: Array<[number, number]> = [];
      for (let i = 0; i < 120; i++) {
        const count = 1 + (i * 7) % 16;
        const start = u.exports.linearAllocPages(count);
        blocks.push([start, count]);
        const base = scattered(start);
        for (let p = 1; p < count; p++) {
          expect(scattered(start + p * 4096), `block ${i} page ${p}`).toBe(base + BigInt(p * 4096));
        }
        expect(u.exports.linearPhysOf(start)).toBe(base);
      }
      // The run must have crossed several chunk boundaries to mean anything.
      const chunks = new Set(blocks.map(([s]) => Math.floor(s / CHUNK)));
      expect(chunks.size).toBeGreaterThanOrEqual(3);
    },
  );
});
