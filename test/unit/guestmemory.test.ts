// A VM's RAM made ready lazily (vmm/core/guestmemory.ts): a chunk of 2 MiB is
// zeroed and mapped when the hypervisor or the guest first touches it, never
// before, so what the host's frames held is out of the guest's reach; a copy
// from host memory into chunks not ready waits for them; zero() clears what
// is ready and forgets the copies still waiting.
import { beforeEach, describe, expect, it } from "vitest";
import { load, PhysMemory } from "./harness";

interface GuestMemoryExports {
  reset(gpa: bigint, hpa: bigint, size: bigint, lazy: number): void;
  attach(): void;
  translate(gpa: bigint, length: bigint): bigint;
  prepareForGuest(gpa: bigint): number;
  copyFromHost(gpa: bigint, hostPhys: bigint, length: bigint): number;
  copyImage(gpa: bigint, hostPhys: bigint, length: bigint, lasting: number): number;
  zero(): void;
  mapCount(): number;
  mapGpa(i: number): bigint;
  mapSize(i: number): bigint;
  copyIn(gpa: bigint, length: number, first: number): number;
  copyOutSum(gpa: bigint, length: number): number;
}

const MiB = 1n << 20n;
const CHUNK = 2n * MiB;
const HPA = 0x4000_0000n; // where the VM's 8 MiB of RAM lie in host memory
const MODULE = 0x1000_0000n; // a boot module's bytes
const GARBAGE = 0xa5;

let phys: PhysMemory;
let e: GuestMemoryExports;

beforeEach(async () => {
  phys = new PhysMemory();
  e = (await load<GuestMemoryExports>("guestmemory.ts", { phys })).exports;
  // What the frames held before: a previous VM's data, say.
  for (let c = 0n; c < 4n; c++) {
    phys.write8(HPA + c * CHUNK, GARBAGE);
    phys.write8(HPA + c * CHUNK + CHUNK - 1n, GARBAGE);
  }
});

const maps = () => Array.from({ length: e.mapCount() }, (_, i) => [e.mapGpa(i), e.mapSize(i)]);

