// A virtio driver in JavaScript for the unit tests (virtio.test.ts,
// virtionet.test.ts), as Linux's virtio_pci drives a device: through PCI
// configuration space (ECAM) and the BARs only. It walks the capability
// list to the virtio structures, goes through the handshake of virtio 1.2,
// 3.1.1, sets up split virtqueues (2.7) in fake guest RAM and programs
// MSI-X. A test entry's mmioRead/mmioWrite and ioWrite are its bus; a
// GuestRam is a VM's RAM in the harness's fake physical memory.
import { expect } from "vitest";
import { PhysMemory } from "./harness";

// How the driver reaches the VM's bus, and a VM's RAM at guest-physical 0.
export interface VirtioHost {
  mmioRead(address: bigint, size: number): bigint;
  mmioWrite(address: bigint, size: number, value: bigint): void;
  ioWrite(port: number, size: number, value: bigint): void;
}
export class GuestRam {
  constructor(readonly phys: PhysMemory, readonly hpa: bigint) {}
}
// The bus and RAM the drivers use unless given others (useMachine()).
const current: { host: VirtioHost; ram: GuestRam } = {
  host: { mmioRead: () => 0n, mmioWrite: () => {}, ioWrite: () => {} },
  ram: new GuestRam(new PhysMemory(), 0n),
};
export function useMachine(host: VirtioHost, ram: GuestRam): void {
  current.host = host;
  current.ram = ram;
}

export const ECAM = 0xe000_0000n;
// PCI (PCI 3.0, 6.1, 6.7) and virtio PCI (virtio 1.2, 4.1.4).
export const COMMAND = 0x04, STATUS = 0x06, REVISION = 0x08, BAR0 = 0x10, CAPABILITIES = 0x34;
export const INTERRUPT_PIN = 0x3d;
export const MEMORY_SPACE = 2, BUS_MASTER = 4, STATUS_INTERRUPT = 8;
export const VENDOR_CAP = 0x09, MSIX_CAP = 0x11, MSI_CAP = 0x05;
export const COMMON_CFG = 1, NOTIFY_CFG = 2, ISR_CFG = 3, DEVICE_CFG = 4;
export const MSIX_ENABLE = 0x8000, MSIX_FUNCTION_MASK = 0x4000;
export const NO_VECTOR = 0xffff;
// struct virtio_pci_common_cfg (4.1.4.3).
export const C = {
  deviceFeatureSelect: 0,
  deviceFeature: 4,
  driverFeatureSelect: 8,
  driverFeature: 12,
  configMsixVector: 16,
  numQueues: 18,
  deviceStatus: 20,
  configGeneration: 21,
  queueSelect: 22,
  queueSize: 24,
  queueMsixVector: 26,
  queueEnable: 28,
  queueNotifyOff: 30,
  queueDesc: 32,
  queueDriver: 40,
  queueDevice: 48,
};
// Device status (2.1) and the reserved feature bits (6); virtio-blk's
// read-only bit (5.2.3), which a Driver declines unless told otherwise.
export const ACKNOWLEDGE = 1, DRIVER = 2, DRIVER_OK = 4, FEATURES_OK = 8, NEEDS_RESET = 64;
export const bit = (n: number) => 1n << BigInt(n);
export const F_INDIRECT_DESC = bit(28), F_EVENT_IDX = bit(29), F_VERSION_1 = bit(32);
export const TRANSPORT = F_INDIRECT_DESC | F_EVENT_IDX | F_VERSION_1;
export const F_RO = bit(5);
// Split virtqueue descriptor flags (2.7.5) and ring flags (2.7.7, 2.7.10).
export const NEXT = 1, WRITE = 2, INDIRECT = 4;
export const AVAIL_NO_INTERRUPT = 1, USED_NO_NOTIFY = 1;

// Where a driver keeps its rings in guest RAM, and its heap.
export const DESC = 0x1000n, AVAIL = 0x3000n, USED = 0x4000n, HEAP = 0x1_0000n;
// The MSI-X messages the driver programs: one per vector, to APIC 1.
export const MSI_ADDRESS = 0xfee0_1000n;
export const msiData = (vector: number) => 0x40 + vector;
export const SENTINEL = 0xee;

interface VirtioCap {
  at: number;
  type: number;
  bar: number;
  offset: number;
  length: number;
  multiplier?: number;
}

