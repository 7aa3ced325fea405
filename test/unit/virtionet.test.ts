// virtio-net (vmm/devices/virtio/net.ts, virtio 1.2 section 5.1) on the
// virtual switch: three VMs' NICs, each with RAM of its own, driven from JS
// as Linux's virtio_net drives them (test/unit/virtiodriver.ts). Frames go
// from one VM's transmit queue into another's receive buffers, with the
// 12-byte header and num_buffers, merged over several buffers or in one;
// the test checks VLANs and anti-spoofing end to end, drops on a full
// receive queue, DEVICE_NEEDS_RESET for a driver's garbage, and the
// transmit cap.
import { beforeEach, describe, expect, it } from "vitest";
import { FakeTsc } from "./fakehost";
import { type Exports, load, PhysMemory } from "./harness";
import {
  ACKNOWLEDGE,
  bit,
  C,
  DEVICE_CFG,
  Driver,
  DRIVER,
  DRIVER_OK,
  FEATURES_OK,
  GuestRam,
  msiData,
  NEEDS_RESET,
  PciConfig,
  REVISION,
  Ring,
  TRANSPORT,
  useMachine,
} from "./virtiodriver";

interface NetExports {
  build(ramHpa: bigint, ramSize: bigint, macBase: bigint, bytesPerSecond: bigint): void;
  calibrate(tscPerMs: bigint): void;
  mmioRead(address: bigint, size: number): bigint;
  mmioWrite(address: bigint, size: number, value: bigint): void;
  messageCount(): number;
  messageData(i: number): number;
  dropped(nic: number, why: number): bigint;
  resumeAt(nic: number): bigint;
  resume(nic: number): void;
}

// The machine (test/unit/as/virtionet.ts): NICs a and b on VLAN 10, c on 20.
const A = 11, B = 12, CC = 13;
const MiB = 1n << 20n;
const RAM_HPA = 0x1000_0000n, RAM_SIZE = 4n * MiB;
const MAC_BASE = 0x52_54_00_00_00_10n;
const MAC_A = MAC_BASE, MAC_B = MAC_BASE + 1n;
const BROADCAST = 0xff_ff_ff_ff_ff_ffn;
const CAP = 1_000_000n; // a's bytes per second
const HZ = 1_000_000_000n; // the TSC: 1 GHz
// Feature bits (5.1.3) and drops (vmm/net/port.ts).
const F_MAC = bit(5), F_MRG_RXBUF = bit(15), F_STATUS = bit(16);
const SPOOFED = 1, VLAN = 2, QUEUE_FULL = 4;
const HEADER = 12;
// The transmit queue's rings, beside the receive queue's (virtiodriver.ts).
const TX_DESC = 0x5000n, TX_AVAIL = 0x7000n, TX_USED = 0x8000n;
// MSI-X vectors: configuration 0, receive 1, transmit 2.
const RX_VECTOR = 1, TX_VECTOR = 2;

let phys: PhysMemory;
let tsc: FakeTsc;
let e: Exports<NetExports>;
beforeEach(async () => {
  phys = new PhysMemory();
  tsc = new FakeTsc(HZ);
  tsc.clock = HZ / 100n; // the machine has run a while, as when the kernel's measure is done
  e = (await load<NetExports>("virtionet.ts", { phys, shim: tsc.stubs() })).exports;
  e.calibrate(tsc.perMs);
  e.build(RAM_HPA, RAM_SIZE, MAC_BASE, CAP);
});

const ramOf = (slot: number) => new GuestRam(phys, RAM_HPA + BigInt(slot - A) * RAM_SIZE);
const octets = (m: bigint) => Array.from({ length: 6 }, (_, i) => Number((m >> BigInt(40 - 8 * i)) & 0xffn));
// A frame from `src` to `dst` of `length` bytes, its payload counting from `seed`.
function frame(dst: bigint, src: bigint, length = 60, seed = 0): Uint8Array {
  const payload = Array.from({ length: length - 14 }, (_, i) => (i + seed) & 0xff);
  return Uint8Array.from([...octets(dst), ...octets(src), 0x08, 0x00, ...payload]);
}

// Linux's virtio_net on one NIC: receive queue 0, transmit queue 1.
class NetDriver extends Driver {
  tx!: Ring;
  // The receive buffer offered under each descriptor head.
  private buffers = new Map<number, bigint>();
  constructor(slot: number) {
    super(slot, ramOf(slot));
  }

