// The split virtqueue (vmm/devices/virtio/virtqueue.ts, virtio 1.2 section
// 2.7): the test is the driver, laying out descriptor tables and rings in fake
// guest RAM byte by byte as Linux's virtio_ring would, and checks what the
// device takes, what it gives back, when it asks for interrupts and kicks, and
// that every rule a hostile driver can break stops the queue with a reason
// instead of hurting the host.
import { beforeEach, describe, expect, it } from "vitest";
import { load, PhysMemory } from "./harness";

interface VirtqueueExports {
  setup(gpa: bigint, hpa: bigint, size: bigint, maxSize: number, capacity: number): void;
  configure(size: number, desc: bigint, driver: bigint, device: bigint): void;
  setFeatures(eventIdx: number, indirectDesc: number): void;
  features(): number;
  enable(): number;
  reset(): void;
  size(): number;
  ready(): number;
  lastAvail(): number;
  pop(): number;
  unpop(count: number): void;
  error(): number;
  push(head: number, written: number): void;
  needsInterrupt(): number;
  suppressNotifications(): void;
  armNotification(): number;
  head(): number;
  count(): number;
  readableCount(): number;
  readableBytes(): bigint;
  writableBytes(): bigint;
  bufferAddr(i: number): bigint;
  bufferLen(i: number): number;
  bufferWritable(i: number): number;
  readBytes(offset: bigint, start: number, count: number): number;
  writeBytes(offset: bigint, start: number, count: number): number;
  scratchGet(i: number): number;
  scratchSet(i: number, v: number): void;
  memoryPages(): number;
  churn(rounds: number): number;
  __getString(ptr: number): string;
}

const GiB = 1n << 30n;
const RAM = 8n * GiB; // guest RAM at GPA 0: big enough for a 4 GiB buffer
const HPA = 0x1_0000_0000n; // where it lies in (fake) host memory
const DESC = 0x1000n, AVAIL = 0x2000n, USED = 0x3000n;
const NEXT = 1, WRITE = 2, INDIRECT = 4;
const MAX = 256;

let phys: PhysMemory;
let e: VirtqueueExports;

// The driver's side of one queue, writing guest RAM as virtio_ring does.
class Driver {
  availIdx = 0;
  constructor(public size: number) {}
  desc(i: number, addr: bigint, len: number, flags: number, next = 0, table = DESC): void {
    const d = HPA + table + 16n * BigInt(i);
    phys.write64(d, addr);
    phys.write32(d + 8n, len);
    phys.write16(d + 12n, flags);
    phys.write16(d + 14n, next);
  }
  // Puts `heads` in the available ring, then publishes them with one idx.
  offer(...heads: number[]): void {
    for (const h of heads) phys.write16(HPA + AVAIL + 4n + 2n * BigInt(this.availIdx++ % this.size), h);
    this.setIdx(this.availIdx);
  }
  setIdx(idx: number): void {
    phys.write16(HPA + AVAIL + 2n, idx & 0xffff);
  }
  set availFlags(v: number) {
    phys.write16(HPA + AVAIL, v);
  }
  set usedEvent(v: number) {
    phys.write16(HPA + AVAIL + 4n + 2n * BigInt(this.size), v);
  }
  get usedIdx(): number {
    return phys.read16(HPA + USED + 2n);
  }
  get usedFlags(): number {
    return phys.read16(HPA + USED);
  }
  get availEvent(): number {
    return phys.read16(HPA + USED + 4n + 8n * BigInt(this.size));
  }
  used(i: number): [number, number] {
    const at = HPA + USED + 4n + 8n * BigInt(i % this.size);
    return [phys.read32(at), phys.read32(at + 4n)];
  }
}

const str = (ptr: number) => (ptr ? e.__getString(ptr >>> 0) : null);
const error = () => str(e.error());
const enable = () => str(e.enable());

// A fresh queue of `size` entries at DESC, AVAIL and USED, enabled.
function start(size = 8, opts: { eventIdx?: boolean; indirect?: boolean; capacity?: number } = {}): Driver {
  e.setup(0n, HPA, RAM, MAX, opts.capacity ?? 16);
  e.configure(size, DESC, AVAIL, USED);
  e.setFeatures(opts.eventIdx ? 1 : 0, opts.indirect ?? true ? 1 : 0);
  expect(enable()).toBeNull();
  return new Driver(size);
}

