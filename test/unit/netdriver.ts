// Linux's virtio_net in JavaScript for the virtio-net unit tests
// (virtionet.test.ts, virtionetoffload.test.ts): the machine of
// test/unit/as/virtionet.ts (three VMs' NICs on one switch, each VM with
// RAM of its own), and a driver for one NIC with its receive and transmit
// queues, which sends frames behind a virtio_net_hdr (virtio 1.2, 5.1.6)
// and reads back what it received with the header's fields.
import { FakeTsc } from "./fakehost";
import { type Exports, load, PhysMemory } from "./harness";
import { ACKNOWLEDGE, bit, Driver, DRIVER, DRIVER_OK, FEATURES_OK, GuestRam, Ring, useMachine } from "./virtiodriver";

export interface NetExports {
  build(ramHpa: bigint, ramSize: bigint, macBase: bigint, bytesPerSecond: bigint): void;
  calibrate(tscPerMs: bigint): void;
  mmioRead(address: bigint, size: number): bigint;
  mmioWrite(address: bigint, size: number, value: bigint): void;
  ioWrite(port: number, size: number, value: bigint): void;
  messageCount(): number;
  messageData(i: number): number;
  dropped(nic: number, why: number): bigint;
  resumeAt(nic: number): bigint;
  resume(nic: number): void;
}

// The machine: NICs a and b on VLAN 10, c on 20, in PCI slots 11 to 13.
// NIC d, on VLAN 10 too in slot 14, has two queue pairs.
export const A = 11, B = 12, CC = 13, D = 14;
const MiB = 1n << 20n;
const RAM_HPA = 0x1000_0000n, RAM_SIZE = 4n * MiB;
export const MAC_BASE = 0x52_54_00_00_00_10n;
export const MAC_A = MAC_BASE, MAC_B = MAC_BASE + 1n;
export const BROADCAST = 0xff_ff_ff_ff_ff_ffn;
export const HZ = 1_000_000_000n; // the TSC: 1 GHz
// Feature bits (5.1.3) and drops by cause (vmm/net/port.ts).
export const F_CSUM = bit(0), F_GUEST_CSUM = bit(1), F_MAC = bit(5), F_GUEST_TSO4 = bit(7), F_GUEST_TSO6 = bit(8);
export const F_HOST_TSO4 = bit(11), F_HOST_TSO6 = bit(12);
export const F_MRG_RXBUF = bit(15), F_STATUS = bit(16), F_CTRL_VQ = bit(17), F_MQ = bit(22);
export const MALFORMED = 0, SPOOFED = 1, VLAN = 2, QUEUE_FULL = 4, BAD_OFFLOAD = 5;
export const HEADER = 12;
// The transmit queue's rings, beside the receive queue's (virtiodriver.ts).
const TX_DESC = 0x5000n, TX_AVAIL = 0x7000n, TX_USED = 0x8000n;
// MSI-X vectors: configuration 0, receive 1, transmit 2.
export const RX_VECTOR = 1, TX_VECTOR = 2;

export interface NetMachine {
  e: Exports<NetExports>;
  phys: PhysMemory;
  tsc: FakeTsc;
}

// A fresh machine, a's transmissions capped at `cap` bytes per second (0: none).
export async function loadNetMachine(cap: bigint): Promise<NetMachine> {
  const phys = new PhysMemory();
  const tsc = new FakeTsc(HZ);
  tsc.clock = HZ / 100n; // the machine has run a while, as when the kernel's measure is done
  const e = (await load<NetExports>("virtionet.ts", { phys, shim: tsc.stubs() })).exports;
  e.calibrate(tsc.perMs);
  e.build(RAM_HPA, RAM_SIZE, MAC_BASE, cap);
  useMachine(e, ramOf(phys, A));
  return { e, phys, tsc };
}

export const ramOf = (phys: PhysMemory, slot: number) => new GuestRam(phys, RAM_HPA + BigInt(slot - A) * RAM_SIZE);
export const octets = (m: bigint) => Array.from({ length: 6 }, (_, i) => Number((m >> BigInt(40 - 8 * i)) & 0xffn));
// A frame from `src` to `dst` of `length` bytes, its payload counting from `seed`.
export function frame(dst: bigint, src: bigint, length = 60, seed = 0): Uint8Array {
  const payload = Array.from({ length: length - 14 }, (_, i) => (i + seed) & 0xff);
  return Uint8Array.from([...octets(dst), ...octets(src), 0x08, 0x00, ...payload]);
}

// struct virtio_net_hdr's fields, all but num_buffers (5.1.6).
export interface NetHeader {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}
export const NO_WORK: NetHeader = { flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 };

function headerBytes(h: NetHeader): Uint8Array {
  const b = new Uint8Array(HEADER), v = new DataView(b.buffer);
  b[0] = h.flags;
  b[1] = h.gsoType;
  [h.hdrLen, h.gsoSize, h.csumStart, h.csumOffset].forEach((x, i) => v.setUint16(2 + 2 * i, x, true));
  return b;
}

