// A fake AHCI HBA for the driver's unit tests (ahci.test.ts): one PCI
// function at 00:06.0, class 010601, its registers at ABAR (BAR5), with
// ports the test describes: a SATA disk of 4 MiB holding a GPT of two
// partitions, an ATAPI drive, or nothing. It runs the commands of any
// slot as AHCI 1.3.1 says an HBA does (3.1, 3.3, 4.2, 5) and records what
// breaks the rules: registers changed while a port runs, a start without
// FIS reception, a header, FIS or PRD entry the spec does not allow. With
// `ncq`, HBA and disk have native command queuing, 32 deep: a queued
// command moves its data when issued but ends only later, one at each
// read of PxSACT and the last issued first; a queued read of `failLba`
// fails and ends every queued command outstanding, as a device does, and
// the NCQ Command Error log names it (unless `ncqLog` is false).
import { ALPHA, DISK_BYTES, FakePciFunction, partitionedDisk } from "./fakepci";
import { PhysMemory } from "./harness";

export const ABAR = 0xfebf_2000n, ABAR_BYTES = 0x2000;
export { ALPHA, DISK_BYTES };
const ATA = 0x101, ATAPI = 0xeb140101;
const ERR = 1, DRQ = 8, DRDY = 0x40, BSY = 0x80;
const ST = 1, FRE = 1 << 4, FR = 1 << 14, CR = 1 << 15;
const TFES = 1 << 30;
const READ_FPDMA = 0x60, WRITE_FPDMA = 0x61, READ_LOG_EXT = 0x2f;

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
  ncq?: boolean;
  ncqLog?: boolean;
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
  sact = 0;
  // Queued slots done with their data, not yet ended; the tag of a failed one.
  pending: number[] = [];
  failedTag = -1;
  constructor(readonly kind: PortKind) {}
}

export class FakeAhci extends FakePciFunction {
  disk: Uint8Array;
  ports: Port[];
  ghc = 0;
  bohc = 0;
  resets = 0;
  log: Array<
    { port: number; slot: number; command: number; lba: number; count: number; features: number; bytes: number }
  > = [];
  // The most queued commands outstanding at once.
  mostQueued = 0;
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
      case 0x00: // CAP: S64A, SNCQ if asked, 32 command slots, NP
        return ((1 << 31) | (this.opts.ncq ? 1 << 30 : 0) | (31 << 8) | (n - 1)) >>> 0;
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
      case 0x34: // the device ends one queued command for each look
        if (p.pending.length > 0) p.sact &= ~(1 << p.pending.pop()!);
        return p.sact >>> 0;
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
    else if (reg === 0x34) p.sact |= v;
    else if (reg === 0x18) this.portCommand(i, p, v);
    else if (reg === 0x38) {
      if (!(p.cmd & ST)) this.violations.push(`port ${i}: PxCI written while stopped`);
      p.ci |= v;
      for (let slot = 0; slot < 32; slot++) if (v & (1 << slot)) this.execute(i, p, slot);
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
      p.ci = p.sact = 0; // clearing ST clears PxCI and PxSACT (3.3.13, 3.3.14)
      p.pending = [];
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

  private execute(i: number, p: Port, slot: number): void {
    const header = this.read(p.clb + BigInt(32 * slot), 32), h = new DataView(header.buffer);
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
    this.log.push({ port: i, slot, command, lba, count, features, bytes });
    const queued = command === READ_FPDMA || command === WRITE_FPDMA;
    if (queued) return this.queue(p, slot, command, lba, count, features, write, segments);
    if (p.sact !== 0) this.violations.push(`command ${command} while queued ones are outstanding`);
    if (slot !== 0) this.violations.push(`command ${command} in slot ${slot}`);
    if (command === READ_LOG_EXT) return this.readLog(p, lba, count, segments);
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

  // READ or WRITE FPDMA QUEUED (ACS-2): the sector count in the features,
  // the tag in bits 7-3 of the count, which must be the slot's (as QEMU
  // wants) and set in PxSACT.
  private queue(
    p: Port,
    slot: number,
    command: number,
    lba: number,
    count: number,
    features: number,
    write: boolean,
    segments: Array<[bigint, number]>,
  ): void {
    const bs = this.opts.sectorSize ?? 512, sectors = features === 0 ? 65536 : features, tag = count >> 3;
    if (!this.opts.ncq) this.violations.push("a queued command without NCQ");
    if (tag !== slot || !(p.sact & (1 << slot))) this.violations.push(`tag ${tag} in slot ${slot}, PxSACT ${p.sact}`);
    if (write !== (command === WRITE_FPDMA)) this.violations.push(`W bit wrong for ${command}`);
    const bytes = segments.reduce((a, s) => a + s[1], 0);
    if (bytes !== sectors * bs) this.violations.push(`PRDT holds ${bytes}`);
    p.ci &= ~(1 << slot);
    if (p.failedTag >= 0) return; // the device takes no queued command until its log is read
    if (command === READ_FPDMA && lba === this.opts.failLba) {
      p.failedTag = tag;
      p.pending = [];
      p.tfd = (0x40 << 8) | DRDY | ERR;
      p.is |= TFES;
      return;
    }
    if (command === READ_FPDMA) this.scatter(segments, this.disk.subarray(lba * bs, (lba + sectors) * bs));
    else this.disk.set(this.gather(segments), lba * bs);
    p.pending.push(slot);
    this.mostQueued = Math.max(this.mostQueued, p.pending.length);
  }

  // READ LOG EXT of the NCQ Command Error log (10h): the failed tag in
  // byte 0, the page's checksum in byte 511; the device takes queued
  // commands again. Without `ncqLog`, or for another log, aborted.
  private readLog(p: Port, lba: number, count: number, segments: Array<[bigint, number]>): void {
    if (lba !== 0x10 || count !== 1 || this.opts.ncqLog === false) {
      p.tfd = (0x04 << 8) | DRDY | ERR; // ABRT
      p.is |= TFES;
      return;
    }
    const page = new Uint8Array(512);
    page[0] = p.failedTag < 0 ? 0x80 : p.failedTag;
    page[511] = (256 - page.slice(0, 511).reduce((a, b) => a + b, 0) % 256) % 256;
    p.failedTag = -1;
    this.scatter(segments, page);
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
    if (this.opts.ncq) {
      v.setUint16(75 * 2, 31, true);
      v.setUint16(76 * 2, 1 << 8, true);
    }
    return b;
  }
}
