// The pieces under every guest loader: the image source over host-physical
// memory (vmm/setup/loaders/source.ts) and the guest RAM layout with its claims,
// placement and memory map (vmm/setup/loaders/layout.ts).
import { beforeEach, describe, expect, it } from "vitest";
import { PhysMemory, load, type Exports } from "./harness";

const GiB = 0x4000_0000n, MiB = 0x10_0000n;

let e: Exports<any>;
let phys: PhysMemory;
const str = (p: number) => (p ? e.__getString(p) : null);
const s = (text: string) => e.__newString(text);

beforeEach(async () => {
  phys = new PhysMemory();
  e = (await load("loaders.ts", { phys })).exports;
  e.reset();
});

describe("ImageSource over host-physical memory", () => {
  it("reads little-endian values inside the image and zeros outside, without touching memory past it", () => {
    phys.writeBytes(0x5000, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    phys.writeBytes(0x500a, [0xff, 0xff, 0xff, 0xff]); // just past the image
    e.sourceNew(0x5000n, 10n);
    expect(e.sourceRead8(9n)).toBe(10);
    expect(e.sourceRead32(6n) >>> 0).toBe(0x0a090807);
    expect(e.sourceRead64(2n)).toBe(0x0a09080706050403n);
    phys.trace = [];
    expect(e.sourceRead8(10n)).toBe(0);
    expect(e.sourceRead32(7n)).toBe(0); // straddles the end
    expect(e.sourceRead64(0xffff_ffff_ffff_fffcn)).toBe(0n);
    expect(phys.trace).toEqual([]);
  });

  it("has() is exact at the end and safe against overflow", () => {
    e.sourceNew(0x5000n, 10n);
    expect(e.sourceHas(0n, 10n)).toBe(1);
    expect(e.sourceHas(10n, 0n)).toBe(1);
    expect(e.sourceHas(9n, 2n)).toBe(0);
    expect(e.sourceHas(11n, 0n)).toBe(0);
    expect(e.sourceHas(0xffff_ffff_ffff_ffffn, 2n)).toBe(0);
    expect(e.sourceHas(2n, 0xffff_ffff_ffff_ffffn)).toBe(0);
  });

  it("reads C strings only when terminated inside the image and the limit", () => {
    phys.writeString(0x6000, "Xen");
    phys.writeString(0x6004, "unterminated", false);
    e.sourceNew(0x6000n, 16n);
    expect(str(e.sourceCString(0n, 4n))).toBe("Xen");
    expect(str(e.sourceCString(0n, 3n))).toBeNull(); // no NUL within 3 bytes
    expect(str(e.sourceCString(4n, 100n))).toBeNull(); // runs off the image
  });
});

describe("GuestLayout", () => {
  // 64 MiB of RAM at guest-physical 0 (host 4 GiB).
  const ram64 = () => {
    e.ramAdd(0n, 0x1_0000_0000n, 64n * MiB);
    e.layoutNew();
  };
  const claim = (start: bigint, size: bigint, what: string) => e.layoutClaim(start, size, s(what)) === 1;
  const place = (size: bigint, align: bigint, low: bigint, high: bigint, top: boolean, what: string) =>
    e.layoutPlace(size, align, low, high, top ? 1 : 0, s(what));
  const error = () => str(e.layoutError());

  it("claims RAM once; a second claim over it names both ranges", () => {
    ram64();
    expect(claim(0x100000n, 0x1000n, "the kernel")).toBe(true);
    expect(claim(0x101000n, 0x1000n, "the initrd")).toBe(true); // adjacent is fine
    expect(claim(0x100800n, 0x100n, "the command line")).toBe(false);
    expect(error()).toBe("the command line [0x100800, 0x100900) overlaps the kernel [0x100000, 0x101000)");
  });

  it("refuses what is not RAM, spans two RAM regions, wraps or meets a reserved range", () => {
    e.ramAdd(0n, 0x1_0000_0000n, 16n * MiB);
    e.ramAdd(16n * MiB, 0x3_0000_0000n, 16n * MiB); // contiguous in the guest, not in the host
    e.reservedAdd(0x800000n, 0x1000n, 2);
    e.layoutNew();
    expect(claim(0x1f00000n, 0x200000n, "a")).toBe(false);
    expect(error()).toBe("a [0x1f00000, 0x2100000) does not fit in the VM's RAM (32 MiB)");
    e.layoutNew();
    expect(claim(0xfff000n, 0x2000n, "b")).toBe(false);
    expect(error()).toMatch(/^b .* does not fit in the VM's RAM/);
    e.layoutNew();
    expect(claim(0xffff_ffff_ffff_f000n, 0x2000n, "c")).toBe(false);
    expect(error()).toMatch(/^c at .* wraps around the address space/);
    e.layoutNew();
    expect(claim(0x7ff000n, 0x2000n, "d")).toBe(false);
    expect(error()).toBe("d [0x7ff000, 0x801000) overlaps reserved memory [0x800000, 0x801000)");
    e.layoutNew();
    expect(claim(0x9e000n, 0x2000n, "e")).toBe(false);
    expect(error()).toBe("e [0x9e000, 0xa0000) overlaps the legacy BIOS area [0x9f000, 0x100000)");
  });

  it("places low first-fit around earlier claims, aligned", () => {
    ram64();
    expect(claim(0x1000n, 0x1800n, "x")).toBe(true);
    expect(place(0x1000n, 0x1000n, 0x1000n, 0x9f000n, false, "zero page")).toBe(0x3000n);
    expect(place(0x10n, 0x10n, 0x1000n, 0x9f000n, false, "string")).toBe(0x2800n);
    expect(place(0x10n, 0x10n, 0x1000n, 0x9f000n, false, "string 2")).toBe(0x2810n);
  });

  it("places high below the limit, under reserved ranges and claims", () => {
    e.ramAdd(0n, 0x1_0000_0000n, 64n * MiB);
    e.reservedAdd(0x3ff0000n, 0x10000n, 3);
    e.layoutNew();
    expect(claim(0x3f00000n, 0x80000n, "y")).toBe(true);
    // 0x90000 bytes do not fit in [0x3f80000, 0x3ff0000): the next room is below y.
    expect(place(0x90000n, 0x1000n, 0x100000n, 0x1_0000_0000n, true, "initrd")).toBe(0x3f00000n - 0x90000n);
    expect(place(0x1000n, 0x1000n, 0x100000n, 0x1_0000_0000n, true, "small")).toBe(0x3fef000n);
  });

  it("reports no room with the size and the window", () => {
    ram64();
    expect(place(65n * MiB, 0x1000n, 0x100000n, 0x1_0000_0000n, true, "the initrd")).toBe(0xffff_ffff_ffff_ffffn);
    expect(error()).toBe("no room for the initrd (65 MiB) in the VM's RAM between [0x100000, 0x100000000)");
  });

  it("builds the memory map from RAM regions and reserved ranges, sorted, low memory ending at 0x9f000", () => {
    e.ramAdd(4n * GiB, 0x2_0000_0000n, 1n * GiB); // listed first, sorted out
    e.ramAdd(0n, 0x1_0000_0000n, 3n * GiB);
    e.reservedAdd(0xfec00000n, 0x1000n, 2); // IOAPIC, not RAM
    e.reservedAdd(0xbfff0000n, 0x10000n, 3); // ACPI tables at the top of low RAM
    e.reservedAdd(0xe0000n, 0x1000n, 4); // NVS inside the legacy area
    e.layoutNew();
    const n = e.mapCompute();
    const map = [];
    for (let i = 0; i < n; i++) map.push([e.mapBase(i), e.mapLength(i), e.mapType(i)]);
    expect(map).toEqual([
      [0n, 0x9f000n, 1],
      [0x9f000n, 0x41000n, 2],
      [0xe0000n, 0x1000n, 4],
      [0xe1000n, 0x1f000n, 2],
      [0x100000n, 0xbfef0000n, 1],
      [0xbfff0000n, 0x10000n, 3],
      [0xfec00000n, 0x1000n, 2],
      [0x1_0000_0000n, 0x4000_0000n, 1],
    ]);
  });
});