export class PciConfig {
  constructor(readonly slot: number, readonly host: VirtioHost = current.host) {}
  private at(reg: number): bigint {
    return ECAM + BigInt((this.slot << 15) | reg);
  }
  read(reg: number, size = 4): number {
    return Number(this.host.mmioRead(this.at(reg), size)) >>> 0;
  }
  write(reg: number, size: number, value: number): void {
    this.host.mmioWrite(this.at(reg), size, BigInt(value >>> 0));
  }
  // A memory BAR's address, both halves of a 64-bit one.
  // Where BAR i is: a port for an I/O BAR (bit 0), else a memory address.
  bar(i: number): bigint {
    const low = this.read(BAR0 + 4 * i);
    if (low & 1) return BigInt((low & ~3) >>> 0);
    const high = (low & 6) === 4 ? this.read(BAR0 + 4 * i + 4) : 0;
    return (BigInt(high) << 32n) | BigInt((low & ~0xf) >>> 0);
  }
  isIoBar(i: number): boolean {
    return (this.read(BAR0 + 4 * i) & 1) === 1;
  }
  // The capability list: [offset, ID] from the capabilities pointer on.
  capabilities(): Array<[number, number]> {
    const list: Array<[number, number]> = [];
    for (let at = this.read(CAPABILITIES, 1) & ~3; at !== 0 && list.length < 48; at = this.read(at + 1, 1) & ~3) {
      list.push([at, this.read(at, 1)]);
    }
    return list;
  }
}

// The transport side of a driver (Linux's virtio_pci_modern).
export class VirtioPciDriver {
  readonly pci: PciConfig;
  readonly caps: VirtioCap[] = [];
  readonly msixAt: number;
  constructor(readonly slot: number, readonly host: VirtioHost = current.host) {
    this.pci = new PciConfig(slot, host);
    let msixAt = 0;
    for (const [at, id] of this.pci.capabilities()) {
      if (id === MSIX_CAP) msixAt = at;
      if (id !== VENDOR_CAP) continue;
      const p = this.pci, type = p.read(at + 3, 1);
      const cap: VirtioCap = { at, type, bar: p.read(at + 4, 1), offset: p.read(at + 8), length: p.read(at + 12) };
      if (type === NOTIFY_CFG) cap.multiplier = p.read(at + 16);
      this.caps.push(cap);
    }
    this.msixAt = msixAt;
  }

  // The first structure of `type`, as Linux takes it (4.1.4.1), and where it is.
  cap(type: number): VirtioCap | undefined {
    return this.caps.find((c) => c.type === type);
  }
  where(type: number): bigint {
    const c = this.cap(type);
    if (!c) throw new Error(`no virtio capability of type ${type}`);
    return this.pci.bar(c.bar) + BigInt(c.offset);
  }

  // The common configuration.
  read(field: number, size: number): number {
    return Number(this.host.mmioRead(this.where(COMMON_CFG) + BigInt(field), size));
  }
  write(field: number, size: number, value: number): void {
    this.host.mmioWrite(this.where(COMMON_CFG) + BigInt(field), size, BigInt(value >>> 0));
  }
  // A 64-bit field as two 32-bit halves, as Linux's vp_iowrite64_twopart.
  write64(field: number, value: bigint): void {
    this.write(field, 4, Number(value & 0xffff_ffffn));
    this.write(field + 4, 4, Number(value >> 32n));
  }
  read64(field: number): bigint {
    return BigInt(this.read(field, 4)) | (BigInt(this.read(field + 4, 4)) << 32n);
  }
  get status(): number {
    return this.read(C.deviceStatus, 1);
  }
  set status(v: number) {
    this.write(C.deviceStatus, 1, v);
  }
  get generation(): number {
    return this.read(C.configGeneration, 1);
  }
  deviceFeatures(): bigint {
    this.write(C.deviceFeatureSelect, 4, 0);
    const low = this.read(C.deviceFeature, 4);
    this.write(C.deviceFeatureSelect, 4, 1);
    return BigInt(low) | (BigInt(this.read(C.deviceFeature, 4)) << 32n);
  }
  setDriverFeatures(f: bigint): void {
    this.write(C.driverFeatureSelect, 4, 0);
    this.write(C.driverFeature, 4, Number(f & 0xffff_ffffn));
    this.write(C.driverFeatureSelect, 4, 1);
    this.write(C.driverFeature, 4, Number(f >> 32n));
  }
  driverFeatures(): bigint {
    this.write(C.driverFeatureSelect, 4, 0);
    const low = this.read(C.driverFeature, 4);
    this.write(C.driverFeatureSelect, 4, 1);
    return BigInt(low) | (BigInt(this.read(C.driverFeature, 4)) << 32n);
  }
  // The device-specific configuration.
  config(offset: number, size: number): number {
    return Number(this.host.mmioRead(this.where(DEVICE_CFG) + BigInt(offset), size));
  }
  isr(): number {
    return Number(this.host.mmioRead(this.where(ISR_CFG), 1));
  }