  // The handshake with the features `accept` keeps, MSI-X, both queues.
  start(accept = (offered: bigint) => offered): this {
    this.bringUp({ features: accept, driverOk: false });
    this.tx = new Ring(32, TX_DESC, TX_AVAIL, TX_USED, this.ram);
    this.setupQueue(1, this.tx, TX_VECTOR);
    this.status = ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK;
    return this;
  }

  // Receive buffers of these sizes, each its own chain.
  offerReceive(...sizes: number[]): void {
    for (const len of sizes) {
      const gpa = this.alloc(len);
      this.buffers.set(this.ring.offer([{ gpa, len, write: true }]), gpa);
    }
    this.notify(0);
  }

  // Sends a frame behind a zero header, in one buffer or with the header apart.
  send(f: Uint8Array, split = false): void {
    const bytes = Uint8Array.from([...new Uint8Array(HEADER), ...f]);
    const gpa = this.alloc(bytes.length);
    phys.writeBytes(this.ram.hpa + gpa, bytes);
    this.tx.offer(
      split
        ? [{ gpa, len: HEADER, write: false }, { gpa: gpa + BigInt(HEADER), len: f.length, write: false }]
        : [{ gpa, len: bytes.length, write: false }],
    );
    this.notify(1);
  }

  // The frames in the used entries taken now, with their headers' num_buffers.
  received(): Array<{ numBuffers: number; frame: Uint8Array }> {
    const used = this.ring.takeUsed(), out: Array<{ numBuffers: number; frame: Uint8Array }> = [];
    let i = 0;
    while (i < used.length) {
      const first = phys.readBytes(this.ram.hpa + this.buffers.get(used[i][0])!, used[i][1]);
      const numBuffers = first[10] | (first[11] << 8);
      const parts = [first.subarray(HEADER)];
      for (let k = 1; k < numBuffers; k++) {
        const [id, len] = used[i + k];
        parts.push(phys.readBytes(this.ram.hpa + this.buffers.get(id)!, len));
      }
      i += numBuffers;
      out.push({ numBuffers, frame: Uint8Array.from(parts.flatMap((p) => [...p])) });
    }
    return out;
  }
}

const vectorsSent = () => Array.from({ length: e.messageCount() }, (_, i) => e.messageData(i) - msiData(0));