export interface Received {
  header: NetHeader;
  numBuffers: number;
  frame: Uint8Array;
}

// Linux's virtio_net on one NIC: receive queue 0, transmit queue 1.
export class NetDriver extends Driver {
  tx!: Ring;
  // The receive buffer offered under each descriptor head, by ring.
  private buffers = new Map<Ring, Map<number, bigint>>();
  constructor(slot: number, readonly phys: PhysMemory) {
    super(slot, ramOf(phys, slot));
  }

  // The handshake with the features `accept` keeps, MSI-X, both queues,
  // and the queues of `more` after them (another pair's, a control
  // queue), each on the vector after the last.
  start(accept = (offered: bigint) => offered, more: Ring[] = []): this {
    this.bringUp({ features: accept, driverOk: false });
    this.tx = new Ring(32, TX_DESC, TX_AVAIL, TX_USED, this.ram);
    this.setupQueue(1, this.tx, TX_VECTOR);
    more.forEach((ring, i) => this.setupQueue(2 + i, ring, TX_VECTOR + 1 + i));
    this.status = ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK;
    return this;
  }

  // Receive buffers of these sizes, each its own chain.
  offerReceive(...sizes: number[]): void {
    this.offerReceiveOn(this.ring, 0, sizes);
  }

  // Receive buffers of these sizes one after another in guest RAM, as
  // Linux carves them from one page, each its own chain.
  offerReceiveAdjacent(...sizes: number[]): void {
    const gpas = this.adjacent(sizes);
    let i = 0;
    this.offerReceiveOn(this.ring, 0, sizes, () => gpas[i++]);
  }

  // One receive chain of buffers of these sizes, one after another in
  // guest RAM (so received() reads the chain as one buffer).
  offerReceiveChain(...sizes: number[]): void {
    const gpas = this.adjacent(sizes);
    this.remember(this.ring, this.ring.offer(sizes.map((len, i) => ({ gpa: gpas[i], len, write: true }))), gpas[0]);
    this.notify(0);
  }

  // Where buffers of these sizes lie one after another in guest RAM.
  private adjacent(sizes: number[]): bigint[] {
    let gpa = this.alloc(sizes.reduce((sum, len) => sum + len, 0));
    return sizes.map((len) => {
      const at = gpa;
      gpa += BigInt(len);
      return at;
    });
  }

  // The chain `head` on `ring` is read back from `gpa` (received()).
  private remember(ring: Ring, head: number, gpa: bigint): void {
    if (!this.buffers.has(ring)) this.buffers.set(ring, new Map());
    this.buffers.get(ring)!.set(head, gpa);
  }

  // The same on the receive queue `index`, whose rings are `ring`, each
  // buffer where `place` says.
  offerReceiveOn(ring: Ring, index: number, sizes: number[], place = (len: number) => this.alloc(len)): void {
    for (const len of sizes) {
      const gpa = place(len);
      this.remember(ring, ring.offer([{ gpa, len, write: true }]), gpa);
    }
    this.notify(index);
  }

  // Sends a frame behind `header`, in one buffer or with the header apart;
  // on the transmit queue `index`, whose rings are `tx`.
  send(f: Uint8Array, split = false, header = NO_WORK, tx = this.tx, index = 1): void {
    const bytes = Uint8Array.from([...headerBytes(header), ...f]);
    const gpa = this.alloc(bytes.length);
    this.phys.writeBytes(this.ram.hpa + gpa, bytes);
    tx.offer(
      split
        ? [{ gpa, len: HEADER, write: false }, { gpa: gpa + BigInt(HEADER), len: f.length, write: false }]
        : [{ gpa, len: bytes.length, write: false }],
    );
    this.notify(index);
  }

  // The frames in the used entries of `ring` taken now, with their headers' num_buffers.
  received(ring = this.ring): Array<{ numBuffers: number; frame: Uint8Array }> {
    return this.receivedWithHeaders(ring).map(({ numBuffers, frame }) => ({ numBuffers, frame }));
  }

  // The same with the rest of each header.
  receivedWithHeaders(ring = this.ring): Received[] {
    const used = ring.takeUsed(), out: Received[] = [], buffers = this.buffers.get(ring)!;
    let i = 0;
    while (i < used.length) {
      const first = this.phys.readBytes(this.ram.hpa + buffers.get(used[i][0])!, used[i][1]);
      const v = new DataView(first.buffer, first.byteOffset), u16 = (at: number) => v.getUint16(at, true);
      const header = { flags: first[0], gsoType: first[1], hdrLen: u16(2), gsoSize: u16(4), csumStart: u16(6) };
      const numBuffers = u16(10);
      const parts = [first.subarray(HEADER)];
      for (let k = 1; k < numBuffers; k++) {
        const [id, len] = used[i + k];
        parts.push(this.phys.readBytes(this.ram.hpa + buffers.get(id)!, len));
      }
      i += numBuffers;
      out.push({
        header: { ...header, csumOffset: u16(8) },
        numBuffers,
        frame: Uint8Array.from(parts.flatMap((p) => [...p])),
      });
    }
    return out;
  }
}