  // 3.1.1 steps 1-6: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK.
  // Returns the status read back after FEATURES_OK.
  negotiate(accept: (offered: bigint) => bigint): number {
    this.pci.write(COMMAND, 2, this.pci.read(COMMAND, 2) | MEMORY_SPACE | BUS_MASTER);
    this.status = 0;
    this.status = ACKNOWLEDGE;
    this.status = ACKNOWLEDGE | DRIVER;
    this.setDriverFeatures(accept(this.deviceFeatures()));
    this.status = ACKNOWLEDGE | DRIVER | FEATURES_OK;
    return this.status;
  }

  // MSI-X on, each vector's entry programmed and unmasked (Linux's
  // msix_capability_init: enable under the function mask, then unmask).
  enableMsix(): void {
    const control = this.msixAt + 2;
    this.pci.write(control, 2, MSIX_ENABLE | MSIX_FUNCTION_MASK);
    const vectors = (this.pci.read(control, 2) & 0x7ff) + 1;
    for (let v = 0; v < vectors; v++) {
      const entry = this.msixTable() + BigInt(16 * v);
      this.host.mmioWrite(entry, 8, MSI_ADDRESS);
      this.host.mmioWrite(entry + 8n, 4, BigInt(msiData(v)));
      this.host.mmioWrite(entry + 12n, 4, 0n);
    }
    this.pci.write(control, 2, MSIX_ENABLE);
  }
  msixTable(): bigint {
    const table = this.pci.read(this.msixAt + 4);
    return this.pci.bar(table & 7) + BigInt(table & ~7);
  }

  // 4.1.5.1.3: one queue's size, rings and vector, then queue_enable.
  setupQueue(index: number, ring: Ring, vector = NO_VECTOR): void {
    this.write(C.queueSelect, 2, index);
    this.write(C.queueSize, 2, ring.size);
    this.write64(C.queueDesc, ring.desc);
    this.write64(C.queueDriver, ring.avail);
    this.write64(C.queueDevice, ring.used);
    this.write(C.queueMsixVector, 2, vector);
    this.write(C.queueEnable, 2, 1);
  }

  // The queue's notification address (4.1.4.4): the cap's offset plus
  // queue_notify_off times the multiplier, in the first notification
  // structure, as Linux takes it: a port, where the device lists one first.
  notify(index: number): void {
    this.write(C.queueSelect, 2, index);
    const off = this.read(C.queueNotifyOff, 2), cap = this.cap(NOTIFY_CFG)!;
    const at = this.where(NOTIFY_CFG) + BigInt(off * cap.multiplier!);
    if (this.pci.isIoBar(cap.bar)) this.host.ioWrite(Number(at), 2, BigInt(index));
    else this.host.mmioWrite(at, 2, BigInt(index));
  }
}

export interface Buf {
  gpa: bigint;
  len: number;
  write: boolean;
}

// The driver's side of one split virtqueue in guest RAM (2.7), as
// virtio_ring lays it out. Descriptors are taken in turn, modulo the size:
// enough while at most `size` are in flight.
export class Ring {
  private nextDesc = 0;
  // Ring positions wrap at the size (1 for a driver's bad size of 0).
  private readonly slots: number;
  availIdx = 0;
  lastUsed = 0;
  constructor(
    readonly size: number,
    readonly desc = DESC,
    readonly avail = AVAIL,
    readonly used = USED,
    readonly ram: GuestRam = current.ram,
  ) {
    this.slots = Math.max(size, 1);
    // A fresh driver zeroes its rings.
    this.ram.phys.zero(this.ram.hpa + desc, 16 * size);
    this.ram.phys.zero(this.ram.hpa + avail, 6 + 2 * size);
    this.ram.phys.zero(this.ram.hpa + used, 6 + 8 * size);
  }

  writeDesc(table: bigint, i: number, b: Buf, flags: number, next: number): void {
    const d = this.ram.hpa + table + 16n * BigInt(i);
    this.ram.phys.write64(d, b.gpa);
    this.ram.phys.write32(d + 8n, b.len);
    this.ram.phys.write16(d + 12n, flags | (b.write ? WRITE : 0));
    this.ram.phys.write16(d + 14n, next);
  }

