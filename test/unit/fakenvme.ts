// A fake NVMe controller for the driver's unit tests (nvme.test.ts): one
// PCI function at 00:04.0 reached through configuration mechanism #1, its
// registers at BAR0, executing the commands of the queues the driver sets
// up as NVM Express 1.4 says a controller does (3.1, 4.2, 4.3, 4.6, 5.3,
// 5.4, 5.15), with a 4 MiB disk holding a GPT of four partitions.
// Configuration space and DMA are fakepci.ts's.
import { ALPHA, DISK_BYTES, FakePciFunction, partitionedDisk } from "./fakepci";
import { PhysMemory } from "./harness";

export const BAR = 0xfebf_0000n, PAGE = 4096;
export const GUEST_HPA = 0x2000_0000n, GUEST_SIZE = 4n << 20n;
export { ALPHA, DISK_BYTES };

export interface FakeOptions {
  blockSize?: number;
  neverReady?: boolean;
  hangOnIo?: boolean;
  failLba?: number; // a read from this LBA completes with a media error
  heldCompletions?: boolean; // I/O completions are posted only at postHeld()
  barHigh?: number; // BAR1: the upper half of BAR0's address, 16 KiB of registers
}

export class FakeNvme extends FakePciFunction {
  disk: Uint8Array;
  cc = 0;
  registers = new Map<number, number>();
  queues = new Map<number, { sq: bigint; cq: bigint; size: number; head: number; tail: number; phase: number }>();
  log: Array<{ opcode: number; queue: number; dwords: number[] }> = [];
  // The doorbells the driver rang, in order: "sq1" a submission tail, "cq1" a completion head.
  doorbells: string[] = [];
  violations: string[] = [];

  constructor(public opts: FakeOptions, mem: () => { linear: Uint8Array; phys: PhysMemory }) {
    // A 64-bit memory BAR of 16 KiB.
    super(4, (0x0010 << 16) | 0x1b36, 0x0108_0200, [
      { value: Number(BAR) | 4, writable: ~0x3fff },
      { value: opts.barHigh ?? 0, writable: 0xffffffff },
    ], mem);
    this.disk = partitionedDisk(opts.blockSize ?? 512, [["alpha", 2048], ["beta", 2048], ["twin", 512], ["twin", 512]]);
  }

  // Registers (3.1).
  readRegister(off: number): number {
    const cap = BigInt(63) | (1n << 24n) | (1n << 37n);
    if (off === 0x00) return Number(cap & 0xffffffffn);
    if (off === 0x04) return Number(cap >> 32n);
    if (off === 0x08) return 0x0001_0400;
    if (off === 0x14) return this.cc;
    if (off === 0x1c) return this.opts.neverReady ? 0 : this.cc & 1;
    return this.registers.get(off) ?? 0;
  }
  writeRegister(off: number, v: number): void {
    if (off === 0x14) {
      if ((v & 1) && !(this.cc & 1)) this.enable();
      this.cc = v;
    } else if (off >= 0x1000) {
      const q = (off - 0x1000) >> 3;
      this.doorbells.push(`${(off & 4) === 0 ? "sq" : "cq"}${q}`);
      if ((off & 4) === 0) this.doorbell(q, v);
    } else this.registers.set(off, v >>> 0);
  }

  private enable(): void {
    const aqa = this.registers.get(0x24)!;
    const asq = BigInt(this.registers.get(0x28)!) | (BigInt(this.registers.get(0x2c)!) << 32n);
    const acq = BigInt(this.registers.get(0x30)!) | (BigInt(this.registers.get(0x34)!) << 32n);
    this.queues.set(0, { sq: asq, cq: acq, size: (aqa & 0xfff) + 1, head: 0, tail: 0, phase: 1 });
  }

  private doorbell(q: number, tail: number): void {
    const queue = this.queues.get(q)!;
    while (queue.head !== tail) {
      const entry = this.read(queue.sq + BigInt(queue.head * 64), 64);
      const dw = Array.from({ length: 16 }, (_, i) => new DataView(entry.buffer).getUint32(i * 4, true));
      queue.head = (queue.head + 1) % queue.size;
      this.log.push({ opcode: dw[0] & 0xff, queue: q, dwords: dw });
      const status = q === 0 ? this.admin(dw) : this.io(dw);
      if (status < 0) continue; // never completes
      const post = this.completion(q, queue.head, dw[0] >>> 16, status);
      if (q !== 0 && this.opts.heldCompletions) this.held.push(post);
      else post();
    }
  }

