// A fake AHCI HBA for the driver's unit tests (ahci.test.ts): one PCI
// function at 00:06.0, class 010601, its registers at ABAR (BAR5), with
// ports the test describes: a SATA disk of 4 MiB holding a GPT of two
// partitions, an ATAPI drive, or nothing. It runs the commands of slot 0
// as AHCI 1.3.1 says an HBA does (3.1, 3.3, 4.2, 5) and records what
// breaks the rules: registers changed while a port runs, a start without
// FIS reception, a header, FIS or PRD entry the spec does not allow.
import { ALPHA, DISK_BYTES, FakePciFunction, partitionedDisk } from "./fakepci";
import { PhysMemory } from "./harness";

export const ABAR = 0xfebf_2000n, ABAR_BYTES = 0x2000;
export { ALPHA, DISK_BYTES };
const ATA = 0x101, ATAPI = 0xeb140101;
const ERR = 1, DRQ = 8, DRDY = 0x40, BSY = 0x80;
const ST = 1, FRE = 1 << 4, FR = 1 << 14, CR = 1 << 15;
const TFES = 1 << 30;

export type PortKind = "disk" | "atapi" | "empty";

export interface FakeOptions {
  ports?: PortKind[]; // default: a disk, nothing, an ATAPI drive
  sectorSize?: number;
  trim?: "none" | "trim" | "zeroes"; // TRIM not offered, offered, offered with DRAT and RZAT
  hangOnIo?: boolean; // a read or write never completes
  failLba?: number; // a read from this LBA ends with a task file error
  biosOwned?: boolean; // CAP2.BOH, and BOHC.BOS set until the OS asks
  stuckPort?: number; // this port's CR stays set until the HBA is reset
  noLba48?: boolean;
}

class Port {
  clb = 0n;
  fb = 0n;
  is = 0;
  cmd = 0;
  tfd = 0x7f; // as after a reset, before the device's first FIS
  sig = 0xffffffff;
  serr = 0;
  ci = 0;
  constructor(readonly kind: PortKind) {}
}

export class FakeAhci extends FakePciFunction {
  disk: Uint8Array;
  ports: Port[];
  ghc = 0;
  bohc = 0;
  resets = 0;
  log: Array<{ port: number; command: number; lba: number; count: number; features: number; bytes: number }> = [];
  trims: Array<[number, number]> = []; // LBA range entries received
  violations: string[] = [];

  constructor(public opts: FakeOptions, mem: () => { linear: Uint8Array; phys: PhysMemory }) {
    super(6, (0x2922 << 16) | 0x8086, 0x0106_0102, [
      ...[0, 1, 2, 3, 4].map(() => ({ value: 0, writable: 0 })),
      { value: Number(ABAR), writable: ~(ABAR_BYTES - 1) },
    ], mem);
    this.ports = (opts.ports ?? ["disk", "empty", "atapi"]).map((k) => new Port(k));
    this.bohc = opts.biosOwned ? 1 : 0;
    // A firmware that used the disk leaves its port running.
    this.ports[0].cmd = ST | CR | FRE | FR;
    this.disk = partitionedDisk(opts.sectorSize ?? 512, [["alpha", 2048], ["beta", 2048]]);
  }

  // Registers (3.1 generic host control, 3.3 ports).
  readRegister(off: number): number {
    if (off >= 0x100) return this.readPort(this.ports[(off - 0x100) >> 7], (off - 0x100) & 0x7f);
    const n = this.ports.length;
    switch (off) {
      case 0x00: // CAP: S64A, 32 command slots, NP
        return ((1 << 31) | (31 << 8) | (n - 1)) >>> 0;
      case 0x04:
        return this.ghc >>> 0;
      case 0x0c:
        return (1 << n) - 1;
      case 0x24:
        return this.opts.biosOwned ? 1 : 0;
      case 0x28:
        return this.bohc;
      default:
        return 0;
    }
  }
  writeRegister(off: number, v: number): void {
    if (off >= 0x100) return this.writePort((off - 0x100) >> 7, (off - 0x100) & 0x7f, v >>> 0);
    if (off === 0x04) {
      if (v & 1) this.reset();
      else this.ghc = v & 0x80000000;
    } else if (off === 0x28) {
      this.bohc = v & 0x1e;
      if (v & 2) this.bohc &= ~1; // the BIOS gives the HBA up at once
      else this.bohc |= this.opts.biosOwned ? 1 : 0;
    }
  }