  // Puts the chain in the descriptor table (or in an indirect table at
  // `indirect`), then its head in the available ring, then idx.
  offer(buffers: Buf[], indirect?: bigint): number {
    let head: number;
    if (indirect !== undefined) {
      buffers.forEach((b, i) => this.writeDesc(indirect, i, b, i + 1 < buffers.length ? NEXT : 0, i + 1));
      head = this.nextDesc;
      this.writeDesc(this.desc, head, { gpa: indirect, len: 16 * buffers.length, write: false }, INDIRECT, 0);
      this.nextDesc = (head + 1) % this.slots;
    } else {
      const ids = buffers.map((_, i) => (this.nextDesc + i) % this.slots);
      buffers.forEach((b, i) =>
        this.writeDesc(this.desc, ids[i], b, i + 1 < buffers.length ? NEXT : 0, ids[i + 1] ?? 0)
      );
      head = ids[0];
      this.nextDesc = (this.nextDesc + buffers.length) % this.slots;
    }
    this.offerHead(head);
    return head;
  }
  offerHead(head: number): void {
    this.ram.phys.write16(this.ram.hpa + this.avail + 4n + 2n * BigInt(this.availIdx % this.slots), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.ram.phys.write16(this.ram.hpa + this.avail + 2n, this.availIdx);
  }

  set availFlags(v: number) {
    this.ram.phys.write16(this.ram.hpa + this.avail, v);
  }
  set usedEvent(v: number) {
    this.ram.phys.write16(this.ram.hpa + this.avail + 4n + 2n * BigInt(this.size), v);
  }
  get usedFlags(): number {
    return this.ram.phys.read16(this.ram.hpa + this.used);
  }
  get usedIdx(): number {
    return this.ram.phys.read16(this.ram.hpa + this.used + 2n);
  }
  get availEvent(): number {
    return this.ram.phys.read16(this.ram.hpa + this.used + 4n + 8n * BigInt(this.size));
  }
  // The used elements since the last call: [id, len]. Then, as Linux's
  // virtqueue_enable_cb() after its interrupt handler, used_event asks
  // for an interrupt at the next one (ignored without EVENT_IDX).
  takeUsed(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (; this.lastUsed !== this.usedIdx; this.lastUsed = (this.lastUsed + 1) & 0xffff) {
      const at = this.ram.hpa + this.used + 4n + 8n * BigInt(this.lastUsed % this.slots);
      out.push([this.ram.phys.read32(at), this.ram.phys.read32(at + 4n)]);
    }
    this.usedEvent = this.lastUsed;
    return out;
  }
}

export interface BringUp {
  features?: (offered: bigint) => bigint;
  size?: number;
  // Rings of the driver's own making, instead of a Ring(size) at DESC, AVAIL, USED.
  ring?: () => Ring;
  msix?: boolean;
  driverOk?: boolean;
}

// A driver for one device: the handshake, one queue, DRIVER_OK, and a
// bump allocator over guest RAM for its requests.
export class Driver extends VirtioPciDriver {
  ring!: Ring;
  private heap = HEAP;
  constructor(slot: number, readonly ram: GuestRam = current.ram, host: VirtioHost = current.host) {
    super(slot, host);
  }

  // Linux's order: features, MSI-X with the configuration vector 0, the
  // queue on vector 1, DRIVER_OK.
  bringUp(opts: BringUp = {}): this {
    const accept = opts.features ?? ((offered: bigint) => offered & ~F_RO);
    expect(this.negotiate(accept) & FEATURES_OK).toBe(FEATURES_OK);
    const msix = opts.msix ?? true;
    if (msix) {
      this.enableMsix();
      this.write(C.configMsixVector, 2, 0);
    }
    this.ring = opts.ring?.() ?? new Ring(opts.size ?? 32, DESC, AVAIL, USED, this.ram);
    this.setupQueue(0, this.ring, msix ? 1 : NO_VECTOR);
    if (opts.driverOk ?? true) this.status = ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK;
    return this;
  }

  // `bytes` of guest RAM, 16-byte aligned, filled with `fill`.
  alloc(bytes: number, fill = SENTINEL): bigint {
    const gpa = this.heap;
    this.heap += BigInt((bytes + 15) & ~15) + 16n; // a gap between allocations, to see strays
    this.ram.phys.fill(this.ram.hpa + gpa, bytes + 16, fill);
    return gpa;
  }
}