function buffers(): Array<[bigint, number, boolean]> {
  return Array.from(
    { length: e.count() },
    (_, i) => [e.bufferAddr(i), e.bufferLen(i) >>> 0, e.bufferWritable(i) === 1],
  );
}

beforeEach(async () => {
  phys = new PhysMemory();
  e = (await load<VirtqueueExports>("virtqueue.ts", { phys })).exports;
});

describe("enable()", () => {
  beforeEach(() => e.setup(0n, HPA, 1n << 20n, MAX, 16));

  it("accepts a power-of-two size up to the maximum with aligned areas in RAM", () => {
    expect(e.size()).toBe(MAX); // the maximum until the driver writes another
    e.configure(8, DESC, AVAIL + 2n, USED + 4n);
    expect(enable()).toBeNull();
    expect(e.ready()).toBe(1);
  });

  it("is given a device maximum that is a power of two up to 32768, or the host stops", () => {
    for (const max of [3, 0, 32768 + 4096]) {
      expect(() => e.setup(0n, HPA, 1n << 20n, max, 16)).toThrow(/bad maximum size/);
    }
    e.setup(0n, HPA, 1n << 20n, 32768, 16);
    expect(e.size()).toBe(32768);
  });

  it("rejects sizes of 3, 0 and above the maximum", () => {
    for (const size of [3, 0, 2 * MAX, 65535]) {
      e.configure(size, DESC, AVAIL, USED);
      expect(enable()).toBe(`queue size ${size} is not a power of two up to ${MAX}`);
      expect(e.ready()).toBe(0);
    }
  });

  it("rejects misaligned areas (2.7: 16, 2 and 4 bytes)", () => {
    e.configure(8, DESC + 8n, AVAIL, USED);
    expect(enable()).toBe("descriptor table at 0x1008 is not aligned to 16 bytes");
    e.configure(8, DESC, AVAIL + 1n, USED);
    expect(enable()).toBe("available ring at 0x2001 is not aligned to 2 bytes");
    e.configure(8, DESC, AVAIL, USED + 2n);
    expect(enable()).toBe("used ring at 0x3002 is not aligned to 4 bytes");
  });

  it("rejects areas not all in RAM, whole sizes counted (6 + 2n, 6 + 8n)", () => {
    const end = 1n << 20n;
    e.configure(8, end - 0x70n, AVAIL, USED);
    expect(enable()).toBe("descriptor table at 0xfff90 (128 bytes) is not all RAM");
    e.configure(8, DESC, end - 20n, USED);
    expect(enable()).toBe("available ring at 0xfffec (22 bytes) is not all RAM");
    e.configure(8, DESC, AVAIL, end - 68n);
    expect(enable()).toBe("used ring at 0xfffbc (70 bytes) is not all RAM");
    e.configure(8, DESC, AVAIL, 0xffff_ffff_ffff_fff0n);
    expect(enable()).toMatch(/^used ring at 0xfffffffffffffff0 .* is not all RAM$/);
    e.configure(8, DESC, end - 22n, end - 72n);
    expect(enable()).toBeNull(); // exactly to the end
  });

  it("reset() forgets the configuration, the features and the indices", () => {
    e.configure(8, DESC, AVAIL, USED);
    e.setFeatures(1, 1);
    expect(enable()).toBeNull();
    const d = new Driver(8);
    d.desc(0, 0x10000n, 4, 0);
    d.offer(0);
    expect(e.pop()).toBe(1);
    e.reset();
    expect([e.size(), e.ready(), e.features(), e.lastAvail(), e.pop()]).toEqual([MAX, 0, 0, 0, 0]);
    // The driver sets the queue up again, its rings zeroed: nothing to take.
    d.setIdx(0);
    e.configure(8, DESC, AVAIL, USED);
    expect(enable()).toBeNull();
    expect([e.lastAvail(), e.pop(), error()]).toEqual([0, 0, null]);
  });
});

