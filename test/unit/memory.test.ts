// Physical memory bookkeeping: the memory map's usable ranges
// (kernel/mm/memmap.ts) and the frame allocator (kernel/mm/frames.ts).
import { beforeEach, describe, expect, it } from "vitest";
import { load, type Exports } from "./harness";

interface MemoryExports {
  regionsClear(): void;
  regionAdd(base: bigint, length: bigint, type: number): void;
  regionsRamTop(): bigint;
  computeUsable(): number;
  rangesClear(): void;
  rangeAdd(start: bigint, end: bigint): void;
  rangeCount(): number;
  rangeStart(i: number): bigint;
  rangeEnd(i: number): bigint;
  rangesSubtract(start: bigint, end: bigint): number;
  rangesTotal(): bigint;
  framesCreate(): void;
  framesCount(): bigint;
  framesFree(): bigint;
  framesFreeBytes(): bigint;
  framesReserve(start: bigint, end: bigint): void;
  framesIsFree(phys: bigint): number;
  framesAlloc(): bigint;
  framesAllocContiguous(count: bigint, align: bigint): bigint;
  framesRelease(phys: bigint): void;
}

type Region = [bigint, bigint, number]; // base, length, type
type Span = [bigint, bigint]; // [start, end)

const USABLE = 1, RESERVED = 2, ACPI_RECLAIMABLE = 3, ACPI_NVS = 4, BAD = 5;
const KiB = 1024n, MiB = 1024n * KiB, GiB = 1024n * MiB;

let e: Exports<MemoryExports>;

beforeEach(async () => {
  e = (await load<MemoryExports>("memory.ts")).exports;
});

function setRegions(list: Region[]): void {
  e.regionsClear();
  for (const [base, length, type] of list) e.regionAdd(base, length, type);
}
function ranges(): Span[] {
  const out: Span[] = [];
  for (let i = 0; i < e.rangeCount(); i++) out.push([e.rangeStart(i), e.rangeEnd(i)]);
  return out;
}
function usable(list: Region[]): Span[] {
  setRegions(list);
  e.computeUsable();
  return ranges();
}
function setRanges(list: Span[]): void {
  e.rangesClear();
  for (const [s, t] of list) e.rangeAdd(s, t);
}