  // The I/O completions held back, in the order their commands came.
  held: Array<() => void> = [];
  postHeld(count = this.held.length): void {
    for (const post of this.held.splice(0, count)) post();
  }

  // Posts a completion for command `id` of queue `q` (4.6), the
  // submission queue's head at `sqHead`.
  private completion(q: number, sqHead: number, id: number, status: number): () => void {
    return () => {
      const cq = this.queues.get(q)!;
      const cqe = new Uint8Array(16), v = new DataView(cqe.buffer);
      v.setUint32(8, sqHead | (q << 16), true);
      v.setUint32(12, (id | (cq.phase << 16) | (status << 17)) >>> 0, true);
      this.write(cq.cq + BigInt(cq.tail * 16), cqe);
      cq.tail = (cq.tail + 1) % cq.size;
      if (cq.tail === 0) cq.phase ^= 1;
    };
  }

  private admin(dw: number[]): number {
    const prp1 = BigInt(dw[6]) | (BigInt(dw[7]) << 32n);
    const opcode = dw[0] & 0xff;
    if (opcode === 0x06) {
      const page = new Uint8Array(PAGE), v = new DataView(page.buffer);
      const cns = dw[10] & 0xff;
      if (cns === 1) {
        page.set(Buffer.from("fake0001".padEnd(20)), 4);
        page.set(Buffer.from("Fake NVMe Controller".padEnd(40)), 24);
        page[77] = 2; // MDTS: 16 KiB
        page[512] = 0x66;
        page[513] = 0x44;
        v.setUint32(516, 1, true);
        page[520] = 1 << 3; // Write Zeroes
      } else if (cns === 2) v.setUint32(0, 1, true);
      else if (cns === 0 && dw[1] === 1) {
        const bs = this.opts.blockSize ?? 512;
        v.setBigUint64(0, BigInt(DISK_BYTES / bs), true);
        page[33] = 0b1001;
        page[130] = Math.log2(bs);
      }
      this.write(prp1, page);
      return 0;
    }
    if (opcode === 0x05 || opcode === 0x01) {
      const id = dw[10] & 0xffff, size = (dw[10] >>> 16) + 1;
      if (opcode === 0x05) this.queues.set(id, { sq: 0n, cq: prp1, size, head: 0, tail: 0, phase: 1 });
      else Object.assign(this.queues.get(id)!, { sq: prp1 });
      return 0;
    }
    return opcode === 0x09 ? 0 : 0x01; // Set Features; anything else: invalid opcode
  }

  private io(dw: number[]): number {
    const opcode = dw[0] & 0xff, bs = this.opts.blockSize ?? 512;
    const lba = Number(BigInt(dw[10]) | (BigInt(dw[11]) << 32n)), blocks = (dw[12] & 0xffff) + 1;
    if (this.opts.hangOnIo) return -1;
    if (opcode === 0x00) return 0;
    if (opcode === 0x08) {
      this.disk.fill(0, lba * bs, (lba + blocks) * bs);
      return 0;
    }
    if (opcode === 0x02 && lba === this.opts.failLba) return (2 << 8) | 0x81; // unrecovered read error
    let at = lba * bs;
    for (const [addr, n] of this.segments(dw, blocks * bs)) {
      if (opcode === 0x02) this.write(addr, this.disk.subarray(at, at + n));
      else this.disk.set(this.read(addr, n), at);
      at += n;
    }
    return 0;
  }

  // The data pointer's pieces, checked against 4.3's rules.
  private segments(dw: number[], length: number): Array<[bigint, number]> {
    const prp1 = BigInt(dw[6]) | (BigInt(dw[7]) << 32n), prp2 = BigInt(dw[8]) | (BigInt(dw[9]) << 32n);
    if (prp1 % 4n !== 0n) this.violations.push(`PRP1 ${prp1} not dword-aligned`);
    const first = Math.min(length, PAGE - Number(prp1 % BigInt(PAGE)));
    const out: Array<[bigint, number]> = [[prp1, first]];
    let left = length - first;
    const pages: bigint[] = [];
    if (left > PAGE) {
      for (let i = 0; i * PAGE < left; i++) {
        pages.push(new DataView(this.read(prp2 + BigInt(i * 8), 8).buffer).getBigUint64(0, true));
      }
    } else if (left > 0) pages.push(prp2);
    for (const page of pages) {
      if (page % BigInt(PAGE) !== 0n) this.violations.push(`PRP entry ${page} not page-aligned`);
      out.push([page, Math.min(left, PAGE)]);
      left -= PAGE;
    }
    return out;
  }
}