describe("taking chains", () => {
  it("takes one readable and one writable buffer, and copies both ways within them", () => {
    const d = start();
    phys.writeString(HPA + 0x10000n, "0123456789abcdef", false);
    phys.fill(HPA + 0x11000n, 64, 0xee);
    d.desc(0, 0x10000n, 16, NEXT, 1);
    d.desc(1, 0x11000n, 32, WRITE);
    expect(e.pop()).toBe(0); // nothing offered yet
    d.offer(0);
    expect(e.pop()).toBe(1);
    expect(error()).toBeNull();
    expect(e.head()).toBe(0);
    expect(buffers()).toEqual([[0x10000n, 16, false], [0x11000n, 32, true]]);
    expect([e.readableCount(), e.readableBytes(), e.writableBytes()]).toEqual([1, 16n, 32n]);

    expect(e.readBytes(4n, 10, 100)).toBe(12); // bounded by the readable part
    const got = Array.from({ length: 12 }, (_, i) => String.fromCharCode(e.scratchGet(10 + i))).join("");
    expect(got).toBe("456789abcdef");
    expect(e.readBytes(16n, 0, 1)).toBe(0);

    for (let i = 0; i < 40; i++) e.scratchSet(i, i + 1);
    expect(e.writeBytes(20n, 0, 40)).toBe(12); // bounded by the writable part
    expect(Array.from(phys.readBytes(HPA + 0x11000n + 19n, 14))).toEqual([0xee, ...range(1, 13), 0xee]);
    expect(phys.read8(HPA + 0x10000n)).toBe(0x30); // the readable buffer is never written
    expect(e.pop()).toBe(0);
    expect(error()).toBeNull();
  });

  it("follows NEXT links in any order, and copies across buffer borders", () => {
    const d = start();
    d.desc(5, 0x10000n, 3, NEXT, 2);
    d.desc(2, 0x20000n, 5, NEXT, 7);
    d.desc(7, 0x30000n, 0, NEXT, 0); // empty buffers are allowed
    d.desc(0, 0x40000n, 4, WRITE | NEXT, 6);
    d.desc(6, 0x50000n, 4, WRITE);
    phys.writeBytes(HPA + 0x10000n, [1, 2, 3]);
    phys.writeBytes(HPA + 0x20000n, [4, 5, 6, 7, 8]);
    d.offer(5);
    expect(e.pop()).toBe(1);
    expect(e.head()).toBe(5);
    expect(buffers().map(([a]) => a)).toEqual([0x10000n, 0x20000n, 0x30000n, 0x40000n, 0x50000n]);
    expect([e.count(), e.readableCount(), e.readableBytes(), e.writableBytes()]).toEqual([5, 3, 8n, 8n]);
    expect(e.readBytes(1n, 0, 6)).toBe(6);
    expect(range(0, 6).map((i) => e.scratchGet(i))).toEqual([2, 3, 4, 5, 6, 7]);
    for (let i = 0; i < 8; i++) e.scratchSet(i, 0xa0 + i);
    expect(e.writeBytes(2n, 0, 4)).toBe(4);
    expect(Array.from(phys.readBytes(HPA + 0x40000n, 4))).toEqual([0, 0, 0xa0, 0xa1]);
    expect(Array.from(phys.readBytes(HPA + 0x50000n, 4))).toEqual([0xa2, 0xa3, 0, 0]);
    expect(e.writeBytes(0n, 0, 100)).toBe(8);
  });

  it("takes a copy helper's 8-byte steps and its byte tail alike", () => {
    const d = start();
    const bytes = range(0, 29).map((i) => (i * 7 + 3) & 0xff);
    phys.writeBytes(HPA + 0x10001n, bytes);
    d.desc(0, 0x10001n, 29, NEXT, 1);
    d.desc(1, 0x20003n, 29, WRITE);
    d.offer(0);
    expect(e.pop()).toBe(1);
    expect(e.readBytes(0n, 0, 29)).toBe(29);
    expect(e.writeBytes(0n, 0, 29)).toBe(29);
    expect(Array.from(phys.readBytes(HPA + 0x20003n, 29))).toEqual(bytes);
    expect(e.readBytes(0n, 4090, 29)).toBe(6); // bounded by the caller's buffer
    expect(e.readBytes(0n, 4096, 1)).toBe(0);
    expect(e.readBytes(0n, -1, 1)).toBe(0);
  });

  it("takes chains in the order offered, several per idx update", () => {
    const d = start();
    for (const i of [1, 4, 3]) d.desc(i, 0x10000n * BigInt(i), i, 0);
    d.offer(4, 1, 3);
    const heads = [];
    while (e.pop()) heads.push([e.head(), e.readableBytes()]);
    expect(heads).toEqual([[4, 4n], [1, 1n], [3, 3n]]);
    expect(error()).toBeNull();
  });

  it("gives chains back with unpop(), to be taken again in order", () => {
    const d = start();
    for (const i of [1, 4, 3]) d.desc(i, 0x10000n * BigInt(i), i, 0);
    d.offer(4, 1, 3);
    expect(e.pop() && e.pop()).toBeTruthy();
    e.unpop(2);
    const heads = [];
    while (e.pop()) heads.push(e.head());
    expect(heads).toEqual([4, 1, 3]);
  });

  it("reads the available idx again only once it has taken the chains it last saw, unpopped ones counted", () => {
    const d = start();
    for (const i of [1, 2]) d.desc(i, 0x10000n * BigInt(i), i, 0);
    d.offer(1, 2);
    expect(e.pop()).toBe(1);
    // Garbage in idx now: the chain already seen is still taken, given back
    // and taken again; the next look at idx finds the garbage.
    d.setIdx(100);
    expect([e.pop(), e.head()]).toEqual([1, 2]);
    e.unpop(1);
    expect([e.pop(), e.head(), error()]).toEqual([1, 2, null]);
    expect(e.pop()).toBe(0);
    expect(error()).toBe("available idx jumped from 2 to 100, more than the queue size 8");
  });

  it("takes an indirect table, ignoring the WRITE flag on the descriptor that refers to it (2.7.5.3.2)", () => {
    const d = start(8, { indirect: true });
    const TABLE = 0x8000n;
    d.desc(0, 0x10000n, 8, NEXT, 2, TABLE);
    d.desc(1, 0x30000n, 100, WRITE, 0, TABLE);
    d.desc(2, 0x20000n, 16, NEXT, 1, TABLE);
    d.desc(3, TABLE, 48, INDIRECT | WRITE);
    d.offer(3);
    expect(e.pop()).toBe(1);
    expect(e.head()).toBe(3);
    expect(buffers()).toEqual([[0x10000n, 8, false], [0x20000n, 16, false], [0x30000n, 100, true]]);
  });

  it("takes direct descriptors followed by one indirect one (2.7.5.3.2)", () => {
    const d = start(8, { indirect: true });
    const TABLE = 0x8000n;
    d.desc(0, 0x10000n, 12, NEXT, 1);
    d.desc(1, TABLE, 16, INDIRECT);
    d.desc(0, 0x30000n, 4, WRITE, 0, TABLE);
    d.offer(0);
    expect(e.pop()).toBe(1);
    expect(buffers()).toEqual([[0x10000n, 12, false], [0x30000n, 4, true]]);
  });

  it("takes a short chain from an indirect table bigger than the queue: the chain is what counts", () => {
    const d = start(8, { indirect: true });
    d.desc(0, 0x8000n, 16 * 64, INDIRECT);
    d.desc(0, 0x10000n, 4, NEXT, 63, 0x8000n);
    d.desc(63, 0x20000n, 4, WRITE, 0, 0x8000n);
    d.offer(0);
    expect(e.pop()).toBe(1);
    expect(buffers()).toEqual([[0x10000n, 4, false], [0x20000n, 4, true]]);
  });

  it("wraps the 16-bit indices: 70,000 requests through a queue of 4", () => {
    const d = start(4);
    for (let i = 0; i < 4; i++) d.desc(i, 0x10000n + BigInt(i), 1, WRITE);
    for (let n = 0; n < 70_000; n++) {
      d.offer(n % 4);
      expect(e.pop()).toBe(1);
      expect(e.head()).toBe(n % 4);
      e.push(n % 4, n & 0xff);
    }
    expect(e.lastAvail()).toBe(70_000 & 0xffff);
    expect(d.usedIdx).toBe(70_000 & 0xffff);
    expect(d.used(69_999)).toEqual([69_999 % 4, 69_999 & 0xff]);
    expect(e.pop()).toBe(0);
    expect(error()).toBeNull();
  });
});

