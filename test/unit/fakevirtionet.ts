// A fake modern virtio network device (virtio 1.2, 4.1 and 5.1) for the
// uplink's unit tests (virtionetuplink.test.ts): one PCI function at
// 00:04.0, 1AF4h:1041h, whose vendor-specific capabilities point into its
// memory BAR 4 at the common configuration, the ISR status, the device
// configuration (its MAC address and link status) and the notification
// area. It moves frames through the split virtqueues the driver sets up
// (2.7): what the test puts on the wire (arrive()) goes into the next
// receive buffer, with a 12-byte virtio_net_hdr before it; what the driver
// offers on the transmit queue goes on the wire (`sent`) when it notifies.
// Whatever the driver does against the specification is recorded in
// `violations`: status bits out of the order of 3.1.1, queues set up
// before FEATURES_OK, notifications before DRIVER_OK, transmit headers
// that are not zero, receive buffers too small or not device-writable.
// Configuration space and DMA are fakepci.ts's.
import { FakePciFunction } from "./fakepci";
import { PhysMemory } from "./harness";

export const BAR = 0xfe00_0000n, REGISTER_BYTES = 0x4000;
export const DEVICE_MAC = [0x52, 0x54, 0x00, 0xaa, 0x00, 0x01];
// The features offered: CSUM, MAC, MRG_RXBUF, STATUS, CTRL_VQ, VERSION_1.
export const OFFERED = (1n << 0n) | (1n << 5n) | (1n << 15n) | (1n << 16n) | (1n << 17n) | (1n << 32n);
const VERSION_1 = 1n << 32n;
const ACKNOWLEDGE = 1, DRIVER = 2, DRIVER_OK = 4, FEATURES_OK = 8;
const COMMON = 0x0000, ISR = 0x1000, DEVICE = 0x2000, NOTIFY = 0x3000, MULTIPLIER = 4, MAX_SIZE = 256;
const HEADER = 12, F_NEXT = 1, F_WRITE = 2;
// Capabilities in configuration space: [offset, cfg_type, offset in the BAR, length].
const CAPS = [[0x40, 1, COMMON, 0x38], [0x50, 3, ISR, 1], [0x60, 4, DEVICE, 8], [0x70, 2, NOTIFY, 8]];

interface Queue {
  size: number;
  desc: bigint;
  driver: bigint;
  device: bigint;
  enabled: boolean;
  taken: number; // available entries the device has taken
}

export interface FakeVirtioNetOptions {
  refuseFeatures?: boolean; // FEATURES_OK never sticks
  linkDown?: boolean;
  holdTransmit?: boolean; // notifications of the transmit queue are not acted on
}

export class FakeVirtioNet extends FakePciFunction {
  violations: string[] = [];
  sent: Uint8Array[] = [];
  missed = 0;
  resets = 0;
  status = 0;
  statuses: number[] = []; // every device_status written
  driverFeatures = 0n;
  notifications = [0, 0];
  queues: Queue[] = [];
  private featureSelect = 0;
  private driverSelect = 0;
  private queueSelect = 0;
  private cf8 = 0;

  constructor(public opts: FakeVirtioNetOptions, mem: () => { linear: Uint8Array; phys: PhysMemory }) {
    // BAR 4: 16 KiB of 32-bit memory; class 02h (network), revision 1.
    const none = { value: 0, writable: 0 };
    const bar4 = { value: Number(BAR), writable: ~0x3fff };
    super(4, (0x1041 << 16) | 0x1af4, 0x0200_0001, [none, none, none, none, bar4], mem);
    this.powerOn();
  }

  // The capability list (PCI 3.0, 6.7) besides fakepci.ts's header.
  outl(port: number, v: number): void {
    if (port === 0xcf8) this.cf8 = v >>> 0;
    super.outl(port, v);
  }
  inl(port: number): number {
    const reg = this.cf8 & 0xfc, value = super.inl(port);
    if (port !== 0xcfc || value === 0xffffffff) return value;
    if (reg === 0x04) return (value | (1 << 20)) >>> 0; // status: a capabilities list
    if (reg === 0x34) return CAPS[0][0];
    for (const [i, [at, type, offset, length]] of CAPS.entries()) {
      const next = i + 1 < CAPS.length ? CAPS[i + 1][0] : 0;
      // cap_vndr, cap_next, cap_len (20 with the notification capability's multiplier), cfg_type
      if (reg === at) return (0x09 | (next << 8) | ((type === 2 ? 20 : 16) << 16) | (type << 24)) >>> 0;
      if (reg === at + 4) return 4; // bar
      if (reg === at + 8) return offset;
      if (reg === at + 12) return length;
      if (reg === at + 16 && type === 2) return MULTIPLIER;
    }
    return value;
  }

