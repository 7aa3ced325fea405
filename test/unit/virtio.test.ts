// virtio devices on a VM's PCI bus (vmm/devices/virtio/, vmm/storage/),
// driven from JS as Linux's virtio_pci, virtio_blk and virtio-rng drive them:
// through configuration space (ECAM) and the BARs only. The test finds the
// virtio structures by walking the capability list, goes through the
// handshake of virtio 1.2, 3.1.1, sets up a split virtqueue in fake guest
// RAM, and sends requests to a virtio-blk disk over a RAM disk (5.2), a
// read-only one, and a virtio-rng (5.4) fed by a stubbed RDSEED/RDRAND. It
// checks the bytes that reach the disk and the guest, the interrupts by
// MSI-X and INTx#, and that a driver breaking the rules gets
// DEVICE_NEEDS_RESET (2.1.2) rather than hurting the host.
import { beforeEach, describe, expect, it } from "vitest";
import { FakeTsc } from "./fakehost";
import { type Exports, load, type Machine, PhysMemory, type Stub } from "./harness";
import {
  ACKNOWLEDGE,
  AVAIL,
  AVAIL_NO_INTERRUPT,
  BAR0,
  bit,
  C,
  COMMAND,
  COMMON_CFG,
  DESC,
  DEVICE_CFG,
  Driver,
  DRIVER,
  DRIVER_OK,
  F_EVENT_IDX,
  F_INDIRECT_DESC,
  F_RO,
  F_VERSION_1,
  FEATURES_OK,
  GuestRam,
  INTERRUPT_PIN,
  ISR_CFG,
  MSI_ADDRESS,
  MSI_CAP,
  msiData,
  MSIX_CAP,
  NEEDS_RESET,
  NEXT,
  NO_VECTOR,
  NOTIFY_CFG,
  PciConfig,
  REVISION,
  Ring,
  SENTINEL,
  STATUS,
  STATUS_INTERRUPT,
  TRANSPORT,
  type Buf,
  type BringUp,
  USED,
  USED_NO_NOTIFY,
  useMachine,
  VENDOR_CAP,
} from "./virtiodriver";

interface VirtioExports {
  build(
    ramHpa: bigint,
    ramSize: bigint,
    diskStart: bigint,
    diskEnd: bigint,
    readOnlyStart: bigint,
    readOnlyEnd: bigint,
    seed: number,
  ): void;
  mmioRead(address: bigint, size: number): bigint;
  mmioWrite(address: bigint, size: number, value: bigint): void;
  ioWrite(port: number, size: number, value: bigint): void;
  lineLevel(line: number): number;
  messageCount(): number;
  messageAddress(i: number): bigint;
  messageData(i: number): number;
  diskTotals(which: number): number;
  buildMultiqueue(iops: number, tscPerMs: bigint, atDisk: number): void;
  multiqueueResumeAt(): bigint;
  multiqueueResume(): void;
  multiqueueHalt(): void;
  endHeld(): void;
  heldRequests(): number;
}

// The machine (test/unit/as/virtio.ts).
const NOT_DUE = (1n << 64n) - 1n;
const DISK_SLOT = 3, READ_ONLY_SLOT = 4, RNG_SLOT = 5;
const MiB = 1n << 20n;
const RAM_HPA = 0x1000_0000n, RAM_SIZE = 4n * MiB; // guest RAM at guest-physical 0
const DISK = 0x2000_0000n, DISK_BYTES = 1 << 20, DISK_SECTORS = 2048;
// A partial last sector is not part of a RAM disk: 128 sectors.
const READ_ONLY = 0x2100_0000n, READ_ONLY_BYTES = 128 * 512 + 100, READ_ONLY_SECTORS = 128;
const DISK_SERIAL = "typervisor-disk0", READ_ONLY_SERIAL = "a-read-only-disk-image.img";

// Device features (5.2.3).
const F_SEG_MAX = bit(2), F_BLK_SIZE = bit(6), F_FLUSH = bit(9), F_MQ = bit(12);
const F_DISCARD = bit(13), F_WRITE_ZEROES = bit(14);
const BLK_FEATURES = F_SEG_MAX | F_BLK_SIZE | F_FLUSH | F_DISCARD | F_WRITE_ZEROES;
// virtio-blk requests (5.2.6).
const T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_DISCARD = 11, T_WRITE_ZEROES = 13;
const S_OK = 0, S_IOERR = 1, S_UNSUPP = 2;

let phys: PhysMemory;
let machine: Machine;
let e: Exports<VirtioExports>;
// What the shim's hw_random(seed, out) does in the current test.
let hwRandom: Stub = () => 0;

// A pseudo-random byte per disk offset, so that every sector differs.
const diskByte = (i: number) => Math.imul(i + 1, 0x9e37_79b1) >>> 24;
const readOnlyByte = (i: number) => (Math.imul(i + 7, 0x85eb_ca6b) >>> 24) ^ 0x5a;
const pattern = (f: (i: number) => number, from: number, length: number) =>
  Uint8Array.from({ length }, (_, i) => f(from + i));
// The disks' contents at the start of each test.
const DISK_IMAGE = pattern(diskByte, 0, DISK_BYTES);
const READ_ONLY_IMAGE = pattern(readOnlyByte, 0, READ_ONLY_BYTES);
const diskAt = (sector: number, bytes: number) => phys.readBytes(DISK + BigInt(sector * 512), bytes);
// Where two byte arrays first differ, or -1: toEqual is slow on a whole disk.
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return -1;
}

// A fresh machine, its shim's calls those of `shim` besides hw_random.
async function start(shim: Record<string, Stub> = {}): Promise<void> {
  phys = new PhysMemory();
  phys.writeBytes(DISK, DISK_IMAGE);
  phys.writeBytes(READ_ONLY, READ_ONLY_IMAGE);
  hwRandom = () => 0;
  const unit = await load<VirtioExports>("virtio.ts", {
    phys,
    shim: { ...shim, hw_random: (seed: number, out: number) => hwRandom(seed, out) },
  });
  e = unit.exports;
  machine = unit.machine;
  useMachine(e, new GuestRam(phys, RAM_HPA));
  e.build(
    RAM_HPA,
    RAM_SIZE,
    DISK,
    DISK + BigInt(DISK_BYTES),
    READ_ONLY,
    READ_ONLY + BigInt(READ_ONLY_BYTES),
    1,
  );
}
beforeEach(() => start());

const messages = () =>
  Array.from({ length: e.messageCount() }, (_, i) => [e.messageAddress(i), e.messageData(i)] as const);
// Level of an INTx line: 1 idle, 0 asserted (active low).
const intxLine = (slot: number) => e.lineLevel(16 + (slot & 3));

// virtio-blk requests (5.2.6): a header, data, a status byte.
interface BlkRequest {
  type: number;
  sector?: bigint | number;
  // Data the device reads after the header (a write's, discard segments),
  out?: Uint8Array;
  // or the room it writes before the status byte (a read's, GET_ID's).
  in?: number;
  // The data's buffers: their sizes (default: one buffer).
  pieces?: number[];
  // All descriptors in an indirect table.
  indirect?: boolean;
  // The header and the data in one buffer; the data and the status in one.
  merged?: boolean;
}

interface Submitted {
  head: number;
  header: bigint;
  data: Buf[];
  status: bigint;
}