  private reset(): void {
    this.resets++;
    this.ghc = 0;
    this.ports = this.ports.map((p) => new Port(p.kind));
    this.opts.stuckPort = undefined;
  }

  private readPort(p: Port, reg: number): number {
    switch (reg) {
      case 0x00:
        return Number(p.clb & 0xffffffffn);
      case 0x04:
        return Number(p.clb >> 32n);
      case 0x08:
        return Number(p.fb & 0xffffffffn);
      case 0x0c:
        return Number(p.fb >> 32n);
      case 0x10:
        return p.is >>> 0;
      case 0x18:
        return p.cmd;
      case 0x20:
        return p.tfd;
      case 0x24:
        return p.sig >>> 0;
      case 0x28: // SSTS: DET 3 and a 1.5 Gb/s link, or nothing
        return p.kind === "empty" ? 0 : 0x113;
      case 0x30:
        return p.serr;
      case 0x38:
        return p.ci;
      default:
        return 0;
    }
  }

  private writePort(i: number, reg: number, v: number): void {
    const p = this.ports[i];
    const idle = (p.cmd & (ST | CR | FRE | FR)) === 0;
    if (reg <= 0x0c && !idle) this.violations.push(`port ${i}: PxCLB/PxFB written while running`);
    if (reg === 0x00) p.clb = (p.clb & ~0xffffffffn) | BigInt(v);
    else if (reg === 0x04) p.clb = (p.clb & 0xffffffffn) | (BigInt(v) << 32n);
    else if (reg === 0x08) p.fb = (p.fb & ~0xffffffffn) | BigInt(v);
    else if (reg === 0x0c) p.fb = (p.fb & 0xffffffffn) | (BigInt(v) << 32n);
    else if (reg === 0x10) p.is &= ~v;
    else if (reg === 0x30) p.serr &= ~v;
    else if (reg === 0x18) this.portCommand(i, p, v);
    else if (reg === 0x38) {
      if (!(p.cmd & ST)) this.violations.push(`port ${i}: PxCI written while stopped`);
      p.ci |= v;
      if (v & 1) this.execute(i, p);
    }
  }

  // PxCMD: CR follows ST and FR follows FRE at once, unless the port is stuck.
  private portCommand(i: number, p: Port, v: number): void {
    const stuck = this.opts.stuckPort === i;
    if (v & ST && !(v & FRE)) this.violations.push(`port ${i}: ST set without FRE`);
    if (v & ST && !(p.cmd & ST) && p.tfd & (BSY | DRQ)) this.violations.push(`port ${i}: ST set while busy`);
    if (v & FRE && !(p.cmd & FRE) && (p.fb === 0n || p.clb === 0n)) {
      this.violations.push(`port ${i}: FRE with no FIS area`);
    }
    let cmd = (v & (ST | FRE | 0x6)) | (p.cmd & (CR | FR));
    if (v & ST) cmd |= CR;
    else if (!stuck) {
      cmd &= ~CR;
      p.ci = 0; // clearing ST clears PxCI (3.3.14)
    }
    if (v & FRE) cmd |= FR;
    else if (!stuck) cmd &= ~FR;
    // The device's first D2H Register FIS arrives once FISes are received.
    if (v & FRE && !(p.cmd & FRE) && p.kind !== "empty") {
      p.sig = p.kind === "disk" ? ATA : ATAPI;
      p.tfd = DRDY;
    }
    p.cmd = cmd;
  }