  readRegister(off: number, size: number): number {
    if (off >= DEVICE && off < DEVICE + 6) return DEVICE_MAC[off - DEVICE];
    if (off === DEVICE + 6) return this.opts.linkDown ? 0 : 1;
    const q = this.queues[this.queueSelect];
    switch (off) {
      case 0x04:
        return Number((OFFERED >> BigInt(32 * this.featureSelect)) & 0xffff_ffffn);
      case 0x12:
        return 2;
      case 0x14:
        return this.status;
      case 0x15:
        return 0; // config_generation
      case 0x18:
        return q?.size ?? 0;
      case 0x1c:
        return q?.enabled ? 1 : 0;
      case 0x1e:
        return this.queueSelect;
    }
    this.violations.push(`read ${size} bytes at ${hex(off)}`);
    return 0;
  }

  writeRegister(off: number, v: number, size: number): void {
    const q = this.queues[this.queueSelect];
    if (off >= 0x16 && off < 0x38 && off !== 0x16 && (this.status & FEATURES_OK) === 0) {
      this.violations.push(`queue register ${hex(off)} written before FEATURES_OK`);
    }
    if (off === 0x00) this.featureSelect = v;
    else if (off === 0x08) this.driverSelect = v;
    else if (off === 0x0c) {
      const shift = BigInt(32 * this.driverSelect);
      this.driverFeatures = (this.driverFeatures & ~(0xffff_ffffn << shift)) | (BigInt(v >>> 0) << shift);
    } else if (off === 0x14) this.writeStatus(v);
    else if (off === 0x16) this.queueSelect = v;
    else if (off === 0x18 && q) q.size = v;
    else if (off === 0x1c && q) q.enabled = v === 1;
    else if (off >= 0x20 && off < 0x38 && q) {
      const field = (["desc", "driver", "device"] as const)[(off - 0x20) >> 3], high = (off & 4) !== 0;
      const low32 = q[field] & 0xffff_ffffn, high32 = q[field] >> 32n;
      q[field] = high ? low32 | (BigInt(v >>> 0) << 32n) : (high32 << 32n) | BigInt(v >>> 0);
    } else if (off >= NOTIFY && off < NOTIFY + 8 && size === 2) this.notify((off - NOTIFY) / MULTIPLIER, v);
    else this.violations.push(`wrote ${size} bytes at ${hex(off)}`);
  }

  // A frame from the wire: into the next receive buffer the driver offered.
  arrive(frame: Uint8Array): boolean {
    const id = this.takeAvailable(0);
    if (id === null) {
      this.missed++;
      return false;
    }
    const d = this.descriptor(0, id);
    if ((d.flags & F_WRITE) === 0 || d.length < HEADER + frame.length) {
      this.violations.push(`receive descriptor ${id}: flags ${d.flags}, ${d.length} bytes`);
    }
    const header = new Uint8Array(HEADER);
    header[10] = 1; // num_buffers (5.1.6)
    this.write(d.address, header);
    this.write(d.address + BigInt(HEADER), frame);
    this.putUsed(0, id, HEADER + frame.length);
    return true;
  }

  // A used entry for the receive queue as a faulty device writes it: the
  // next buffer the driver offered, under `id` and with `length`.
  arriveWrongly(id: number, length: number): void {
    this.takeAvailable(0);
    this.putUsed(0, id, length);
  }

  // Sends what the driver offered on the transmit queue since the last time.
  transmit(): void {
    for (let id = this.takeAvailable(1); id !== null; id = this.takeAvailable(1)) {
      const d = this.descriptor(1, id), bytes = this.read(d.address, d.length);
      if ((d.flags & (F_WRITE | F_NEXT)) !== 0 || d.length <= HEADER) {
        this.violations.push(`transmit descriptor ${id}: flags ${d.flags}, ${d.length} bytes`);
      }
      if (bytes.subarray(0, HEADER).some((b) => b !== 0)) this.violations.push(`transmit header not zero`);
      this.sent.push(bytes.slice(HEADER));
      this.putUsed(1, id, 0);
    }
  }