describe("usableRanges", () => {
  it("sorts, page-aligns and drops what is not usable", () => {
    expect(usable([
      [0x1_0000_0000n, 2n * GiB, USABLE],
      [0xfffc0000n, 0x40000n, RESERVED],
      [0x100000n, 0x7ee0000n, USABLE],
      [0x9fc00n, 0x400n, RESERVED],
      [0x0n, 0x9fc00n, USABLE],
      [0x7fe0000n, 0x20000n, RESERVED],
      [0xf0000n, 0x10000n, RESERVED],
    ])).toEqual([
      [0x0n, 0x9f000n],
      [0x100000n, 0x7fe0000n],
      [0x1_0000_0000n, 0x1_8000_0000n],
    ]);
  });

  it("cuts reserved regions out of overlapping usable ones, whatever the order", () => {
    const expected: Span[] = [[0x100000n, 0x400000n], [0x500000n, 0x1000000n]];
    expect(usable([[0x100000n, 0xf00000n, USABLE], [0x400000n, 0x100000n, RESERVED]])).toEqual(expected);
    expect(usable([[0x400000n, 0x100000n, RESERVED], [0x100000n, 0xf00000n, USABLE]])).toEqual(expected);
  });

  it("a reserved region over several usable ones, and one covering a usable one entirely", () => {
    expect(usable([
      [0x100000n, 0x100000n, USABLE],
      [0x300000n, 0x100000n, USABLE],
      [0x500000n, 0x100000n, USABLE],
      [0x180000n, 0x200000n, RESERVED], // eats the end of the first, the start of the second
      [0x4ff000n, 0x102000n, RESERVED], // eats all of the third
    ])).toEqual([[0x100000n, 0x180000n], [0x380000n, 0x400000n]]);
  });

  it("rounds usable regions inward and other regions outward to pages", () => {
    expect(usable([
      [0x100800n, 0x3000n, USABLE], // [0x100800, 0x103800) -> [0x101000, 0x103000)
      [0x200000n, 0x10000n, USABLE],
      [0x204800n, 0x100n, RESERVED], // one byte range in a page takes the whole page
    ])).toEqual([[0x101000n, 0x103000n], [0x200000n, 0x204000n], [0x205000n, 0x210000n]]);
  });

  it("drops usable regions smaller than a page once aligned", () => {
    expect(usable([[0x100800n, 0x800n, USABLE], [0x200001n, 0x1ffen, USABLE], [0x300000n, 0xfffn, USABLE]])).toEqual(
      [],
    );
  });

  it("ignores zero-length regions of any type", () => {
    expect(usable([
      [0x100000n, 0x100000n, USABLE],
      [0x180000n, 0n, RESERVED],
      [0x400000n, 0n, USABLE],
    ])).toEqual([[0x100000n, 0x200000n]]);
  });

  it("merges overlapping and adjacent usable regions", () => {
    expect(usable([
      [0x400000n, 0x100000n, USABLE],
      [0x100000n, 0x200000n, USABLE],
      [0x200000n, 0x200000n, USABLE],
      [0x800000n, 0x1000n, USABLE],
      [0x100000n, 0x1000n, USABLE], // inside another
    ])).toEqual([[0x100000n, 0x500000n], [0x800000n, 0x801000n]]);
  });

  it("treats ACPI, NVS, bad and unknown types as not usable", () => {
    for (const type of [RESERVED, ACPI_RECLAIMABLE, ACPI_NVS, BAD, 0, 7, 12, 0xf00d]) {
      expect(usable([[0x100000n, 0x400000n, USABLE], [0x200000n, 0x1000n, type]]), `type ${type}`)
        .toEqual([[0x100000n, 0x200000n], [0x201000n, 0x500000n]]);
    }
  });

  it("ignores a usable region whose end wraps around 2^64", () => {
    expect(usable([[0x100000n, 0x100000n, USABLE], [0xffff_ffff_ffff_0000n, 0x20000n, USABLE]])).toEqual([[
      0x100000n,
      0x200000n,
    ]]);
  });

  it("is empty for an empty map", () => {
    expect(usable([])).toEqual([]);
  });
});

describe("subtract and totalSize", () => {
  const base: Span[] = [[0x1000n, 0x5000n], [0x8000n, 0xa000n], [0x10000n, 0x20000n]];

  it.each<[string, Span, Span[]]>([
    ["nothing it overlaps", [0x5000n, 0x8000n], base],
    ["a middle piece", [0x2000n, 0x3000n], [[0x1000n, 0x2000n], [0x3000n, 0x5000n], [0x8000n, 0xa000n], [
      0x10000n,
      0x20000n,
    ]]],
    ["a start", [0x0n, 0x2000n], [[0x2000n, 0x5000n], [0x8000n, 0xa000n], [0x10000n, 0x20000n]]],
    ["an end", [0x1f000n, 0x30000n], [[0x1000n, 0x5000n], [0x8000n, 0xa000n], [0x10000n, 0x1f000n]]],
    ["a whole range", [0x8000n, 0xa000n], [[0x1000n, 0x5000n], [0x10000n, 0x20000n]]],
    ["across several ranges", [0x4000n, 0x11000n], [[0x1000n, 0x4000n], [0x11000n, 0x20000n]]],
    ["everything", [0x0n, 0xffff_ffff_ffff_f000n], []],
    ["an empty range outside them", [0x6000n, 0x6000n], base],
  ])("cuts out %s", (_what, [start, end], expected) => {
    setRanges(base);
    e.rangesSubtract(start, end);
    expect(ranges()).toEqual(expected);
  });

  // Regression test for a bug the unit tests found (kernel/mm/range.ts Range.overlaps, used by memmap.ts
  // subtract): an empty [s, s) strictly inside a range counts as overlapping,
  // so subtract(ranges, 0x3000, 0x3000) splits [0x1000, 0x5000) into
  // [0x1000, 0x3000) and [0x3000, 0x5000). No byte is lost, but the ranges are
  // no longer maximal: initMemory() subtracts a zero-length boot module
  // (start == end, page-aligned) that way, and findPool() looks for the
  // linear-memory pool inside one free range, so it can miss the only block
  // big enough.
  it("cuts nothing for an empty range inside one", () => {
    setRanges(base);
    e.rangesSubtract(0x3000n, 0x3000n);
    expect(ranges()).toEqual(base);
  });

  it("totals range sizes", () => {
    setRanges(base);
    expect(e.rangesTotal()).toBe(0x4000n + 0x2000n + 0x10000n);
    setRanges([]);
    expect(e.rangesTotal()).toBe(0n);
    setRanges([[0n, 64n * GiB], [65n * GiB, 66n * GiB]]);
    expect(e.rangesTotal()).toBe(65n * GiB);
  });
});