describe("lazily ready guest RAM", () => {
  it("maps nothing until a chunk is touched, then zeroes and maps just that chunk", () => {
    e.reset(0n, HPA, 8n * MiB, 1);
    e.attach();
    expect(maps()).toEqual([]);
    expect(e.translate(CHUNK + 16n, 8n)).toBe(HPA + CHUNK + 16n);
    expect(maps()).toEqual([[CHUNK, CHUNK]]);
    expect(phys.read8(HPA + CHUNK)).toBe(0);
    expect(phys.read8(HPA + 2n * CHUNK - 1n)).toBe(0);
    expect(phys.read8(HPA)).toBe(GARBAGE); // untouched chunks keep what they held
    e.translate(CHUNK + 100n, 4n); // already ready: no second map
    expect(maps()).toHaveLength(1);
  });

  it("makes every chunk of a range ready, across chunk borders", () => {
    e.reset(0n, HPA, 8n * MiB, 1);
    e.attach();
    e.translate(CHUNK - 4n, 8n);
    expect(maps()).toEqual([[0n, CHUNK], [CHUNK, CHUNK]]);
    expect(BigInt.asIntN(64, e.translate(8n * MiB - 4n, 8n))).toBe(-1n); // past the end: not RAM, nothing made ready
    expect(maps()).toHaveLength(2);
  });

  it("answers a guest's first access to a chunk, and only the first", () => {
    e.reset(0n, HPA, 8n * MiB, 1);
    e.attach();
    expect(e.prepareForGuest(3n * CHUNK + 5n)).toBe(1);
    expect(maps()).toEqual([[3n * CHUNK, CHUNK]]);
    expect(phys.read8(HPA + 3n * CHUNK)).toBe(0);
    expect(e.prepareForGuest(3n * CHUNK + 7n)).toBe(0); // ready: a real MMIO exit
    expect(e.prepareForGuest(0xfee0_0000n)).toBe(0); // not RAM
  });

  it("maps the chunks made ready before the VM existed when it attaches", () => {
    e.reset(0n, HPA, 8n * MiB, 1);
    e.translate(2n * CHUNK, 1n);
    expect(maps()).toEqual([]);
    e.attach();
    expect(maps()).toEqual([[2n * CHUNK, CHUNK]]);
  });

  it("makes a copy into chunks not ready when each is made ready, and at once into ready ones", () => {
    e.reset(0n, HPA, 8n * MiB, 1);
    e.attach();
    for (let i = 0n; i < CHUNK + 512n; i += 4096n) phys.write8(MODULE + i, 0x11);
    phys.write8(MODULE + CHUNK + 511n, 0x22);
    e.translate(2n * CHUNK + 1024n, 1n); // the copy's second chunk is ready already
    expect(e.copyFromHost(CHUNK, MODULE, CHUNK + 512n)).toBe(1);
    expect(phys.read8(HPA + 2n * CHUNK + 511n)).toBe(0x22); // ready: copied now
    expect(phys.read8(HPA + CHUNK)).toBe(GARBAGE); // not ready: the copy waits
    expect(maps()).toEqual([[2n * CHUNK, CHUNK]]);
    expect(e.prepareForGuest(CHUNK + 8n)).toBe(1); // the guest's first touch
    expect(phys.read8(HPA + CHUNK)).toBe(0x11);
    expect(phys.read8(HPA + CHUNK + 4096n)).toBe(0x11);
    expect(phys.read8(HPA + 2n * CHUNK - 1n)).toBe(0); // the module's zero byte, not the garbage
    expect(maps()).toEqual([[2n * CHUNK, CHUNK], [CHUNK, CHUNK]]);
  });

  it("copies an image read from a disk at once, since its buffer is freed after loading", () => {
    e.reset(0n, HPA, 8n * MiB, 1);
    e.attach();
    phys.write8(MODULE, 0x55);
    phys.write8(MODULE + 4096n, 0x77);
    expect(e.copyImage(CHUNK, MODULE, 1n, 0)).toBe(1); // a partition's image: copied now
    expect(e.copyImage(2n * CHUNK, MODULE + 4096n, 1n, 1)).toBe(1); // a boot module: noted
    expect(maps()).toEqual([[CHUNK, CHUNK]]);
    phys.write8(MODULE, 0x66); // the buffer's frames, reused
    expect(phys.read8(HPA + CHUNK)).toBe(0x55);
    expect(e.prepareForGuest(2n * CHUNK)).toBe(1);
    expect(phys.read8(HPA + 2n * CHUNK)).toBe(0x77);
  });

  it("lets a later copy over the same bytes win, as made in order", () => {
    e.reset(0n, HPA, 8n * MiB, 1);
    phys.write8(MODULE, 0x11);
    phys.write8(MODULE + 4096n, 0x22);
    e.copyFromHost(0n, MODULE, 1n);
    e.copyFromHost(0n, MODULE + 4096n, 1n);
    expect(e.translate(0n, 1n)).toBe(HPA);
    expect(phys.read8(HPA)).toBe(0x22);
  });

  it("zeroes what is ready when the VM restarts, and leaves the rest for later", () => {
    e.reset(0n, HPA, 8n * MiB, 1);
    e.attach();
    const h = e.translate(16n, 1n);
    phys.write8(h, 0x33);
    phys.write8(MODULE, 0x44);
    e.copyFromHost(CHUNK, MODULE, 1n); // waits for its chunk
    e.zero();
    expect(phys.read8(h)).toBe(0);
    expect(phys.read8(HPA + CHUNK)).toBe(GARBAGE); // not ready: zeroed on first touch
    e.translate(CHUNK, 1n);
    expect(phys.read8(HPA + CHUNK)).toBe(0); // and the forgotten copy is not made
  });

  it("takes RAM that is not lazy as it is", () => {
    e.reset(0n, HPA, 8n * MiB, 0);
    expect(e.translate(0n, 1n)).toBe(HPA);
    expect(phys.read8(HPA)).toBe(GARBAGE);
    e.attach();
    expect(maps()).toHaveLength(4);
  });

  it("maps an odd-sized region's last chunk by its size", () => {
    e.reset(0n, HPA, 5n * MiB, 1);
    e.attach();
    e.translate(4n * MiB, 1n);
    expect(maps()).toEqual([[2n * CHUNK, MiB]]);
  });

  it("answers from the chunk it found last only within that chunk, an odd-sized one by its size", () => {
    e.reset(0n, HPA, 5n * MiB, 1);
    e.attach();
    expect(e.translate(4n * MiB + 8n, 8n)).toBe(HPA + 4n * MiB + 8n);
    expect(e.translate(5n * MiB - 4n, 4n)).toBe(HPA + 5n * MiB - 4n);
    // Past the last chunk's 1 MiB lies no RAM, though a chunk is 2 MiB.
    expect(BigInt.asIntN(64, e.translate(5n * MiB - 4n, 8n))).toBe(-1n);
    // From the chunk before into this one: the long way, which makes that one ready too.
    expect(e.translate(4n * MiB - 4n, 8n)).toBe(HPA + 4n * MiB - 4n);
    expect(maps()).toEqual([[2n * CHUNK, MiB], [CHUNK, CHUNK]]);
    expect(e.translate(CHUNK, 0n)).toBe(HPA + CHUNK);
    expect(e.translate(4n * MiB + 8n, 8n)).toBe(HPA + 4n * MiB + 8n);
    expect(maps()).toHaveLength(2);
  });

  it("copies between the hypervisor's buffers and RAM across a chunk border, and refuses a range past RAM", () => {
    e.reset(0n, HPA, 8n * MiB, 1);
    expect(e.copyIn(CHUNK - 5n, 13, 1)).toBe(1);
    expect(Array.from(phys.readBytes(HPA + CHUNK - 5n, 13))).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
    expect(phys.read8(HPA + CHUNK + 8n)).toBe(0); // the rest of both chunks made ready, zeroed
    expect(e.copyOutSum(CHUNK - 5n, 13)).toBe((13 * 14) / 2);
    expect(e.copyIn(8n * MiB - 4n, 13, 1)).toBe(0);
    expect(phys.read8(HPA + 8n * MiB - 1n)).toBe(GARBAGE); // nothing written, nothing made ready
    expect(e.copyOutSum(8n * MiB - 4n, 13)).toBe(-1);
  });
});