describe("returning chains", () => {
  it("writes id and len into the next used element, then advances idx", () => {
    const d = start();
    for (let i = 0; i < 8; i++) d.desc(i, 0x10000n, 64, WRITE);
    d.offer(6, 2);
    expect(e.pop() && e.pop()).toBe(1);
    e.push(2, 17);
    expect([d.usedIdx, d.used(0)]).toEqual([1, [2, 17]]);
    e.push(6, 0);
    expect([d.usedIdx, d.used(1)]).toEqual([2, [6, 0]]);
  });
});

describe("interrupts (2.7.7)", () => {
  it("without EVENT_IDX: one for what was pushed since, unless NO_INTERRUPT is set", () => {
    const d = start();
    d.desc(0, 0x10000n, 64, WRITE);
    expect(e.needsInterrupt()).toBe(0); // nothing used yet
    e.push(0, 1);
    expect(e.needsInterrupt()).toBe(1);
    expect(e.needsInterrupt()).toBe(0); // already told
    d.availFlags = 1;
    e.push(0, 1);
    expect(e.needsInterrupt()).toBe(0);
    d.availFlags = 0;
    e.push(0, 1);
    e.push(0, 1);
    expect(e.needsInterrupt()).toBe(1);
  });

  it("with EVENT_IDX: only when the entry at used_event was written, and flags ignored", () => {
    const d = start(8, { eventIdx: true });
    d.availFlags = 1; // the device MUST ignore it
    d.usedEvent = 0; // the spec's example: after the first buffer
    e.push(0, 1);
    expect(e.needsInterrupt()).toBe(1);
    d.usedEvent = 2;
    e.push(0, 1); // entry 1
    expect(e.needsInterrupt()).toBe(0);
    e.push(0, 1); // entry 2
    e.push(0, 1); // entry 3
    expect(e.needsInterrupt()).toBe(1); // 2 was among them
    e.push(0, 1); // entry 4
    expect(e.needsInterrupt()).toBe(0); // 2 is behind
    d.availFlags = 0;
    d.usedEvent = 4; // moved back to an entry already told about
    expect(e.needsInterrupt()).toBe(0);
  });

  it("with EVENT_IDX: across the wrap of the used idx", () => {
    const d = start(4, { eventIdx: true });
    d.usedEvent = 0xffff;
    d.desc(0, 0x10000n, 64, WRITE);
    for (let n = 0; n < 65534; n++) {
      d.offer(0);
      e.pop();
      e.push(0, 0);
      expect(e.needsInterrupt()).toBe(0);
    }
    expect(d.usedIdx).toBe(65534);
    e.push(0, 0); // entry 65534
    e.push(0, 0); // entry 65535: used_event
    e.push(0, 0); // entry 0: idx wraps to 1
    expect(d.usedIdx).toBe(1);
    expect(e.needsInterrupt()).toBe(1);
    d.usedEvent = 1;
    e.push(0, 0); // entry 1
    e.push(0, 0); // entry 2
    expect(e.needsInterrupt()).toBe(1);
    d.usedEvent = 0xfffe; // far behind: not before the idx wraps again
    e.push(0, 0);
    expect(e.needsInterrupt()).toBe(0);
  });
});