describe("ramTop", () => {
  it("is the end of the highest RAM-like region (usable, ACPI reclaimable, ACPI NVS)", () => {
    setRegions([[0x0n, 0x9fc00n, USABLE], [0x100000n, 0x7ee0000n, USABLE], [0xfffc0000n, 0x40000n, RESERVED]]);
    expect(e.regionsRamTop()).toBe(0x7fe0000n);
    setRegions([[0x100000n, 0x7ee0000n, USABLE], [0x7fe0000n, 0x10000n, ACPI_RECLAIMABLE]]);
    expect(e.regionsRamTop()).toBe(0x7ff0000n);
    setRegions([[0x100000n, 0x7ee0000n, USABLE], [0x7fe0000n, 0x20000n, ACPI_NVS]]);
    expect(e.regionsRamTop()).toBe(0x8000000n);
    setRegions([[0x1_0000_0000n, 4n * GiB, USABLE], [0x100000n, 0x7ee0000n, USABLE]]);
    expect(e.regionsRamTop()).toBe(0x2_0000_0000n);
  });

  it("ignores reserved and bad regions, and is 0 without RAM", () => {
    setRegions([[0x100000n, 0x100000n, USABLE], [0xfd_0000_0000n, 0x1000n, RESERVED], [0x1_0000_0000n, 0x1000n, BAD]]);
    expect(e.regionsRamTop()).toBe(0x200000n);
    setRegions([[0xfec00000n, 0x1000n, RESERVED]]);
    expect(e.regionsRamTop()).toBe(0n);
  });
});