  private execute(i: number, p: Port): void {
    const header = this.read(p.clb, 32), h = new DataView(header.buffer);
    const dw0 = h.getUint32(0, true), ctba = h.getBigUint64(8, true);
    const prdtl = dw0 >>> 16, write = (dw0 & (1 << 6)) !== 0;
    if ((dw0 & 0x1f) !== 5) this.violations.push(`CFL ${dw0 & 0x1f}`);
    if (ctba % 128n !== 0n) this.violations.push(`CTBA ${ctba} not 128-byte aligned`);
    const fis = this.read(ctba, 20);
    if (fis[0] !== 0x27 || fis[1] !== 0x80) this.violations.push(`FIS ${fis[0]} ${fis[1]}`);
    const command = fis[2], features = fis[3] | (fis[11] << 8);
    const lba = [4, 5, 6, 8, 9, 10].reduce((a, at, k) => a + fis[at] * 2 ** (8 * k), 0);
    const count = fis[12] | (fis[13] << 8);
    const segments: Array<[bigint, number]> = [];
    for (let e = 0; e < prdtl; e++) {
      const prd = new DataView(this.read(ctba + 0x80n + BigInt(e * 16), 16).buffer);
      const dba = prd.getBigUint64(0, true), dbc = prd.getUint32(12, true) & 0x3fffff;
      if (dba & 1n) this.violations.push(`DBA ${dba} odd`);
      if (!(dbc & 1)) this.violations.push(`DBC ${dbc} of an odd byte count`);
      segments.push([dba, dbc + 1]);
    }
    const bytes = segments.reduce((a, s) => a + s[1], 0);
    this.log.push({ port: i, command, lba, count, features, bytes });
    const bs = this.opts.sectorSize ?? 512, sectors = count === 0 ? 65536 : count;
    const dma = command === 0x25 || command === 0x35 || command === 0x06;
    if (dma && (fis[7] & 0x40) === 0) this.violations.push("DMA command without the LBA bit");
    if (dma && write !== (command !== 0x25)) this.violations.push(`W bit wrong for ${command}`);
    if ((command === 0x25 || command === 0x35) && bytes !== sectors * bs) this.violations.push(`PRDT holds ${bytes}`);
    if ((command === 0x25 || command === 0x35) && this.opts.hangOnIo) return;
    if (command === 0x25 && lba === this.opts.failLba) {
      p.tfd = (0x40 << 8) | DRDY | ERR; // UNC: uncorrectable data
      p.is |= TFES;
      return;
    }
    if (command === 0xec) this.scatter(segments, this.identify());
    else if (command === 0x25) this.scatter(segments, this.disk.subarray(lba * bs, (lba + sectors) * bs));
    else if (command === 0x35) this.disk.set(this.gather(segments), lba * bs);
    else if (command === 0x06) {
      const entries = new DataView(this.gather(segments).buffer);
      for (let at = 0; at < count * 512; at += 8) {
        const entry = entries.getBigUint64(at, true),
          n = Number(entry >> 48n),
          from = Number(entry & 0xffff_ffff_ffffn);
        if (n === 0) continue;
        this.trims.push([from, n]);
        if (this.opts.trim === "zeroes") this.disk.fill(0, from * bs, (from + n) * bs);
      }
    }
    p.ci &= ~1;
  }

  private scatter(segments: Array<[bigint, number]>, data: Uint8Array): void {
    let at = 0;
    for (const [addr, n] of segments) {
      this.write(addr, data.subarray(at, at + n));
      at += n;
    }
  }
  private gather(segments: Array<[bigint, number]>): Uint8Array {
    const out = new Uint8Array(segments.reduce((a, s) => a + s[1], 0));
    let at = 0;
    for (const [addr, n] of segments) {
      out.set(this.read(addr, n), at);
      at += n;
    }
    return out;
  }

  // IDENTIFY DEVICE data (ATA8-ACS, ACS-2): strings two characters a word, high byte first.
  private identify(): Uint8Array {
    const b = new Uint8Array(512), v = new DataView(b.buffer);
    const text = (word: number, words: number, s: string) => {
      const padded = s.padEnd(words * 2);
      for (let k = 0; k < words; k++) {
        v.setUint16((word + k) * 2, (padded.charCodeAt(2 * k) << 8) | padded.charCodeAt(2 * k + 1), true);
      }
    };
    text(10, 10, "fake-sata-1");
    text(27, 20, "Fake SATA Disk");
    const bs = this.opts.sectorSize ?? 512;
    if (!this.opts.noLba48) v.setUint16(83 * 2, 1 << 10, true);
    v.setBigUint64(100 * 2, BigInt(DISK_BYTES / bs), true);
    v.setUint16(105 * 2, 1, true);
    v.setUint16(106 * 2, (1 << 14) | (bs === 512 ? 0 : 1 << 12), true);
    v.setUint32(117 * 2, bs / 2, true);
    if (this.opts.trim && this.opts.trim !== "none") v.setUint16(169 * 2, 1, true);
    if (this.opts.trim === "zeroes") v.setUint16(69 * 2, (1 << 14) | (1 << 5), true);
    return b;
  }
}