describe("kicks (2.7.10)", () => {
  it("without EVENT_IDX: NO_NOTIFY in the used ring while busy, cleared when re-armed", () => {
    const d = start();
    d.desc(0, 0x10000n, 4, 0);
    e.suppressNotifications();
    expect(d.usedFlags).toBe(1);
    expect(e.armNotification()).toBe(0); // nothing waiting
    expect(d.usedFlags).toBe(0);
    e.suppressNotifications();
    d.offer(0); // offered while the device looked away
    expect(e.armNotification()).toBe(1); // so it must look again
    expect(e.pop()).toBe(1);
    expect(e.armNotification()).toBe(0);
    expect(d.availEvent).toBe(0); // untouched without EVENT_IDX
  });

  it("with EVENT_IDX: avail_event names the next entry the device takes; flags stay 0", () => {
    const d = start(8, { eventIdx: true });
    for (let i = 0; i < 8; i++) d.desc(i, 0x10000n, 4, 0);
    e.suppressNotifications();
    expect(d.usedFlags).toBe(0); // the device MUST set flags to 0
    d.offer(1, 2, 3);
    expect(e.pop() && e.pop()).toBe(1);
    expect(e.armNotification()).toBe(1); // chain 3 is waiting
    expect(d.availEvent).toBe(2);
    expect(e.pop()).toBe(1);
    expect(e.armNotification()).toBe(0);
    expect(d.availEvent).toBe(3);
    expect(d.usedFlags).toBe(0);
  });
});