describe("FrameAllocator", () => {
  // 64 MiB of "RAM" with the legacy hole at 640 KiB and a 1 MiB hole at 32 MiB.
  const RAM: Span[] = [[0x0n, 0x9f000n], [0x100000n, 0x2000000n], [0x2100000n, 0x4000000n]];
  const HOLES: Span[] = [[0x9f000n, 0x100000n], [0x2000000n, 0x2100000n]];
  const PAGE = 4096n;
  const pages = (list: Span[]) => list.reduce((n, [s, t]) => n + (t - s) / PAGE, 0n);
  const inside = (a: bigint, list: Span[]) => list.some(([s, t]) => a >= s && a < t);

  beforeEach(() => {
    setRanges(RAM);
    e.framesCreate();
  });

  it("counts every usable frame but frame 0 as free", () => {
    expect(e.framesCount()).toBe(0x4000000n / PAGE);
    expect(e.framesFree()).toBe(pages(RAM) - 1n);
    expect(e.framesFreeBytes()).toBe((pages(RAM) - 1n) * PAGE);
    expect(e.framesIsFree(0n)).toBe(0);
    expect(e.framesIsFree(0x1000n)).toBe(1);
    expect(e.framesIsFree(0x9e000n)).toBe(1);
    expect(e.framesIsFree(0x9f000n)).toBe(0);
    expect(e.framesIsFree(0xfffffn)).toBe(0);
    expect(e.framesIsFree(0x100000n)).toBe(1);
    expect(e.framesIsFree(0x20ff000n)).toBe(0);
    expect(e.framesIsFree(0x3fff000n)).toBe(1);
    expect(e.framesIsFree(0x4000000n)).toBe(0); // above the top
    expect(e.framesIsFree(0x1_0000_0000n)).toBe(0);
  });

  it("has no frames without usable RAM", () => {
    setRanges([]);
    e.framesCreate();
    expect(e.framesCount()).toBe(0n);
    expect(e.framesFree()).toBe(0n);
    expect(e.framesAlloc()).toBe(0n);
    expect(e.framesAllocContiguous(1n, PAGE)).toBe(0n);
  });

  it("reserves whole frames, rounding outward, once", () => {
    const before = e.framesFree();
    e.framesReserve(0x200000n, 0x300000n);
    expect(e.framesFree()).toBe(before - 256n);
    e.framesReserve(0x250000n, 0x350000n); // half already reserved
    expect(e.framesFree()).toBe(before - 256n - 80n);
    e.framesReserve(0x400800n, 0x400900n); // part of one frame
    expect(e.framesFree()).toBe(before - 256n - 80n - 1n);
    expect(e.framesIsFree(0x400000n)).toBe(0);
    expect(e.framesIsFree(0x401000n)).toBe(1);
    e.framesReserve(0x400fffn, 0x401001n); // straddles two frames
    expect(e.framesIsFree(0x401000n)).toBe(0);
    expect(e.framesFree()).toBe(before - 256n - 80n - 2n);
    e.framesReserve(0x9f000n, 0x100000n); // not RAM: nothing changes
    e.framesReserve(0x3ff0000n, 0x1_0000_0000n); // beyond the top: clipped
    expect(e.framesFree()).toBe(before - 256n - 80n - 2n - 16n);
  });

  it("hands out every free frame exactly once, never frame 0, a hole or a reserved frame", () => {
    const RESERVED_SPANS: Span[] = [[0x0n, 0x100000n], [0x200000n, 0x600000n], [0x3000000n, 0x3001000n]];
    for (const [s, t] of RESERVED_SPANS) e.framesReserve(s, t);
    const expected = e.framesFree();
    const seen = new Set<bigint>();
    const wrong: string[] = [];
    for (;;) {
      const frame = e.framesAlloc();
      if (frame === 0n) break;
      const hex = `0x${frame.toString(16)}`;
      if (frame % PAGE !== 0n) wrong.push(`${hex} is not page-aligned`);
      if (!inside(frame, RAM) || inside(frame, HOLES)) wrong.push(`${hex} is not RAM`);
      if (inside(frame, RESERVED_SPANS)) wrong.push(`${hex} is reserved`);
      if (seen.has(frame)) wrong.push(`${hex} handed out twice`);
      seen.add(frame);
      if (seen.size > 0x4000) throw new Error("more frames than RAM");
    }
    expect(wrong).toEqual([]);
    expect(BigInt(seen.size)).toBe(expected);
    expect(e.framesFree()).toBe(0n);
    expect(e.framesAlloc()).toBe(0n); // exhausted stays exhausted
    expect(e.framesAllocContiguous(1n, PAGE)).toBe(0n);
  });

  it("gives a freed frame back out, and ignores bogus frees", () => {
    const a = e.framesAlloc(), b = e.framesAlloc(), c = e.framesAlloc();
    expect(new Set([a, b, c]).size).toBe(3);
    const free = e.framesFree();
    e.framesRelease(b);
    expect(e.framesFree()).toBe(free + 1n);
    expect(e.framesIsFree(b)).toBe(1);
    e.framesRelease(b); // double free
    expect(e.framesFree()).toBe(free + 1n);
    expect(e.framesAlloc()).toBe(b);
    e.framesRelease(0n); // frame 0 is never free
    e.framesRelease(0x4000000n); // beyond the top
    e.framesRelease(0x5000000n);
    e.framesRelease(0x3fff000n); // never allocated
    expect(e.framesFree()).toBe(free);
    expect(e.framesIsFree(0n)).toBe(0);
  });

  it("allocContiguous: the highest aligned block first", () => {
    const free = e.framesFree();
    expect(e.framesAllocContiguous(16n, 0x10000n)).toBe(0x3ff0000n);
    expect(e.framesAllocContiguous(16n, 0x10000n)).toBe(0x3fe0000n);
    expect(e.framesAllocContiguous(1n, PAGE)).toBe(0x3fdf000n);
    expect(e.framesAllocContiguous(3n, PAGE)).toBe(0x3fdc000n);
    expect(e.framesFree()).toBe(free - 36n);
    for (const a of [0x3ff0000n, 0x3fe8000n, 0x3fdf000n, 0x3fdc000n, 0x3fde000n]) expect(e.framesIsFree(a)).toBe(0);
    expect(e.framesIsFree(0x3fdb000n)).toBe(1);
  });

  it("allocContiguous: aligned 2 MiB blocks skip holes and reserved frames, then run out", () => {
    e.framesReserve(0x1000000n, 0x1001000n); // spoils the block at 16 MiB
    const blocks: bigint[] = [];
    for (;;) {
      const block = e.framesAllocContiguous(512n, 2n * MiB);
      if (block === 0n) break;
      blocks.push(block);
      if (blocks.length > 32) throw new Error("more 2 MiB blocks than RAM");
    }
    // RAM [1 MiB, 32 MiB) holds 15 aligned blocks (2..30 MiB), minus the
    // spoiled one; [33 MiB, 64 MiB) holds 15 (34..62 MiB) .
    const expected: bigint[] = [];
    for (let mb = 62n; mb >= 34n; mb -= 2n) expected.push(mb * MiB);
    for (let mb = 30n; mb >= 2n; mb -= 2n) if (mb !== 16n) expected.push(mb * MiB);
    expect(blocks).toEqual(expected);
    for (const b of blocks) expect(e.framesIsFree(b + 511n * PAGE)).toBe(0);
    // Single frames remain below 2 MiB, in the spoiled block and around the hole.
    expect(e.framesAllocContiguous(1n, PAGE)).not.toBe(0n);
  });

  it("allocContiguous: finds the one gap that fits, and not one too small", () => {
    e.framesReserve(0x0n, 0x4000000n);
    for (const f of [0x1234000n, 0x1235000n, 0x1236000n, 0x2222000n, 0x2223000n]) e.framesRelease(f);
    // free() only acts on used frames of RAM: these were reserved RAM frames.
    expect(e.framesFree()).toBe(5n);
    expect(e.framesAllocContiguous(4n, PAGE)).toBe(0n);
    expect(e.framesAllocContiguous(3n, PAGE)).toBe(0x1234000n);
    expect(e.framesAllocContiguous(2n, 0x2000n)).toBe(0x2222000n);
    expect(e.framesFree()).toBe(0n);
  });

  it("allocContiguous: no block for zero frames or more frames than exist", () => {
    const free = e.framesFree();
    expect(e.framesAllocContiguous(0n, PAGE)).toBe(0n);
    expect(e.framesAllocContiguous(0x4001n, PAGE)).toBe(0n);
    expect(e.framesAllocContiguous(0x4000n, PAGE)).toBe(0n); // would include frame 0
    expect(e.framesFree()).toBe(free);
  });
});