class BlkDriver extends Driver {
  // Offers request `r` on the queue whose rings are `ring`.
  submit(r: BlkRequest, ring = this.ring): Submitted {
    const out = r.out ?? new Uint8Array(0), room = r.in ?? 0;
    // The header, and with `merged` a write's data after it.
    const header = this.alloc(16 + (r.merged ? out.length : 0));
    phys.write32(RAM_HPA + header, r.type);
    phys.write32(RAM_HPA + header + 4n, 0);
    phys.write64(RAM_HPA + header + 8n, BigInt(r.sector ?? 0));
    phys.writeBytes(RAM_HPA + header + 16n, r.merged ? out : []);
    const buffers: Buf[] = [{ gpa: header, len: 16 + (r.merged ? out.length : 0), write: false }];
    const data: Buf[] = [];
    if (r.merged) {
      if (out.length > 0) data.push({ gpa: header + 16n, len: out.length, write: false });
    } else {
      let done = 0;
      for (const len of r.pieces ?? (out.length + room > 0 ? [out.length + room] : [])) {
        const gpa = this.alloc(len);
        phys.writeBytes(RAM_HPA + gpa, out.subarray(done, done + len));
        data.push({ gpa, len, write: r.out === undefined });
        done += len;
      }
      buffers.push(...data);
    }
    // The status byte, and with `merged` a read's data before it.
    const last = this.alloc((r.merged ? room : 0) + 1);
    const status = last + BigInt(r.merged ? room : 0);
    phys.write8(RAM_HPA + status, 0xff);
    if (r.merged && room > 0) data.push({ gpa: last, len: room, write: true });
    buffers.push({ gpa: last, len: (r.merged ? room : 0) + 1, write: true });
    const head = ring.offer(buffers, r.indirect ? this.alloc(16 * buffers.length) : undefined);
    return { head, header, data, status };
  }

  // Offers, kicks and takes the answer: status byte, used length, data.
  run(r: BlkRequest): { status: number; len: number; data: Uint8Array } {
    const s = this.submit(r);
    this.notify(0);
    const used = this.ring.takeUsed();
    expect(used.map(([id]) => id)).toEqual([s.head]);
    return { status: phys.read8(RAM_HPA + s.status), len: used[0][1], data: this.dataOf(s) };
  }