describe("a driver that breaks the rules", () => {
  // Each case: what the driver writes, and the reason the device gives.
  const cases: Array<[string, (d: Driver) => void, RegExp, { indirect?: boolean; size?: number }?]> = [
    ["a loop of two descriptors", (d) => {
      d.desc(0, 0x10000n, 4, NEXT, 1);
      d.desc(1, 0x10000n, 4, NEXT, 0);
      d.offer(0);
    }, /^chain 0: descriptor 0 closes a loop$/],
    ["a descriptor that is its own next", (d) => {
      d.desc(3, 0x10000n, 4, WRITE | NEXT, 3);
      d.offer(3);
    }, /^chain 3: descriptor 3 closes a loop$/],
    ["a next index past the table", (d) => {
      d.desc(0, 0x10000n, 4, NEXT, 8);
      d.offer(0);
    }, /^chain 0: descriptor 0 has next 8, past the table's 8 entries$/],
    ["a head index past the table", (d) => d.offer(8), /^available ring entry 0 holds head 8, past the queue size 8$/],
    [
      "an available idx that jumps by more than the queue size",
      (d) => d.setIdx(9),
      /^available idx jumped from 0 to 9, more than the queue size 8$/,
    ],
    ["an available idx that goes back", (d) => {
      d.desc(0, 0x10000n, 4, 0);
      d.offer(0, 0);
      expect(e.pop() && e.pop()).toBe(1);
      d.setIdx(1);
    }, /^available idx jumped from 2 to 1, more than the queue size 8$/],
    ["a buffer past the end of RAM", (d) => {
      d.desc(0, RAM - 4n, 8, 0);
      d.offer(0);
    }, /^chain 0: descriptor 0 has a buffer of 8 bytes at 0x1fffffffc, outside RAM$/],
    ["a buffer whose end wraps around 2^64", (d) => {
      d.desc(0, 0x10000n, 4, NEXT, 1);
      d.desc(1, 0xffff_ffff_ffff_fff0n, 0x20, WRITE);
      d.offer(0);
    }, /^chain 0: descriptor 1 has a buffer of 32 bytes at 0xfffffffffffffff0, outside RAM$/],
    ["a readable buffer after a writable one (2.7.4.2)", (d) => {
      d.desc(0, 0x10000n, 4, WRITE | NEXT, 1);
      d.desc(1, 0x20000n, 4, 0);
      d.offer(0);
    }, /^chain 0: descriptor 1 is device-readable after a device-writable one$/],
    ["a chain of more than 2^32 bytes", (d) => {
      d.desc(0, 0n, 0xffff_ffff, NEXT, 1);
      d.desc(1, 0n, 2, 0);
      d.offer(0);
    }, /^chain 0: descriptor 1 makes the chain longer than 2\^32 bytes$/],
    [
      "more buffers than the device's Chain holds",
      (d) => {
        for (let i = 0; i < 17; i++) d.desc(i, 0x10000n, 1, NEXT, i + 1);
        d.desc(17, 0x10000n, 1, 0);
        d.offer(0);
      },
      /^chain 0: descriptor 16 makes the chain longer than the device takes, 16 buffers$/,
      { size: 32 },
    ],
    [
      "INDIRECT when it was not negotiated",
      (d) => {
        d.desc(0, 0x8000n, 16, INDIRECT);
        d.offer(0);
      },
      /^chain 0: descriptor 0 is INDIRECT, which was not negotiated$/,
      { indirect: false },
    ],
    ["INDIRECT with NEXT", (d) => {
      d.desc(0, 0x8000n, 16, INDIRECT | NEXT, 1);
      d.offer(0);
    }, /^chain 0: descriptor 0 has both INDIRECT and NEXT$/],
    ["an indirect table of 0 bytes", (d) => {
      d.desc(0, 0x8000n, 0, INDIRECT);
      d.offer(0);
    }, /^chain 0: descriptor 0 has an indirect table of 0 bytes, not 16 per entry$/],
    ["an indirect table of 24 bytes", (d) => {
      d.desc(0, 0x8000n, 24, INDIRECT);
      d.offer(0);
    }, /^chain 0: descriptor 0 has an indirect table of 24 bytes, not 16 per entry$/],
    ["an indirect table outside RAM", (d) => {
      d.desc(0, RAM - 16n, 32, INDIRECT);
      d.offer(0);
    }, /^chain 0: descriptor 0 has an indirect table at 0x1fffffff0 outside RAM$/],
    ["a chain in an indirect table longer than the queue (2.7.5.3.1)", (d) => {
      d.desc(0, 0x8000n, 16 * 9, INDIRECT);
      for (let i = 0; i < 8; i++) d.desc(i, 0x10000n, 1, NEXT, i + 1, 0x8000n);
      d.desc(8, 0x10000n, 1, 0, 0, 0x8000n);
      d.offer(0);
    }, /^chain 0: indirect descriptor 8 makes the chain longer than the queue size 8$/],
    ["INDIRECT inside an indirect table", (d) => {
      d.desc(0, 0x8000n, 32, INDIRECT);
      d.desc(0, 0x10000n, 4, NEXT, 1, 0x8000n);
      d.desc(1, 0x9000n, 16, INDIRECT, 0, 0x8000n);
      d.offer(0);
    }, /^chain 0: indirect descriptor 1 is INDIRECT inside an indirect table$/],
    ["a loop inside an indirect table", (d) => {
      d.desc(2, 0x8000n, 48, INDIRECT);
      d.desc(0, 0x10000n, 4, NEXT, 1, 0x8000n);
      d.desc(1, 0x10000n, 4, NEXT, 2, 0x8000n);
      d.desc(2, 0x10000n, 4, NEXT, 1, 0x8000n);
      d.offer(2);
    }, /^chain 2: indirect descriptor 1 closes a loop$/],
    ["a next past the end of an indirect table", (d) => {
      d.desc(0, 0x8000n, 32, INDIRECT);
      d.desc(0, 0x10000n, 4, NEXT, 1, 0x8000n);
      d.desc(1, 0x10000n, 4, NEXT, 2, 0x8000n); // entry 2 lies past len / 16
      d.offer(0);
    }, /^chain 0: indirect descriptor 1 has next 2, past the table's 2 entries$/],
    ["a readable buffer after a writable one in an indirect table", (d) => {
      d.desc(0, 0x8000n, 32, INDIRECT);
      d.desc(0, 0x10000n, 4, WRITE | NEXT, 1, 0x8000n);
      d.desc(1, 0x10000n, 4, 0, 0, 0x8000n);
      d.offer(0);
    }, /^chain 0: indirect descriptor 1 is device-readable after a device-writable one$/],
    ["direct and indirect descriptors together longer than the queue", (d) => {
      for (let i = 0; i < 3; i++) d.desc(i, 0x10000n, 1, NEXT, i + 1);
      d.desc(3, 0x8000n, 16 * 8, INDIRECT);
      for (let i = 0; i < 7; i++) d.desc(i, 0x10000n, 1, NEXT, i + 1, 0x8000n);
      d.desc(7, 0x10000n, 1, 0, 0, 0x8000n);
      d.offer(0);
    }, /^chain 0: indirect descriptor 5 makes the chain longer than the queue size 8$/],
  ];

  for (const [name, write, reason, opts] of cases) {
    it(`stops the queue on ${name}`, () => {
      const d = start(opts?.size ?? 8, { indirect: opts?.indirect ?? true });
      write(d);
      expect(e.pop()).toBe(0);
      expect(error()).toMatch(reason);
      expect(e.count()).toBe(0);
      // No more work until reset, even a good chain.
      d.desc(5, 0x10000n, 4, 0);
      d.offer(5);
      expect(e.pop()).toBe(0);
      expect(error()).toMatch(reason);
      expect(e.armNotification()).toBe(0); // a drain loop ends
      e.reset();
      e.configure(8, DESC, AVAIL, USED);
      expect(enable()).toBeNull();
      expect(error()).toBeNull();
    });
  }

  it("takes a chain of exactly 2^32 bytes, the most a driver may offer", () => {
    const d = start();
    d.desc(0, 0n, 0xffff_ffff, NEXT, 1);
    d.desc(1, 0n, 1, WRITE);
    d.offer(0);
    expect(e.pop()).toBe(1);
    expect([e.readableBytes(), e.writableBytes()]).toEqual([0xffff_ffffn, 1n]);
  });

  it("survives random descriptor tables: each pop ends, with buffers in RAM or a reason", () => {
    const random = mulberry32(20260517);
    const pick = (n: number) => Math.floor(random() * n);
    const SIZE = 16, TABLES = [0x8000n, 0x9000n];
    let taken = 0, refused = 0, empty = 0;
    const reasons = new Set<string>();
    for (let trial = 0; trial < 400; trial++) {
      const capacity = 1 + pick(24);
      const d = start(SIZE, { indirect: pick(4) !== 0, eventIdx: pick(2) === 1, capacity });
      // A third of the tables are nearly right: small buffers in RAM, links
      // in range, so that long chains, loops and success are common too.
      const tidy = pick(3) === 0;
      const addr = (): bigint => {
        if (tidy) return pick(8) === 0 ? TABLES[pick(2)] : BigInt(pick(0x100000));
        const r = pick(10);
        if (r < 6) return BigInt(pick(0x100000));
        if (r < 7) return TABLES[pick(2)];
        if (r < 8) return RAM - BigInt(pick(64));
        if (r < 9) return BigInt.asUintN(64, -BigInt(pick(64)));
        return BigInt(pick(2 ** 30)) * 64n;
      };
      const len = (): number => tidy ? 16 * pick(6) : [pick(64), 16 * pick(20), pick(2 ** 32), 0, 0xffff_ffff][pick(5)];
      const flags = (): number =>
        tidy ? [NEXT, NEXT, NEXT | WRITE, WRITE, 0, INDIRECT][pick(6)] : pick(8) === 0 ? pick(0x10000) : pick(8);
      for (const table of [DESC, ...TABLES]) {
        for (let i = 0; i < SIZE + 4; i++) d.desc(i, addr(), len(), flags(), pick(tidy ? SIZE : SIZE + 4), table);
      }
      for (let i = 0; i < SIZE; i++) phys.write16(HPA + AVAIL + 4n + 2n * BigInt(i), pick(tidy ? SIZE : SIZE + 4));
      d.setIdx(pick(5) === 0 ? pick(0x10000) : pick(SIZE + 1));
      for (let n = 0; n < SIZE + 2; n++) {
        if (!e.pop()) {
          if (error() === null) empty++;
          else {
            refused++;
            reasons.add(error()!.replace(/0x[0-9a-f]+|\d+/g, "#"));
          }
          break;
        }
        taken++;
        expect(e.count()).toBeLessThanOrEqual(Math.min(SIZE, capacity));
        let readable = 0n, writable = 0n;
        for (const [a, l, w] of buffers()) {
          expect(a + BigInt(l)).toBeLessThanOrEqual(RAM);
          if (w) writable += BigInt(l);
          else {
            expect(writable).toBe(0n); // readable ones first
            readable += BigInt(l);
          }
        }
        expect([e.readableBytes(), e.writableBytes()]).toEqual([readable, writable]);
        expect(readable + writable).toBeLessThanOrEqual(1n << 32n);
        // The copy helpers stay within what the chain has.
        const min = (a: bigint) => Number(a < 4096n ? a : 4096n);
        expect(e.readBytes(0n, 0, 4096)).toBe(min(readable));
        expect(e.writeBytes(0n, 0, 4096)).toBe(min(writable));
      }
    }
    // The garbage reached both outcomes, not just one.
    expect(taken).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(200);
    expect(empty).toBeGreaterThan(5);
    // And the refusals were of many kinds (15 with this seed).
    expect(reasons.size).toBeGreaterThanOrEqual(14);
    const kinds = [
      "chain #: descriptor # closes a loop",
      "chain #: descriptor # has a buffer of # bytes at #, outside RAM",
      "chain #: descriptor # is device-readable after a device-writable one",
      "chain #: indirect descriptor # is INDIRECT inside an indirect table",
      "chain #: indirect descriptor # has next #, past the table's # entries",
      "chain #: descriptor # makes the chain longer than #^# bytes",
      "available idx jumped from # to #, more than the queue size #",
    ];
    for (const kind of kinds) expect(reasons).toContain(kind);
  });
});

describe("the hot path", () => {
  it("allocates nothing: 50,000 requests popped, copied and pushed leave the heap as it was", async () => {
    e = (await load<VirtqueueExports>("virtqueue.ts", { phys, runtime: "minimal" })).exports;
    const d = start(8);
    d.desc(0, 0x10000n, 64, NEXT, 1);
    d.desc(1, 0x20000n, 64, WRITE);
    expect(e.churn(100)).toBe(100);
    const before = e.memoryPages();
    expect(e.churn(50_000)).toBe(50_000);
    expect(e.memoryPages()).toBe(before);
    expect(d.usedIdx).toBe(50_100 & 0xffff);
  });
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

// A small seeded PRNG (Mulberry32), so a failing trial can be replayed.
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