describe("virtio-net", () => {
  beforeEach(() => useMachine(e, ramOf(A)));

  it("is a modern network device with its MAC address and the link up", () => {
    const p = new PciConfig(A);
    expect(p.read(0)).toBe(0x1041_1af4);
    expect(p.read(REVISION) >>> 8).toBe(0x02_00_00); // network controller, Ethernet
    const d = new NetDriver(B);
    expect(d.deviceFeatures()).toBe(TRANSPORT | F_MAC | F_MRG_RXBUF | F_STATUS);
    expect(d.cap(DEVICE_CFG)!.length).toBe(10);
    expect(Array.from({ length: 6 }, (_, i) => d.config(i, 1))).toEqual(octets(MAC_B));
    expect(d.config(6, 2)).toBe(1); // VIRTIO_NET_S_LINK_UP
    expect(d.read(C.numQueues, 2)).toBe(2);
  });

  it("carries a frame from one VM's transmit queue into another VM's receive buffer", () => {
    const a = new NetDriver(A).start(), b = new NetDriver(B).start();
    b.offerReceive(1536, 1536);
    const f = frame(MAC_B, MAC_A, 1514, 3);
    a.send(f);
    expect(b.received()).toEqual([{ numBuffers: 1, frame: f }]);
    expect(a.tx.takeUsed()).toEqual([[0, 0]]);
    // b's receive interrupt, then a's transmit interrupt.
    expect(vectorsSent()).toEqual([RX_VECTOR, TX_VECTOR]);
    // The header apart from the frame is the same frame.
    a.send(frame(MAC_B, MAC_A, 100, 9), true);
    expect(b.received()).toEqual([{ numBuffers: 1, frame: frame(MAC_B, MAC_A, 100, 9) }]);
  });

  it("merges receive buffers for a frame larger than one, num_buffers counting them", () => {
    const a = new NetDriver(A).start(), b = new NetDriver(B).start();
    b.offerReceive(512, 512, 512, 512);
    const f = frame(MAC_B, MAC_A, 1514, 5);
    a.send(f);
    expect(b.received()).toEqual([{ numBuffers: 3, frame: f }]);
  });

  it("without F_MRG_RXBUF puts each frame in one buffer, num_buffers 1", () => {
    const a = new NetDriver(A).start();
    const b = new NetDriver(B).start((f) => f & ~F_MRG_RXBUF);
    b.offerReceive(1530, 1530);
    a.send(frame(MAC_B, MAC_A, 1514));
    a.send(frame(MAC_B, MAC_A, 64));
    expect(b.received()).toEqual([
      { numBuffers: 1, frame: frame(MAC_B, MAC_A, 1514) },
      { numBuffers: 1, frame: frame(MAC_B, MAC_A, 64) },
    ]);
  });

  it("drops a frame the receive queue has no room for, and counts it", () => {
    const a = new NetDriver(A).start(), b = new NetDriver(B).start();
    a.send(frame(MAC_B, MAC_A)); // no buffers at all
    b.offerReceive(512);
    a.send(frame(MAC_B, MAC_A, 1514)); // one buffer, too small: given back
    expect(e.dropped(1, QUEUE_FULL)).toBe(2n);
    expect(b.ring.usedIdx).toBe(0);
    b.offerReceive(512, 512);
    const f = frame(MAC_B, MAC_A, 1514, 1);
    a.send(f);
    expect(b.received()).toEqual([{ numBuffers: 3, frame: f }]);
    // The sender's frames all went back to it.
    expect(a.tx.takeUsed()).toHaveLength(3);
  });

  it("keeps VLANs apart and drops frames with another VM's address", () => {
    const a = new NetDriver(A).start(), b = new NetDriver(B).start(), c = new NetDriver(CC).start();
    b.offerReceive(1536, 1536);
    c.offerReceive(1536);
    a.send(frame(BROADCAST, MAC_A));
    expect(b.received()).toHaveLength(1);
    expect(c.received()).toHaveLength(0);
    a.send(frame(BROADCAST, MAC_B)); // spoofed
    c.send(frame(BROADCAST, MAC_BASE + 2n)); // VLAN 20: nobody else there
    expect(b.received()).toHaveLength(0);
    expect(e.dropped(0, SPOOFED)).toBe(1n);
    expect(e.dropped(0, VLAN) + e.dropped(2, VLAN)).toBe(0n);
  });

  it("needs a reset after a transmit chain without its header, and works after it", () => {
    const a = new NetDriver(A).start(), b = new NetDriver(B).start();
    const gpa = a.alloc(8);
    a.tx.offer([{ gpa, len: 8, write: false }]);
    a.notify(1);
    expect(a.status & NEEDS_RESET).toBe(NEEDS_RESET);
    expect(vectorsSent()).toEqual([0]); // the configuration-change vector
    a.start();
    b.offerReceive(1536);
    a.send(frame(MAC_B, MAC_A));
    expect(b.received()).toHaveLength(1);
  });

  it("needs a reset after a receive buffer the device cannot write, and the sender carries on", () => {
    const a = new NetDriver(A).start(), b = new NetDriver(B).start();
    const gpa = b.alloc(1536);
    b.ring.offer([{ gpa, len: 1536, write: false }]);
    a.send(frame(MAC_B, MAC_A));
    expect(b.status & NEEDS_RESET).toBe(NEEDS_RESET);
    expect(a.status & NEEDS_RESET).toBe(0);
    expect(a.tx.takeUsed()).toHaveLength(1);
    expect(e.dropped(1, QUEUE_FULL)).toBe(1n);
  });

  it("holds a's transmissions to its cap of bytes per second", () => {
    const a = new NetDriver(A).start(), b = new NetDriver(B).start();
    const start = tsc.clock;
    let delivered = 0;
    // A second of frames offered as fast as the queue takes them.
    for (let round = 0; tsc.clock < start + HZ; round++) {
      b.offerReceive(...Array<number>(16).fill(1536));
      for (let i = 0; i < 16; i++) a.send(frame(MAC_B, MAC_A, 1514, round));
      delivered += b.received().length;
      a.tx.takeUsed();
      while (e.resumeAt(0) !== 0xffff_ffff_ffff_ffffn) {
        tsc.clock = e.resumeAt(0);
        e.resume(0);
        delivered += b.received().length;
      }
    }
    // 1 MB/s of payload, with 50 ms of credit at the start.
    const bytes = delivered * 1514;
    expect(bytes).toBeGreaterThan(0.99e6);
    expect(bytes).toBeLessThan(1.06e6 + 1514 * 16);
  });
});
