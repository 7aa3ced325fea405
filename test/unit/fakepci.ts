// A fake PCI function for the host drivers' unit tests (fakenvme.ts,
// fakeahci.ts): its configuration space on bus 0 through configuration
// mechanism #1 (ports 0xCF8/0xCFC), with a command register and BARs that
// keep the address bits their size leaves writable (PCI 3.0, 6.2.5.1);
// and DMA into "physical memory": the linear memory where the harness's
// stubs place it (the driver's queues and buffers) and the fake
// PhysMemory elsewhere (a VM's RAM).
import { LINEAR_PHYS_BASE, PhysMemory } from "./harness";

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
