// A fake PCI function for the host drivers' unit tests (fakenvme.ts,
// fakeahci.ts): its configuration space on bus 0 through configuration
// mechanism #1 (ports 0xCF8/0xCFC), with a command register and BARs that
// keep the address bits their size leaves writable (PCI 3.0, 6.2.5.1);
// and DMA into "physical memory": the linear memory where the harness's
// stubs place it (the driver's queues and buffers) and the fake
// PhysMemory elsewhere (a VM's RAM).
import { gptWrites, LINUX_DATA } from "../../tools/disk/gpt";
import { LINEAR_PHYS_BASE, PhysMemory } from "./harness";

// The fake controllers' disk: 4 MiB with a GPT whose partitions follow one
// another from sector 2048, each [name, size in 512-byte sectors] (the
// first one's GUID is ALPHA), filled with a pattern that is never 0, so
// that reads and writes are seen.
export const DISK_BYTES = 4 << 20;
export const ALPHA = "8AB7C2D4-1E5F-4A6B-9C0D-112233445566";
const OTHER_GUIDS = [
  "C0FFEE00-1234-4567-89AB-CDEF01234567",
  "11111111-2222-3333-4444-555555555555",
  "66666666-7777-8888-9999-AAAAAAAAAAAA",
];
const FIRST_SECTOR = 2048;

export function partitionedDisk(blockSize: number, layout: Array<[string, number]>): Uint8Array {
  const disk = new Uint8Array(DISK_BYTES);
  let next = FIRST_SECTOR;
  const partitions = layout.map(([name, sectors], i) => {
    const first = next;
    next += sectors;
    return {
      name,
      guid: i == 0 ? ALPHA : OTHER_GUIDS[i - 1],
      typeGuid: LINUX_DATA,
      firstLba: (first * 512) / blockSize,
      lastLba: (next * 512) / blockSize - 1,
    };
  });
  for (const w of gptWrites({ blockSize, blocks: DISK_BYTES / blockSize, partitions })) {
    disk.set(w.bytes, w.lba * blockSize);
  }
  for (let i = FIRST_SECTOR * 512; i < next * 512; i++) disk[i] = ((i * 7 + (i >> 12)) & 0xff) | 1;
  return disk;
}

export interface BarSpec {
  value: number; // the BAR register as the firmware left it
  writable: number; // the address bits its size leaves writable
}

export class FakePciFunction {
  command = 0; // the PCI command register
  bars: number[];
  private cf8 = 0;

  constructor(
    private device: number,
    private id: number, // device ID << 16 | vendor ID
    private classRevision: number, // class code << 8 | revision
    private barSpecs: BarSpec[],
    public mem: () => { linear: Uint8Array; phys: PhysMemory },
  ) {
    this.bars = barSpecs.map((b) => b.value >>> 0);
  }

  // Unified physical memory, as the device's DMA sees it.
  read(a: bigint, n: number): Uint8Array {
    const { linear, phys } = this.mem();
    const off = a - LINEAR_PHYS_BASE;
    if (off >= 0n && off < BigInt(linear.length)) return linear.slice(Number(off), Number(off) + n);
    return phys.readBytes(a, n);
  }
  write(a: bigint, bytes: Uint8Array): void {
    const { linear, phys } = this.mem();
    const off = a - LINEAR_PHYS_BASE;
    if (off >= 0n && off < BigInt(linear.length)) linear.set(bytes, Number(off));
    else phys.writeBytes(a, bytes);
  }

  // PCI configuration mechanism #1.
  outl(port: number, v: number): void {
    if (port === 0xcf8) this.cf8 = v >>> 0;
    const i = this.barIndex();
    if (port === 0xcfc && this.ours() && i >= 0) {
      const spec = this.barSpecs[i], flags = spec.value & ~spec.writable;
      this.bars[i] = ((v & spec.writable) | flags) >>> 0;
    }
  }
  outw(port: number, v: number): void {
    if (port === 0xcfc && this.ours() && (this.cf8 & 0xfc) === 0x04) this.command = v;
  }
  inl(port: number): number {
    if (port !== 0xcfc || !this.ours()) return 0xffffffff;
    const reg = this.cf8 & 0xfc, i = this.barIndex();
    if (reg === 0x00) return this.id >>> 0;
    if (reg === 0x04) return this.command;
    if (reg === 0x08) return this.classRevision >>> 0;
    return i >= 0 ? this.bars[i] : 0;
  }

  private barIndex(): number {
    const i = ((this.cf8 & 0xfc) - 0x10) / 4;
    return i >= 0 && i < this.barSpecs.length ? i : -1;
  }
  private ours(): boolean {
    return ((this.cf8 & 0x80ff_ff00) >>> 0) === (0x8000_0000 | (this.device << 11)) >>> 0;
  }
}

// A fake controller: its PCI function, and registers in one memory BAR.
export interface FakeController extends FakePciFunction {
  readRegister(offset: number): number;
  writeRegister(offset: number, value: number): void;
}

// The shim imports for a driver's unit: configuration space through
// `fake`'s ports, physical accesses within [base, base + bytes) to its
// registers, the others to memory.
export function controllerShim(fake: FakeController, base: bigint, bytes: number, phys: PhysMemory) {
  const inBar = (a: bigint) => a >= base && a < base + BigInt(bytes);
  return {
    inl: (port: number) => fake.inl(port),
    outl: (port: number, v: number) => fake.outl(port, v),
    outw: (port: number, v: number) => fake.outw(port, v),
    phys_read32: (a: bigint) =>
      inBar(a) ? fake.readRegister(Number(a - base)) : new DataView(fake.read(a, 4).buffer).getUint32(0, true),
    phys_write32: (a: bigint, v: number) => {
      if (inBar(a)) fake.writeRegister(Number(a - base), v >>> 0);
      else phys.write32(a, v >>> 0);
    },
  };
}

// What the host-disk registry's test entry (as/hostdisks.ts) exports to
// every driver's unit test.
export interface HostDiskExports {
  scan(guestHpa: bigint, guestSize: bigint): void;
  openError(): number;
  open(nameOrGuid: number, readOnly: number): number;
  sectors(): bigint;
  describe(): number;
  read(offset: bigint, gpa: bigint, length: bigint): number;
  write(offset: bigint, gpa: bigint, length: bigint): number;
  clearPieces(): void;
  addPiece(gpa: bigint, length: bigint): number;
  transferPieces(offset: bigint, write: number): number;
  beginPieces(offset: bigint, write: number, tag: number): number;
  finishBatch(): bigint;
  pollBatch(): number;
  discard(offset: bigint, length: bigint): number;
  flushDisk(): number;
}