  // The available ring's index as the driver last wrote it.
  availableIndex(q: number): number {
    return this.u16(this.queues[q].driver + 2n);
  }

  private notify(q: number, v: number): void {
    if (v !== q) this.violations.push(`notification ${v} at queue ${q}'s address`);
    if ((this.status & DRIVER_OK) === 0) this.violations.push(`queue ${q} notified before DRIVER_OK`);
    this.notifications[q]++;
    if (q === 1 && !this.opts.holdTransmit) this.transmit();
  }

  private writeStatus(v: number): void {
    this.statuses.push(v);
    if (v === 0) return this.reset();
    const added = v & ~this.status;
    const order = [ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK];
    for (const bit of order) {
      const before = order.slice(0, order.indexOf(bit));
      if ((added & bit) !== 0 && before.some((b) => (v & b) === 0)) this.violations.push(`status ${v}: out of order`);
    }
    if ((added & FEATURES_OK) !== 0) {
      const ok = !this.opts.refuseFeatures && (this.driverFeatures & ~OFFERED) === 0n
        && (this.driverFeatures & VERSION_1) !== 0n;
      if (!ok) v &= ~FEATURES_OK;
    }
    this.status = v;
  }

  private reset(): void {
    this.resets++;
    this.powerOn();
  }

  private powerOn(): void {
    this.status = 0;
    this.driverFeatures = 0n;
    this.queues = [0, 1].map(() => ({ size: MAX_SIZE, desc: 0n, driver: 0n, device: 0n, enabled: false, taken: 0 }));
  }

  private takeAvailable(q: number): number | null {
    const queue = this.queues[q];
    if (!queue.enabled || (this.status & DRIVER_OK) === 0) return null;
    if (queue.taken === this.availableIndex(q)) return null;
    const id = this.u16(queue.driver + 4n + BigInt(2 * (queue.taken % queue.size)));
    queue.taken = (queue.taken + 1) & 0xffff;
    return id;
  }

  private putUsed(q: number, id: number, length: number): void {
    const queue = this.queues[q], index = this.u16(queue.device + 2n);
    const entry = new Uint8Array(8), v = new DataView(entry.buffer);
    v.setUint32(0, id, true);
    v.setUint32(4, length, true);
    this.write(queue.device + 4n + BigInt(8 * (index % queue.size)), entry);
    this.write(queue.device + 2n, Uint8Array.of((index + 1) & 0xff, ((index + 1) >> 8) & 0xff));
  }

  private descriptor(q: number, id: number): { address: bigint; length: number; flags: number } {
    const v = new DataView(this.read(this.queues[q].desc + BigInt(16 * id), 16).buffer);
    return { address: v.getBigUint64(0, true), length: v.getUint32(8, true), flags: v.getUint16(12, true) };
  }

  private u16(a: bigint): number {
    const b = this.read(a, 2);
    return b[0] | (b[1] << 8);
  }
}

// The shim imports for the driver's unit: configuration space through the
// fake's ports, accesses of any width within its BAR to its registers,
// the others to memory.
export function virtioShim(fake: FakeVirtioNet) {
  const inBar = (a: bigint) => a >= BAR && a < BAR + BigInt(REGISTER_BYTES);
  const reader = (size: number) => (a: bigint) => {
    if (inBar(a)) return fake.readRegister(Number(a - BAR), size);
    const b = fake.read(a, size);
    return b.reduceRight((v, byte) => v * 256 + byte, 0) >>> 0;
  };
  const writer = (size: number) => (a: bigint, v: number) => {
    if (inBar(a)) return fake.writeRegister(Number(a - BAR), v >>> 0, size);
    fake.write(a, Uint8Array.from({ length: size }, (_, i) => (v >>> (8 * i)) & 0xff));
  };
  return {
    inl: (port: number) => fake.inl(port),
    outl: (port: number, v: number) => fake.outl(port, v),
    outw: (port: number, v: number) => fake.outw(port, v),
    phys_read8: reader(1),
    phys_read16: reader(2),
    phys_read32: reader(4),
    phys_write8: writer(1),
    phys_write16: writer(2),
    phys_write32: writer(4),
  };
}

function hex(v: number): string {
  return "0x" + v.toString(16);
}