  dataOf(s: Submitted): Uint8Array {
    const parts = s.data.map((b) => phys.readBytes(RAM_HPA + b.gpa, b.len));
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

const blk = (slot = DISK_SLOT) => new BlkDriver(slot);
// The notification port (the first structure), and queue `index`'s
// address in the second, in BAR 4 (4.1.4.4).
const notifyPort = (d: Driver) => Number(d.where(NOTIFY_CFG));
function memoryNotify(d: Driver, index: number): bigint {
  const cap = d.caps.filter((c) => c.type === NOTIFY_CFG)[1];
  return d.pci.bar(cap.bar) + BigInt(cap.offset + index * cap.multiplier!);
}
// A discard or write-zeroes segment (5.2.6): sector, number of sectors, flags.
function segments(...list: Array<[number | bigint, number, number?]>): Uint8Array {
  const out = new Uint8Array(16 * list.length), v = new DataView(out.buffer);
  list.forEach(([sector, count, flags], i) => {
    v.setBigUint64(16 * i, BigInt(sector), true);
    v.setUint32(16 * i + 8, count, true);
    v.setUint32(16 * i + 12, flags ?? 0, true);
  });
  return out;
}
const bytes = (length: number, f: (i: number) => number) => Uint8Array.from({ length }, (_, i) => f(i) & 0xff);
const text = (b: Uint8Array) => String.fromCharCode(...b);

// ---------------------------------------------------------------------------

describe("discovery", () => {
  it("finds a modern virtio-blk: 1af4:1042, revision 1, mass storage, INTA#", () => {
    const p = new PciConfig(DISK_SLOT);
    expect(p.read(0)).toBe(0x1042_1af4);
    expect(p.read(REVISION, 1)).toBe(1); // non-transitional (4.1.2.1)
    expect(p.read(REVISION) >>> 8).toBe(0x01_00_00); // class code
    expect(p.read(INTERRUPT_PIN, 1)).toBe(1);
    expect(p.read(STATUS, 2) & 0x10).toBe(0x10); // a capability list
    expect(new PciConfig(READ_ONLY_SLOT).read(0)).toBe(0x1042_1af4);
    expect(new PciConfig(RNG_SLOT).read(0)).toBe(0x1044_1af4);
  });

  it("lists MSI-X, MSI and the four virtio structures in BAR 4 where it says, the notification port first", () => {
    const d = blk();
    expect(d.pci.capabilities().map(([, id]) => id)).toEqual([
      MSIX_CAP,
      MSI_CAP,
      VENDOR_CAP,
      VENDOR_CAP,
      VENDOR_CAP,
      VENDOR_CAP,
      VENDOR_CAP,
    ]);
    const byType = (t: number) => {
      const { type, bar, offset, length, multiplier } = d.cap(t)!;
      return { type, bar, offset, length, multiplier };
    };
    expect(byType(COMMON_CFG)).toEqual({ type: 1, bar: 4, offset: 0x0000, length: 0x1000, multiplier: undefined });
    expect(byType(ISR_CFG)).toEqual({ type: 3, bar: 4, offset: 0x1000, length: 0x1000, multiplier: undefined });
    expect(byType(DEVICE_CFG)).toEqual({ type: 4, bar: 4, offset: 0x2000, length: 60, multiplier: undefined });
    // Two notification structures: the port of I/O BAR 2, every queue at
    // its start (multiplier 0), then the registers in BAR 4.
    const notifications = d.caps.filter((c) => c.type === NOTIFY_CFG);
    expect(notifications.map(({ bar, offset, length, multiplier }) => ({ bar, offset, length, multiplier }))).toEqual([
      { bar: 2, offset: 0, length: 2, multiplier: 0 },
      { bar: 4, offset: 0x3000, length: 4, multiplier: 4 },
    ]);
    expect(d.pci.read(BAR0 + 8) & 0x3).toBe(0x1); // an I/O BAR
    d.pci.write(BAR0 + 8, 4, 0xffff_ffff);
    expect(d.pci.read(BAR0 + 8) & 0xffff).toBe(0xfffd); // of 4 ports
    // cap_len: 16, and 20 for the notification structure with its multiplier.
    for (const c of d.caps) expect(d.pci.read(c.at + 2, 1)).toBe(c.type === NOTIFY_CFG ? 20 : 16);
    // BAR 4 is a 64-bit memory BAR of 16 KiB, placed by the firmware.
    expect(d.pci.read(BAR0 + 16) & 0xf).toBe(0x4);
    expect(d.pci.bar(4)).not.toBe(0n);
    d.pci.write(BAR0 + 16, 4, 0xffff_ffff);
    expect(d.pci.read(BAR0 + 16)).toBe(0xffff_c004);
    // MSI-X: 2 vectors (the queue's and the configuration's), table and
    // pending bits in BAR 1.
    expect(d.pci.read(d.msixAt + 2, 2)).toBe(1);
    expect(d.pci.read(d.msixAt + 4)).toBe(0x0000_0001);
    expect(d.pci.read(d.msixAt + 8)).toBe(0x0000_0801);
  });

  it("reaches the common configuration, ISR and device configuration through BAR 4", () => {
    const d = blk();
    expect(d.read(C.numQueues, 2)).toBe(1);
    expect(d.status).toBe(0);
    expect(d.isr()).toBe(0);
    expect(d.config(0, 4)).toBe(DISK_SECTORS);
    // Memory decoding off: the registers are gone, as for any BAR.
    const at = d.where(COMMON_CFG);
    d.pci.write(COMMAND, 2, 0);
    expect(e.mmioRead(at + BigInt(C.numQueues), 2)).toBe(0xffffn);
  });

  it("gives a device without configuration (virtio-rng) no device configuration structure", () => {
    // Linux's vp_modern_probe() maps a DEVICE_CFG structure if there is one
    // and fails the probe if its length is 0 ("bad capability len 0").
    const d = new Driver(RNG_SLOT);
    expect(d.caps.map((c) => c.type).sort()).toEqual([COMMON_CFG, NOTIFY_CFG, NOTIFY_CFG, ISR_CFG]);
    for (const c of d.caps) expect(c.length).toBeGreaterThan(0);
  });
});

describe("the handshake (3.1.1)", () => {
  it("offers VERSION_1, INDIRECT_DESC, EVENT_IDX and the disk's features; RO on the read-only disk only", () => {
    expect(blk().deviceFeatures()).toBe(TRANSPORT | BLK_FEATURES);
    expect(blk(READ_ONLY_SLOT).deviceFeatures()).toBe(TRANSPORT | F_SEG_MAX | F_BLK_SIZE | F_FLUSH | F_RO);
    expect(new Driver(RNG_SLOT).deviceFeatures()).toBe(TRANSPORT);
    // Feature words past the second read 0.
    const d = blk();
    d.write(C.deviceFeatureSelect, 4, 2);
    expect(d.read(C.deviceFeature, 4)).toBe(0);
  });

  it("walks ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK; a subset of the offer sticks", () => {
    const d = blk();
    d.status = 0;
    expect(d.status).toBe(0);
    d.status = ACKNOWLEDGE;
    expect(d.status).toBe(ACKNOWLEDGE);
    d.status = ACKNOWLEDGE | DRIVER;
    expect(d.status).toBe(ACKNOWLEDGE | DRIVER);
    const subset = F_VERSION_1 | F_FLUSH | F_BLK_SIZE;
    d.setDriverFeatures(subset);
    expect(d.driverFeatures()).toBe(subset);
    d.status = ACKNOWLEDGE | DRIVER | FEATURES_OK;
    expect(d.status).toBe(ACKNOWLEDGE | DRIVER | FEATURES_OK);
    // Features are fixed from now on (3.1.1 step 5).
    d.setDriverFeatures(subset | F_DISCARD);
    expect(d.driverFeatures()).toBe(subset);
    d.status = ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK;
    expect(d.status).toBe(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
    // DEVICE_NEEDS_RESET is the device's to set, not the driver's.
    d.status = ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK | NEEDS_RESET;
    expect(d.status).toBe(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
  });

  it("leaves FEATURES_OK clear for a feature not offered, or without VERSION_1, and DRIVER_OK with it", () => {
    const cases: Array<[string, number, (offered: bigint) => bigint]> = [
      ["MQ, not offered", DISK_SLOT, (f) => f | F_MQ],
      ["RO on a writable disk", DISK_SLOT, (f) => f | F_RO],
      ["DISCARD on the read-only disk", READ_ONLY_SLOT, (f) => f | F_DISCARD],
      ["a bit above 32", DISK_SLOT, (f) => f | bit(40)],
      ["no VERSION_1", DISK_SLOT, (f) => f & ~F_VERSION_1],
      ["nothing at all", DISK_SLOT, () => 0n],
    ];
    for (const [name, slot, accept] of cases) {
      const d = blk(slot);
      expect(d.negotiate(accept), name).toBe(ACKNOWLEDGE | DRIVER);
      d.status = ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK;
      expect(d.status & (FEATURES_OK | DRIVER_OK), name).toBe(0);
    }
    // The read-only disk's RO is fine to accept.
    expect(blk(READ_ONLY_SLOT).negotiate((f) => f) & FEATURES_OK).toBe(FEATURES_OK);
  });

  it("describes the disk in its configuration (5.2.4), unchanged across reads", () => {
    const d = blk();
    const generation = d.generation;
    expect(BigInt(d.config(0, 4)) | (BigInt(d.config(4, 4)) << 32n)).toBe(BigInt(DISK_SECTORS)); // capacity
    expect(d.config(12, 4)).toBe(510); // seg_max: all but the header and status of a 512-entry queue
    expect(d.config(20, 4)).toBe(512); // blk_size
    expect(d.config(34, 2)).toBe(1); // num_queues
    expect(d.config(36, 4)).toBe(0x40_0000); // max_discard_sectors
    expect(d.config(40, 4)).toBe(16); // max_discard_seg
    expect(d.config(44, 4)).toBe(1); // discard_sector_alignment
    expect(d.config(48, 4)).toBe(0x40_0000); // max_write_zeroes_sectors
    expect(d.config(52, 4)).toBe(16); // max_write_zeroes_seg
    expect(d.config(56, 1)).toBe(0); // write_zeroes_may_unmap
    expect(d.config(8, 4)).toBe(0); // size_max: not offered
    expect(d.config(60, 4)).toBe(0); // past the structure
    expect(d.generation).toBe(generation);
    const ro = blk(READ_ONLY_SLOT);
    expect(ro.config(0, 4)).toBe(READ_ONLY_SECTORS); // the partial last sector is not part of it
    expect(ro.config(4, 4)).toBe(0);
  });

  it("forgets features, vectors and queues on reset, and reads status 0", () => {
    const d = blk().bringUp();
    d.status = 0;
    expect(d.status).toBe(0); // the reset is done when status reads 0 (4.1.4.3.2)
    expect(d.driverFeatures()).toBe(0n);
    expect(d.read(C.configMsixVector, 2)).toBe(NO_VECTOR);
    d.write(C.queueSelect, 2, 0);
    expect(d.read(C.queueSize, 2)).toBe(512);
    expect(d.read(C.queueEnable, 2)).toBe(0);
    expect(d.read(C.queueMsixVector, 2)).toBe(NO_VECTOR);
    expect(d.read64(C.queueDesc)).toBe(0n);
  });
});

describe("queue setup (4.1.5.1.3)", () => {
  it("offers a queue of 512, takes a smaller power of two, and freezes it once enabled", () => {
    const d = blk();
    d.negotiate((f) => f);
    d.write(C.queueSelect, 2, 0);
    expect(d.read(C.queueSize, 2)).toBe(512);
    expect(d.read(C.queueNotifyOff, 2)).toBe(0);
    expect(d.read(C.queueEnable, 2)).toBe(0);
    d.write(C.queueSize, 2, 64);
    expect(d.read(C.queueSize, 2)).toBe(64);
    d.write64(C.queueDesc, DESC);
    d.write64(C.queueDriver, AVAIL);
    d.write64(C.queueDevice, USED);
    expect([d.read64(C.queueDesc), d.read64(C.queueDriver), d.read64(C.queueDevice)]).toEqual([DESC, AVAIL, USED]);
    d.write(C.queueEnable, 2, 1);
    expect(d.read(C.queueEnable, 2)).toBe(1);
    d.write(C.queueSize, 2, 32);
    d.write64(C.queueDesc, 0x8000n);
    expect([d.read(C.queueSize, 2), d.read64(C.queueDesc)]).toEqual([64, DESC]);
    expect(d.status & NEEDS_RESET).toBe(0);
    // A queue the device does not have reads size 0 (4.1.4.3.2).
    d.write(C.queueSelect, 2, 1);
    expect(d.read(C.queueSize, 2)).toBe(0);
  });

  it("reads back the MSI-X vectors it has, and NO_VECTOR for one it lacks", () => {
    const d = blk();
    d.write(C.queueSelect, 2, 0);
    d.write(C.queueMsixVector, 2, 1);
    expect(d.read(C.queueMsixVector, 2)).toBe(1);
    d.write(C.queueMsixVector, 2, 2); // two vectors: 0 and 1
    expect(d.read(C.queueMsixVector, 2)).toBe(NO_VECTOR);
    d.write(C.configMsixVector, 2, 0);
    expect(d.read(C.configMsixVector, 2)).toBe(0);
    d.write(C.configMsixVector, 2, 0x7ff);
    expect(d.read(C.configMsixVector, 2)).toBe(NO_VECTOR);
  });
});

describe("virtio-blk requests (5.2.6)", () => {
  it("reads sectors: header, data, status; the disk's bytes and status OK", () => {
    const d = blk().bringUp();
    const r = d.run({ type: T_IN, sector: 5, in: 1024 });
    expect(r.status).toBe(S_OK);
    expect(r.len).toBe(1024 + 1); // the data and the status byte
    expect(r.data).toEqual(diskAt(5, 1024));
    expect(d.run({ type: T_IN, sector: DISK_SECTORS - 1, in: 512 }).data).toEqual(diskAt(DISK_SECTORS - 1, 512));
  });

  it("writes sectors to the RAM disk, and reads them back", () => {
    const d = blk().bringUp();
    const data = bytes(3 * 512, (i) => i * 5 + 1);
    const before = diskAt(99, 5 * 512);
    const r = d.run({ type: T_OUT, sector: 100, out: data });
    expect([r.status, r.len]).toEqual([S_OK, 1]);
    expect(diskAt(100, 3 * 512)).toEqual(data);
    expect(diskAt(99, 512)).toEqual(before.subarray(0, 512));
    expect(diskAt(103, 512)).toEqual(before.subarray(4 * 512));
    expect(d.run({ type: T_IN, sector: 100, in: 3 * 512 }).data).toEqual(data);
  });

  it("flushes, and returns the serial number NUL-padded to 20 bytes, or cut there", () => {
    const d = blk().bringUp();
    expect(d.run({ type: T_FLUSH })).toMatchObject({ status: S_OK, len: 1 });
    const id = d.run({ type: T_GET_ID, in: 20 });
    expect([id.status, id.len]).toEqual([S_OK, 21]);
    expect(text(id.data)).toBe(DISK_SERIAL + "\0\0\0\0");
    const ro = blk(READ_ONLY_SLOT).bringUp({ features: (f) => f });
    expect(text(ro.run({ type: T_GET_ID, in: 20 }).data)).toBe(READ_ONLY_SERIAL.slice(0, 20));
  });

  it("zeroes the ranges of a discard and a write-zeroes, and nothing else", () => {
    const d = blk().bringUp();
    const snapshot = phys.readBytes(DISK, DISK_BYTES);
    expect(d.run({ type: T_DISCARD, out: segments([10, 3]) })).toMatchObject({ status: S_OK, len: 1 });
    expect(d.run({ type: T_WRITE_ZEROES, out: segments([2000, 48, 1], [0, 1]) })).toMatchObject({ status: S_OK });
    const expected = snapshot.slice();
    expected.fill(0, 10 * 512, 13 * 512);
    expected.fill(0, 2000 * 512);
    expected.fill(0, 0, 512);
    expect(firstDifference(phys.readBytes(DISK, DISK_BYTES), expected)).toBe(-1);
  });

  it("takes data in several buffers, the header and status apart or merged, directly or indirectly", () => {
    const d = blk().bringUp();
    const data = bytes(4 * 512, (i) => i * 3 + (i >> 9));
    const variants: Array<Partial<BlkRequest>> = [
      { pieces: [1000, 24, 1024] },
      { pieces: [1, 511, 512, 1024], indirect: true },
      { merged: true },
      { merged: true, indirect: true },
    ];
    for (const [n, v] of variants.entries()) {
      const sector = 300 + 8 * n;
      const w = d.run({ type: T_OUT, sector, out: data, ...v });
      expect(w.status).toBe(S_OK);
      expect(diskAt(sector, data.length)).toEqual(data);
      const r = d.run({ type: T_IN, sector: sector - 1, in: 5 * 512, ...v, pieces: v.pieces && [...v.pieces, 512] });
      expect([r.status, r.len]).toEqual([S_OK, 5 * 512 + 1]);
      expect(r.data.subarray(0, 512), `variant ${n}`).toEqual(diskAt(sector - 1, 512));
      expect(r.data.subarray(512)).toEqual(data);
    }
  });

  it("takes a notification at queue 0's address in BAR 4 as at the port", () => {
    const d = blk().bringUp();
    const s = d.submit({ type: T_IN, sector: 7, in: 512 });
    e.mmioWrite(memoryNotify(d, 0), 2, 0n);
    expect(d.ring.takeUsed().map(([id]) => id)).toEqual([s.head]);
    expect(d.dataOf(s)).toEqual(diskAt(7, 512));
  });

  it("serves every request offered before the kick, in order, around a small ring many times", () => {
    const d = blk().bringUp({ size: 8 });
    for (let round = 0; round < 40; round++) {
      const reads = [0, 1].map((k) => d.submit({ type: T_IN, sector: round * 2 + k, in: 512 }));
      d.notify(0);
      expect(d.ring.takeUsed()).toEqual(reads.map((s) => [s.head, 513]));
      reads.forEach((s, k) => expect(d.dataOf(s)).toEqual(diskAt(round * 2 + k, 512)));
    }
    expect(d.ring.usedIdx).toBe(80);
  });

  it("gives each request of a kick its own status, past a batch of 64, and a flush after the writes before it", () => {
    const d = blk().bringUp({ size: 256 });
    const reads = Array.from(
      { length: 70 },
      (_, i) => d.submit({ type: T_IN, sector: i === 30 ? DISK_SECTORS : i, in: 512 }),
    );
    const write = d.submit({ type: T_OUT, sector: 100, out: bytes(512, () => 0x77) });
    const flush = d.submit({ type: T_FLUSH });
    d.notify(0);
    expect(d.ring.takeUsed()).toEqual([
      ...reads.map((s, i) => [s.head, i === 30 ? 1 : 513]),
      [write.head, 1],
      [flush.head, 1],
    ]);
    reads.forEach((s, i) => expect(phys.read8(RAM_HPA + s.status)).toBe(i === 30 ? S_IOERR : S_OK));
    expect(d.dataOf(reads[69])).toEqual(diskAt(69, 512));
    expect([phys.read8(RAM_HPA + write.status), phys.read8(RAM_HPA + flush.status)]).toEqual([S_OK, S_OK]);
    expect(diskAt(100, 512)).toEqual(bytes(512, () => 0x77));
  });

  describe("past the end of the disk, an I/O error that touches nothing", () => {
    const cases: Array<[string, BlkRequest]> = [
      ["a read at the capacity", { type: T_IN, sector: DISK_SECTORS, in: 512 }],
      ["a read across the end", { type: T_IN, sector: DISK_SECTORS - 1, in: 1024 }],
      ["a read at sector 2^64 - 1", { type: T_IN, sector: (1n << 64n) - 1n, in: 512 }],
      ["a read at sector 2^55 - 1, whose byte offset wraps", { type: T_IN, sector: (1n << 55n) - 1n, in: 1024 }],
      ["a write across the end", { type: T_OUT, sector: DISK_SECTORS - 2, out: bytes(3 * 512, () => 0x11) }],
      ["a write at the capacity", { type: T_OUT, sector: DISK_SECTORS, out: bytes(512, () => 0x11) }],
      ["a discard across the end", { type: T_DISCARD, out: segments([DISK_SECTORS - 4, 5]) }],
      ["a write-zeroes with one good and one bad segment", {
        type: T_WRITE_ZEROES,
        out: segments([0, 8], [DISK_SECTORS, 1]),
      }],
      ["a discard of one sector more than the disk", { type: T_DISCARD, out: segments([0, DISK_SECTORS + 1]) }],
      ["a discard at sector 2^64 - 8", { type: T_DISCARD, out: segments([(1n << 64n) - 8n, 8]) }],
    ];
    for (const [name, request] of cases) {
      it(name, () => {
        const d = blk().bringUp();
        const disk = phys.readBytes(DISK, DISK_BYTES);
        const s = d.submit(request);
        const around = (b: Buf) => phys.readBytes(RAM_HPA + b.gpa - 16n, b.len + 32);
        const guest = s.data.map(around);
        d.notify(0);
        expect(d.ring.takeUsed()).toEqual([[s.head, 1]]);
        expect(phys.read8(RAM_HPA + s.status)).toBe(S_IOERR);
        expect(firstDifference(phys.readBytes(DISK, DISK_BYTES), disk)).toBe(-1);
        expect(s.data.map(around)).toEqual(guest);
        if (request.type === T_IN) { for (const b of s.data) expect(phys.read8(RAM_HPA + b.gpa)).toBe(SENTINEL); }
        expect(d.status & NEEDS_RESET).toBe(0);
      });
    }
  });

  it("fails a transfer that is not whole sectors, and a malformed discard, with IOERR", () => {
    const d = blk().bringUp();
    const disk = phys.readBytes(DISK, DISK_BYTES);
    const read = d.submit({ type: T_IN, sector: 0, in: 513 });
    d.notify(0);
    expect(d.ring.takeUsed()).toEqual([[read.head, 1]]);
    expect(phys.read8(RAM_HPA + read.status)).toBe(S_IOERR);
    expect(d.dataOf(read)).toEqual(new Uint8Array(513).fill(SENTINEL));
    for (
      const r of [
        { type: T_OUT, sector: 0, out: bytes(100, () => 1) },
        { type: T_OUT, sector: 0, out: bytes(1000, () => 1), pieces: [512, 488] },
        { type: T_DISCARD, out: segments([0, 1]).subarray(0, 12) }, // not whole segments
        { type: T_DISCARD }, // no segment
        { type: T_WRITE_ZEROES, out: segments(...Array.from({ length: 17 }, (_, i) => [i, 1] as [number, number])) },
        { type: T_DISCARD, out: segments([0, 0x40_0001]) }, // more than max_discard_sectors
      ]
    ) {
      expect(d.run(r)).toMatchObject({ status: S_IOERR, len: 1 });
    }
    expect(firstDifference(phys.readBytes(DISK, DISK_BYTES), disk)).toBe(-1);
  });

  it("answers a discard with the unmap flag, or a write-zeroes with a flag unknown, with UNSUPP", () => {
    const d = blk().bringUp();
    const disk = phys.readBytes(DISK, DISK_BYTES);
    // 5.2.6.2: unmap (bit 0) is for write-zeroes only; no other flag exists.
    for (
      const r of [
        { type: T_DISCARD, out: segments([0, 4, 1]) },
        { type: T_DISCARD, out: segments([0, 4], [8, 4, 1]) },
        { type: T_WRITE_ZEROES, out: segments([0, 4, 2]) },
        { type: T_WRITE_ZEROES, out: segments([0, 4, 1], [8, 4, 0x8000_0000]) },
      ]
    ) {
      expect(d.run(r)).toMatchObject({ status: S_UNSUPP, len: 1 });
    }
    expect(firstDifference(phys.readBytes(DISK, DISK_BYTES), disk)).toBe(-1);
    expect(d.run({ type: T_WRITE_ZEROES, out: segments([0, 4, 1]) }).status).toBe(S_OK);
    expect(diskAt(0, 4 * 512)).toEqual(new Uint8Array(4 * 512));
  });

  it("answers an unknown request type with UNSUPP", () => {
    const d = blk().bringUp();
    for (const type of [2, 7, 0xff, 0x8000_0000]) {
      expect(d.run({ type, sector: 0, in: 512 })).toMatchObject({ status: S_UNSUPP, len: 1 });
    }
  });

  it("keeps the read-only disk as it is: writes, discards and write-zeroes fail, reads work", () => {
    const d = blk(READ_ONLY_SLOT).bringUp({ features: (f) => f });
    const disk = phys.readBytes(READ_ONLY, READ_ONLY_BYTES);
    expect(d.run({ type: T_OUT, sector: 1, out: bytes(512, () => 0) })).toMatchObject({ status: S_IOERR, len: 1 });
    expect(d.run({ type: T_DISCARD, out: segments([0, 4]) }).status).toBe(S_IOERR);
    expect(d.run({ type: T_WRITE_ZEROES, out: segments([0, 4, 1]) }).status).toBe(S_IOERR);
    expect(firstDifference(phys.readBytes(READ_ONLY, READ_ONLY_BYTES), disk)).toBe(-1);
    const r = d.run({ type: T_IN, sector: READ_ONLY_SECTORS - 2, in: 1024 });
    expect(r.status).toBe(S_OK);
    expect(r.data).toEqual(disk.subarray((READ_ONLY_SECTORS - 2) * 512, READ_ONLY_SECTORS * 512));
    expect(d.run({ type: T_IN, sector: READ_ONLY_SECTORS, in: 512 }).status).toBe(S_IOERR);
    expect(d.run({ type: T_FLUSH }).status).toBe(S_OK);
    // What the management API counts: the one read that worked, the flush, four failures.
    expect(e.__getString(e.diskTotals(1))).toBe(
      "reads=1,bytes_read=1024,writes=0,bytes_written=0,flushes=1,trims=0,failed_requests=4",
    );
  });

  it("counts the requests and their bytes for the management API", () => {
    const d = blk().bringUp();
    d.run({ type: T_OUT, sector: 100, out: bytes(3 * 512, (i) => i) });
    d.run({ type: T_IN, sector: 100, in: 2 * 512 });
    d.run({ type: T_IN, sector: 7, in: 512 });
    d.run({ type: T_DISCARD, out: segments([0, 4]) });
    d.run({ type: T_GET_ID, in: 20 });
    expect(e.__getString(e.diskTotals(0))).toBe(
      "reads=2,bytes_read=1536,writes=1,bytes_written=1536,flushes=0,trims=1,failed_requests=0",
    );
  });
});

describe("interrupts", () => {
  it("by MSI-X: a completed request sends its queue's vector's message", () => {
    const d = blk().bringUp();
    expect(messages()).toEqual([]);
    d.run({ type: T_IN, sector: 0, in: 512 });
    expect(messages()).toEqual([[MSI_ADDRESS, msiData(1)]]);
    expect(intxLine(DISK_SLOT)).toBe(1); // INTx# stays idle with MSI-X on
    expect(d.pci.read(STATUS, 2) & STATUS_INTERRUPT).toBe(0);
    d.run({ type: T_FLUSH });
    expect(messages()).toHaveLength(2);
  });

  it("one interrupt for the requests of one kick; none while the driver sets NO_INTERRUPT", () => {
    const d = blk().bringUp({ features: (f) => f & ~F_EVENT_IDX & ~F_RO });
    for (let i = 0; i < 3; i++) d.submit({ type: T_IN, sector: i, in: 512 });
    d.notify(0);
    expect(d.ring.takeUsed()).toHaveLength(3);
    expect(messages()).toHaveLength(1);
    expect(d.ring.usedFlags & USED_NO_NOTIFY).toBe(0); // the device wants the next kick
    d.ring.availFlags = AVAIL_NO_INTERRUPT;
    d.run({ type: T_FLUSH });
    expect(messages()).toHaveLength(1);
    d.ring.availFlags = 0;
    d.run({ type: T_FLUSH });
    expect(messages()).toHaveLength(2);
  });

  it("with EVENT_IDX, used_event says when: one interrupt for a batch, none before it is reached", () => {
    const d = blk().bringUp(); // EVENT_IDX accepted
    // Three requests; interrupt once the third (used idx 2 -> 3) is used.
    d.ring.usedEvent = 2;
    for (let i = 0; i < 3; i++) d.submit({ type: T_IN, sector: i, in: 512 });
    d.notify(0);
    expect(d.ring.takeUsed()).toHaveLength(3);
    expect(messages()).toEqual([[MSI_ADDRESS, msiData(1)]]);
    // avail_event: the device wants a kick when the driver offers entry 3.
    expect(d.ring.availEvent).toBe(3);
    // used_event far ahead: no interrupt for the fourth.
    d.ring.usedEvent = 9;
    d.run({ type: T_FLUSH });
    expect(messages()).toHaveLength(1);
    // used_event 4: the fifth (used idx 4 -> 5) interrupts.
    d.ring.usedEvent = 4;
    d.run({ type: T_FLUSH });
    expect(messages()).toHaveLength(2);
    expect(d.ring.availEvent).toBe(5);
  });

  it("by INTx# without MSI-X: asserted until the driver reads the ISR, which says 'queue'", () => {
    const d = blk().bringUp({ msix: false });
    expect(intxLine(DISK_SLOT)).toBe(1);
    d.run({ type: T_IN, sector: 0, in: 512 });
    expect(intxLine(DISK_SLOT)).toBe(0);
    expect(d.pci.read(STATUS, 2) & STATUS_INTERRUPT).toBe(STATUS_INTERRUPT);
    expect(d.isr()).toBe(1);
    expect(intxLine(DISK_SLOT)).toBe(1);
    expect(d.pci.read(STATUS, 2) & STATUS_INTERRUPT).toBe(0);
    expect(d.isr()).toBe(0);
    expect(messages()).toEqual([]);
  });

  it("by MSI, which virtio leaves to PCI: the ISR as for INTx#, and the one message instead of INTx#", () => {
    const d = blk().bringUp({ msix: false });
    const msi = d.pci.capabilities().find(([, id]) => id === MSI_CAP)![0];
    expect(d.pci.read(msi + 2, 2)).toBe(0x0180); // one vector, 64-bit, per-vector masking
    d.pci.write(msi + 4, 4, 0xfee0_2000);
    d.pci.write(msi + 12, 2, 0x45);
    d.pci.write(msi + 2, 2, 1); // MSI Enable
    d.run({ type: T_IN, sector: 0, in: 512 });
    expect(messages()).toEqual([[0xfee0_2000n, 0x45]]);
    expect(intxLine(DISK_SLOT)).toBe(1);
    expect(d.isr()).toBe(1);
    // Masked, the message waits in its pending bit until unmasked.
    d.pci.write(msi + 16, 4, 1);
    d.run({ type: T_FLUSH });
    expect([messages().length, d.pci.read(msi + 20)]).toEqual([1, 1]);
    d.pci.write(msi + 16, 4, 0);
    expect([messages().length, d.pci.read(msi + 20)]).toEqual([2, 0]);
    // Masked again, but the driver reads the ISR before it unmasks: nothing stale arrives.
    d.pci.write(msi + 16, 4, 1);
    d.run({ type: T_FLUSH });
    expect(d.pci.read(msi + 20)).toBe(1);
    expect(d.isr()).toBe(1);
    expect(d.pci.read(msi + 20)).toBe(0);
    d.pci.write(msi + 16, 4, 0);
    expect(messages()).toHaveLength(2);
    // With MSI-X enabled too, MSI-X alone, to the queue's vector.
    d.enableMsix();
    d.write(C.queueSelect, 2, 0);
    d.write(C.queueMsixVector, 2, 1);
    d.run({ type: T_FLUSH });
    expect(messages().slice(2)).toEqual([[MSI_ADDRESS, msiData(1)]]);
  });

  it("sends nothing for a queue with NO_VECTOR while MSI-X is on", () => {
    const d = blk().bringUp();
    d.write(C.queueSelect, 2, 0);
    d.write(C.queueMsixVector, 2, NO_VECTOR);
    expect(d.run({ type: T_FLUSH }).status).toBe(S_OK);
    expect(messages()).toEqual([]);
    expect(intxLine(DISK_SLOT)).toBe(1);
  });
});

describe("a driver that breaks the rules: DEVICE_NEEDS_RESET, and a reset mends it", () => {
  const big = 1 << 20;
  const cases: Array<[string, BringUp, (d: BlkDriver) => void]> = [
    ["a queue size that is not a power of two", { size: 24 }, () => {}],
    ["a queue size of 0", { size: 0 }, () => {}],
    ["a queue size above the maximum", { size: 1024 }, () => {}],
    ["a descriptor table partly outside guest RAM", { ring: () => new Ring(32, RAM_SIZE - 0x100n) }, () => {}],
    ["a used ring outside guest RAM", { ring: () => new Ring(32, DESC, AVAIL, 0x1_0000_0000n) }, () => {}],
    ["a misaligned available ring", { ring: () => new Ring(32, DESC, AVAIL + 1n) }, () => {}],
    ["a descriptor loop", {}, (d) => {
      const r = d.ring, hdr = d.alloc(16);
      r.writeDesc(DESC, 0, { gpa: hdr, len: 16, write: false }, NEXT, 1);
      r.writeDesc(DESC, 1, { gpa: hdr, len: 16, write: false }, NEXT, 0);
      r.offerHead(0);
    }],
    ["a chain without a status byte", {}, (d) => {
      const hdr = d.alloc(16), data = d.alloc(512);
      d.ring.offer([{ gpa: hdr, len: 16, write: false }, { gpa: data, len: 512, write: false }]);
    }],
    ["a chain too short for the header", {}, (d) => {
      d.ring.offer([{ gpa: d.alloc(8), len: 8, write: false }, { gpa: d.alloc(1), len: 1, write: true }]);
    }],
    ["a buffer outside guest RAM", {}, (d) => {
      const hdr = d.alloc(16);
      d.ring.offer([
        { gpa: hdr, len: 16, write: false },
        { gpa: RAM_SIZE - 256n, len: 512, write: true },
        { gpa: d.alloc(1), len: 1, write: true },
      ]);
    }],
    ["an available idx more than the queue size ahead", {}, (d) => {
      phys.write16(RAM_HPA + AVAIL + 2n, 33);
    }],
    ["an indirect descriptor without INDIRECT_DESC", { features: (f) => f & ~F_INDIRECT_DESC & ~F_RO }, (d) => {
      d.submit({ type: T_FLUSH, indirect: true });
    }],
    ["a chain longer than the queue", { size: 4 }, (d) => {
      d.submit({ type: T_IN, in: 4 * 512, pieces: [512, 512, 512, 512], indirect: true });
    }],
    ["a 1 MiB buffer wrapping the address space", {}, (d) => {
      d.ring.offer([
        { gpa: d.alloc(16), len: 16, write: false },
        { gpa: (1n << 64n) - BigInt(big / 2), len: big, write: true },
        { gpa: d.alloc(1), len: 1, write: true },
      ]);
    }],
  ];

  for (const [name, setup, act] of cases) {
    it(name, () => {
      const d = blk();
      const generation = d.generation;
      d.bringUp(setup);
      const disk = phys.readBytes(DISK, DISK_BYTES);
      act(d);
      d.notify(0);
      expect(d.status & NEEDS_RESET).toBe(NEEDS_RESET);
      // A configuration change (2.1.2), by the configuration vector, and a new generation.
      expect(messages()).toEqual([[MSI_ADDRESS, msiData(0)]]);
      expect(d.generation).not.toBe(generation);
      expect(d.ring.usedIdx).toBe(0);
      expect(machine.serial()).toMatch(/\[warn \] virtio-blk: .*; the device needs a reset\n/);
      // Further kicks do nothing, even for a good request.
      const used = d.ring.usedIdx;
      d.submit({ type: T_IN, sector: 0, in: 512 });
      d.notify(0);
      expect(d.ring.usedIdx).toBe(used);
      expect(messages()).toHaveLength(1);
      expect(firstDifference(phys.readBytes(DISK, DISK_BYTES), disk)).toBe(-1);
      // A reset and a fresh start, and it works again.
      d.status = 0;
      expect(d.status).toBe(0);
      const fresh = blk().bringUp();
      expect(fresh.status).toBe(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
      const r = fresh.run({ type: T_IN, sector: 7, in: 512 });
      expect(r).toMatchObject({ status: S_OK, len: 513 });
      expect(r.data).toEqual(diskAt(7, 512));
      expect(messages()).toEqual([[MSI_ADDRESS, msiData(0)], [MSI_ADDRESS, msiData(1)]]);
    });
  }

  it("says so by INTx# and the ISR's configuration bit without MSI-X", () => {
    const d = blk().bringUp({ msix: false });
    d.ring.offer([{ gpa: d.alloc(8), len: 8, write: false }, { gpa: d.alloc(1), len: 1, write: true }]);
    d.notify(0);
    expect(d.status & NEEDS_RESET).toBe(NEEDS_RESET);
    expect(intxLine(DISK_SLOT)).toBe(0);
    expect(d.isr()).toBe(2); // a configuration change
    expect(intxLine(DISK_SLOT)).toBe(1);
    // A reset also takes INTx# back, unread.
    d.ring.offer([{ gpa: d.alloc(8), len: 8, write: false }, { gpa: d.alloc(1), len: 1, write: true }]);
    d.status = 0;
    d.bringUp({ msix: false });
    d.ring.offer([{ gpa: d.alloc(8), len: 8, write: false }, { gpa: d.alloc(1), len: 1, write: true }]);
    d.notify(0);
    expect(intxLine(DISK_SLOT)).toBe(0);
    d.status = 0;
    expect(intxLine(DISK_SLOT)).toBe(1);
    expect(d.isr()).toBe(0);
  });

  it("ignores kicks before DRIVER_OK and of queues it does not have", () => {
    const d = blk().bringUp({ driverOk: false });
    d.submit({ type: T_FLUSH });
    d.notify(0);
    expect(d.ring.usedIdx).toBe(0);
    // A notification of a queue it lacks reaches nothing: at the port, or
    // past BAR 4's structure for its one queue.
    e.ioWrite(notifyPort(d), 2, 1n);
    e.mmioWrite(memoryNotify(d, 1), 2, 1n);
    expect(d.ring.usedIdx).toBe(0);
    // DRIVER_OK: the device looks at once, and serves what is waiting.
    d.status = ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK;
    expect(d.ring.usedIdx).toBe(1);
    expect(d.status & NEEDS_RESET).toBe(0);
  });
});

describe("a disk of two request queues (F_MQ), a VM of two vCPUs'", () => {
  const MULTIQUEUE_SLOT = 6, HZ = 1_000_000_000n;
  const tsc = new FakeTsc(HZ);
  beforeEach(async () => {
    tsc.clock = HZ;
    await start(tsc.stubs());
  });
  // The disk capped at `iops` (0: not capped), and the driver with both
  // queues (the second's rings beside the first's, on vector 2), or with
  // the first alone if it does not take F_MQ.
  function bringUp(iops = 0, accept = (offered: bigint) => offered, atDisk = 0): { d: BlkDriver; second: Ring } {
    e.buildMultiqueue(iops, tsc.perMs, atDisk);
    const d = blk(MULTIQUEUE_SLOT).bringUp({ features: accept, driverOk: false });
    const second = new Ring(32, 0x5000n, 0x7000n, 0x8000n);
    if (accept(F_MQ) & F_MQ) d.setupQueue(1, second, 2);
    d.status = ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK;
    return { d, second };
  }

  it("offers F_MQ and two queues, where the one-vCPU disks offer one", () => {
    e.buildMultiqueue(0, tsc.perMs, 0);
    const d = blk(MULTIQUEUE_SLOT);
    expect(d.deviceFeatures() & F_MQ).toBe(F_MQ);
    expect(d.config(34, 2)).toBe(2);
    expect(d.read(C.numQueues, 2)).toBe(2);
    expect(blk().deviceFeatures() & F_MQ).toBe(0n);
  });

  it("serves each queue's requests on that queue, with its own vector", () => {
    const { d, second } = bringUp();
    const a = d.submit({ type: T_IN, sector: 3, in: 512 });
    d.notify(0);
    const b = d.submit({ type: T_IN, sector: 4, in: 512 }, second);
    const sent = e.messageCount();
    d.notify(1);
    expect(d.ring.takeUsed().map(([id]) => id)).toEqual([a.head]);
    expect(second.takeUsed().map(([id]) => id)).toEqual([b.head]);
    expect(d.dataOf(b)).toEqual(diskAt(4, 512));
    expect(phys.read8(RAM_HPA + b.status)).toBe(S_OK);
    expect(messages().slice(sent).map(([, data]) => data - msiData(0))).toEqual([2]);
  });

  it("without F_MQ uses the first queue alone: a kick of the second reaches nothing", () => {
    const { d, second } = bringUp(0, (offered) => offered & ~F_MQ);
    d.submit({ type: T_IN, sector: 4, in: 512 }, second);
    e.ioWrite(notifyPort(d), 2, 1n);
    e.mmioWrite(memoryNotify(d, 1), 2, 1n);
    expect(second.usedIdx).toBe(0);
    expect(d.run({ type: T_IN, sector: 5, in: 512 }).status).toBe(S_OK);
  });

  it("leaves a batch at the disk while the guest runs on; a look that finds it ended gives it back", () => {
    const { d, second } = bringUp(0, (offered) => offered, 1);
    const a = d.submit({ type: T_IN, sector: 3, in: 512 });
    const b = d.submit({ type: T_IN, sector: 4, in: 512 });
    const sent = e.messageCount();
    d.notify(0);
    expect(d.ring.usedIdx).toBe(0);
    // The clock's first look 10 µs on.
    const first = e.multiqueueResumeAt();
    expect(first - tsc.clock).toBe(tsc.perMs / 100n);
    tsc.clock = first;
    e.multiqueueResume();
    expect(d.ring.usedIdx).toBe(0);
    // Not ended: the next look half as long again later.
    const next = e.multiqueueResumeAt();
    expect(next - tsc.clock).toBe((tsc.perMs / 100n) * 3n / 2n);
    e.endHeld();
    tsc.clock = next;
    e.multiqueueResume();
    expect(d.ring.takeUsed().map(([id]) => id)).toEqual([a.head, b.head]);
    expect([d.dataOf(a), d.dataOf(b)]).toEqual([diskAt(3, 512), diskAt(4, 512)]);
    expect(messages().slice(sent).map(([, data]) => data - msiData(0))).toEqual([1]);
    expect(e.multiqueueResumeAt()).toBe(NOT_DUE);
  });

  it("looks at a batch at the disk when a vCPU halts: not ended, the clock's look stays; ended, it is back", () => {
    const { d } = bringUp(0, (offered) => offered, 1);
    const a = d.submit({ type: T_IN, sector: 3, in: 512 });
    const sent = e.messageCount();
    d.notify(0);
    const look = e.multiqueueResumeAt();
    e.multiqueueHalt();
    expect(d.ring.usedIdx).toBe(0);
    expect(e.multiqueueResumeAt()).toBe(look);
    e.endHeld();
    e.multiqueueHalt();
    expect(d.ring.takeUsed().map(([id]) => id)).toEqual([a.head]);
    expect(d.dataOf(a)).toEqual(diskAt(3, 512));
    expect(messages().slice(sent).map(([, data]) => data - msiData(0))).toEqual([1]);
    expect(e.multiqueueResumeAt()).toBe(NOT_DUE);
  });

  it("has each queue's batch at the disk on its own: neither waits for the other", () => {
    const { d, second } = bringUp(0, (offered) => offered, 1);
    const a = d.submit({ type: T_IN, sector: 3, in: 512 });
    const sent = e.messageCount();
    d.notify(0);
    // The second queue's kick goes to the disk while the first's batch is there.
    const b = d.submit({ type: T_IN, sector: 5, in: 512 }, second);
    d.notify(1);
    expect(e.heldRequests()).toBe(2);
    const look = e.multiqueueResumeAt();
    // The first queue kicked again: its request waits for its batch.
    const c = d.submit({ type: T_IN, sector: 6, in: 512 });
    d.notify(0);
    expect(e.heldRequests()).toBe(2);
    // Both batches end; one look gives both back, each on its queue with
    // its interrupt, and the first queue's waiting request goes to the disk.
    e.endHeld();
    tsc.clock = look;
    e.multiqueueResume();
    expect(d.ring.takeUsed().map(([id]) => id)).toEqual([a.head]);
    expect(second.takeUsed().map(([id]) => id)).toEqual([b.head]);
    expect([d.dataOf(a), d.dataOf(b)]).toEqual([diskAt(3, 512), diskAt(5, 512)]);
    expect(messages().slice(sent).map(([, data]) => data - msiData(0))).toEqual([1, 2]);
    expect(e.heldRequests()).toBe(1);
    e.endHeld();
    tsc.clock = e.multiqueueResumeAt();
    e.multiqueueResume();
    expect(d.ring.takeUsed().map(([id]) => id)).toEqual([c.head]);
    expect(e.multiqueueResumeAt()).toBe(NOT_DUE);
  });

  it("needs a reset at once for a broken chain behind a batch at the disk, and gives the batch back later", () => {
    const { d } = bringUp(0, (offered) => offered, 1);
    const good = d.submit({ type: T_IN, sector: 3, in: 512 });
    const r = d.ring, hdr = d.alloc(16); // then a descriptor loop
    r.writeDesc(r.desc, 30, { gpa: hdr, len: 16, write: false }, NEXT, 31);
    r.writeDesc(r.desc, 31, { gpa: hdr, len: 16, write: false }, NEXT, 30);
    r.offerHead(30);
    d.notify(0);
    expect(d.ring.usedIdx).toBe(0);
    expect(d.status & NEEDS_RESET).toBe(NEEDS_RESET);
    e.endHeld();
    tsc.clock = e.multiqueueResumeAt();
    e.multiqueueResume();
    expect(d.ring.takeUsed().map(([id]) => id)).toEqual([good.head]);
  });

  it("waits for the batch at the disk when the driver resets the device", () => {
    const { d } = bringUp(0, (offered) => offered, 1);
    d.submit({ type: T_IN, sector: 3, in: 512 });
    d.notify(0);
    expect([e.heldRequests(), e.multiqueueResumeAt() !== NOT_DUE]).toEqual([1, true]);
    d.status = 0;
    expect([e.heldRequests(), e.multiqueueResumeAt()]).toEqual([0, NOT_DUE]);
    expect(d.ring.usedIdx).toBe(0);
  });

  it("holds the second queue behind a request of the first that its budget held back", () => {
    const { d, second } = bringUp(1); // one operation a second
    expect(d.run({ type: T_IN, sector: 0, in: 512 }).status).toBe(S_OK);
    const held = d.submit({ type: T_IN, sector: 1, in: 512 });
    d.notify(0);
    const behind = d.submit({ type: T_IN, sector: 2, in: 512 }, second);
    d.notify(1);
    expect([d.ring.usedIdx, second.usedIdx]).toEqual([1, 0]);
    // About a second on (less the budget's slack), the held request goes,
    // not before; the next waits its own turn.
    const due = e.multiqueueResumeAt();
    expect(due > HZ + HZ / 2n && due <= 2n * HZ).toBe(true);
    tsc.clock = due - 1n;
    e.multiqueueResume();
    expect([d.ring.usedIdx, second.usedIdx]).toEqual([1, 0]);
    tsc.clock = due;
    e.multiqueueResume();
    expect(d.ring.takeUsed().map(([id]) => id)).toEqual([held.head]);
    expect(second.usedIdx).toBe(0);
    tsc.clock = e.multiqueueResumeAt();
    e.multiqueueResume();
    expect(second.takeUsed().map(([id]) => id)).toEqual([behind.head]);
    expect(d.dataOf(behind)).toEqual(diskAt(2, 512));
  });
});

describe("virtio-rng (5.4)", () => {
  const VALUE = 0x0123_4567_89ab_cdefn;
  const LE = [0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01];
  // hw_random(seed, out): 8 bytes at `out` in the module's memory, 1 for success.
  const giving = (value: bigint, calls: number[] = []) => (seed: number, out: number) => {
    calls.push(seed);
    new DataView(e.memory.buffer).setBigUint64(out >>> 0, value, true);
    return 1;
  };

  function rng(): Driver {
    return new Driver(RNG_SLOT).bringUp({ features: (f) => f, size: 8 });
  }
  function request(d: Driver, lengths: number[]): { head: number; buffers: Buf[] } {
    const buffers = lengths.map((len) => ({ gpa: d.alloc(len), len, write: true }));
    return { head: d.ring.offer(buffers), buffers };
  }

  it("fills a request's buffers with the CPU's random bytes, from RDSEED", () => {
    const seeds: number[] = [];
    hwRandom = giving(VALUE, seeds);
    const d = rng();
    const { head, buffers } = request(d, [20, 5]);
    d.notify(0);
    expect(d.ring.takeUsed()).toEqual([[head, 25]]);
    expect([...phys.readBytes(RAM_HPA + buffers[0].gpa, 20)]).toEqual([...LE, ...LE, ...LE.slice(0, 4)]);
    expect([...phys.readBytes(RAM_HPA + buffers[1].gpa, 6)]).toEqual([...LE.slice(4), LE[0], SENTINEL]);
    expect(seeds).toEqual([1, 1, 1, 1]); // RDSEED, as built: 4 draws of 8 bytes
    expect(messages()).toEqual([[MSI_ADDRESS, msiData(1)]]);
  });

  it("falls back to RDRAND when RDSEED has nothing", () => {
    const seeds: number[] = [];
    const rdrand = giving(VALUE, seeds);
    hwRandom = (seed: number, out: number) => (seed ? (seeds.push(seed), 0) : rdrand(seed, out));
    const d = rng();
    const { head, buffers } = request(d, [8]);
    d.notify(0);
    expect(d.ring.takeUsed()).toEqual([[head, 8]]);
    expect([...phys.readBytes(RAM_HPA + buffers[0].gpa, 8)]).toEqual(LE);
    expect(seeds).toEqual([1, 0]);
  });

  it("completes a request with 0 bytes when the CPU has none, and leaves the buffer alone", () => {
    hwRandom = () => 0;
    const d = rng();
    const { head, buffers } = request(d, [64]);
    d.notify(0);
    expect(d.ring.takeUsed()).toEqual([[head, 0]]);
    expect(phys.readBytes(RAM_HPA + buffers[0].gpa, 64)).toEqual(new Uint8Array(64).fill(SENTINEL));
    expect(machine.calls.get("hw_random")).toBe(11); // RDSEED once, RDRAND ten times
  });

  it("gives at most 4 KiB per request", () => {
    hwRandom = giving(VALUE);
    const d = rng();
    const { head, buffers } = request(d, [8192]);
    d.notify(0);
    expect(d.ring.takeUsed()).toEqual([[head, 4096]]);
    expect(phys.read8(RAM_HPA + buffers[0].gpa + 4095n)).toBe(0x01);
    expect(phys.read8(RAM_HPA + buffers[0].gpa + 4096n)).toBe(SENTINEL);
  });
});
