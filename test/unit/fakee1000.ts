// A fake Intel 82540EM for the uplink's unit tests (uplink.test.ts): one PCI
// function at 00:04.0 reached through configuration mechanism #1, its
// registers in BAR0, moving frames through the legacy descriptor rings the
// driver sets up as the 8254x SDM says a controller does (3.2, 3.3, 13.4,
// 14). What the test puts on the wire (arrive()) lands in the receive
// ring's next buffer; what the driver queues goes on the wire (`sent`).
// Whatever the driver does against the manual is recorded in `violations`:
// registers touched during a reset, rings programmed while their unit is
// enabled or enabled before they are programmed, tails outside the ring,
// descriptors handed over with a stale DD bit, malformed transmit
// descriptors, interrupts unmasked. Configuration space and DMA are
// fakepci.ts's.
import { FakePciFunction } from "./fakepci";
import { PhysMemory } from "./harness";

export const BAR = 0xfeb8_0000n, REGISTER_BYTES = 0x20000;
export const EEPROM_MAC = [0x52, 0x54, 0x00, 0xaa, 0x00, 0x01];

// Registers (13.4, 13.5) and the bits the fake looks at.
const CTRL = 0x0000, STATUS = 0x0008, EERD = 0x0014, IMS = 0x00d0, RCTL = 0x0100, TCTL = 0x0400;
const RDBAL = 0x2800, RDBAH = 0x2804, RDLEN = 0x2808, RDH = 0x2810, RDT = 0x2818;
const TDBAL = 0x3800, TDBAH = 0x3804, TDLEN = 0x3808, TDH = 0x3810, TDT = 0x3818;
const RAL0 = 0x5400, RAH0 = 0x5404;
const CTRL_SLU = 1 << 6, CTRL_RST = 1 << 26, EN = 1 << 1, RAH_AV = 0x8000_0000;
const DD = 1, EOP = 1, RS = 1 << 3, DEXT = 1 << 5;
const NAMES = new Map([
  [RDBAL, "RDBAL"],
  [RDBAH, "RDBAH"],
  [RDLEN, "RDLEN"],
  [RDH, "RDH"],
  [TDBAL, "TDBAL"],
  [
    TDBAH,
    "TDBAH",
  ],
  [TDLEN, "TDLEN"],
  [TDH, "TDH"],
]);

export interface FakeE1000Options {
  deviceId?: number; // 100Eh unless given
  noAutoload?: boolean; // RAL0/RAH0 stay empty after a reset: the address is in the EEPROM only
  resetReads?: number; // reads of CTRL that still show RST after a reset (default 2)
  stuckInReset?: boolean;
  holdTransmit?: boolean; // the transmitter takes nothing from the ring (a link that never sends)
}

export class FakeE1000 extends FakePciFunction {
  registers = new Map<number, number>();
  violations: string[] = [];
  sent: Uint8Array[] = []; // frames on the wire, in order
  missed = 0; // frames that found no descriptor
  resets = 0;
  private resetReadsLeft = 0;
  private eerdDone = 0;

  constructor(public opts: FakeE1000Options, mem: () => { linear: Uint8Array; phys: PhysMemory }) {
    // A 32-bit memory BAR of 128 KiB; class 02h (network), subclass 00h (Ethernet).
    super(
      4,
      ((opts.deviceId ?? 0x100e) << 16) | 0x8086,
      0x0200_0000,
      [{ value: Number(BAR), writable: ~0x1ffff }],
      mem,
    );
    this.powerOn();
  }

  readRegister(off: number): number {
    if (off === CTRL && this.resetReadsLeft > 0) {
      if (!this.opts.stuckInReset) this.resetReadsLeft--;
      return CTRL_RST;
    }
    if (this.resetReadsLeft > 0) this.violations.push(`read ${hex(off)} during the reset`);
    if (off === STATUS) return (this.reg(CTRL) & CTRL_SLU) !== 0 ? 0x83 : 0x81; // LU follows SLU
    if (off === EERD) return this.eerdDone;
    return this.reg(off);
  }

  writeRegister(off: number, v: number): void {
    if (this.resetReadsLeft > 0) this.violations.push(`wrote ${hex(off)} during the reset`);
    if (off === CTRL && (v & CTRL_RST) !== 0) return this.reset();
    const rxOn = (this.reg(RCTL) & EN) !== 0, txOn = (this.reg(TCTL) & EN) !== 0;
    if (NAMES.has(off) && ((off < TDBAL && rxOn) || (off >= TDBAL && txOn))) {
      this.violations.push(`${NAMES.get(off)} written while its unit is enabled`);
    }
    if (off === IMS && v !== 0) this.violations.push(`interrupts unmasked: IMS ${hex(v)}`);
    if (off === EERD && (v & 1) !== 0) {
      const word = (v >>> 8) & 0xff, m = EEPROM_MAC;
      const data = word < 3 ? m[2 * word] | (m[2 * word + 1] << 8) : 0xffff;
      this.eerdDone = ((data << 16) | (word << 8) | 0x10) >>> 0;
      return;
    }
    if (off === RCTL && (v & EN) && !rxOn) this.checkRing("receive", RDBAL, RDLEN);
    if (off === TCTL && (v & EN) && !txOn) this.checkRing("transmit", TDBAL, TDLEN);
    this.registers.set(off, v >>> 0);
    if (off === RDT) this.checkTail("RDT", v, RDLEN);
    if (off === TDT && this.checkTail("TDT", v, TDLEN)) this.transmit();
  }

  // A frame from the wire (without its FCS): into the next descriptor the
  // controller owns, or missed if it owns none or is not receiving.
  arrive(frame: Uint8Array): boolean {
    const count = this.reg(RDLEN) / 16, head = this.reg(RDH);
    if ((this.reg(RCTL) & EN) === 0 || head === this.reg(RDT)) {
      this.missed++;
      return false;
    }
    const d = this.ring(RDBAL) + BigInt(head * 16), desc = this.read(d, 16), v = new DataView(desc.buffer);
    if (v.getUint8(12) & DD) this.violations.push(`receive descriptor ${head} handed over with DD set`);
    const buffer = v.getBigUint64(0, true);
    if (buffer === 0n) this.violations.push(`receive descriptor ${head} has no buffer`);
    this.write(buffer, frame);
    v.setUint16(8, frame.length, true);
    v.setUint8(12, DD | (EOP << 1));
    v.setUint8(13, 0);
    this.write(d, desc);
    this.registers.set(RDH, (head + 1) % count);
    return true;
  }

  // What the driver left the receive ring's head and tail at.
  get receiveHeadTail(): [number, number] {
    return [this.reg(RDH), this.reg(RDT)];
  }

  // Sends what lies between the transmit head and the tail.
  transmit(): void {
    if (this.opts.holdTransmit || (this.reg(TCTL) & EN) === 0) return;
    const count = this.reg(TDLEN) / 16;
    for (let head = this.reg(TDH); head !== this.reg(TDT); head = (head + 1) % count) {
      const d = this.ring(TDBAL) + BigInt(head * 16), desc = this.read(d, 16), v = new DataView(desc.buffer);
      const length = v.getUint16(8, true), cmd = v.getUint8(11);
      if (v.getUint8(12) & DD) this.violations.push(`transmit descriptor ${head} handed over with DD set`);
      if ((cmd & EOP) === 0 || (cmd & DEXT) !== 0 || length === 0 || length > 16288) {
        this.violations.push(`transmit descriptor ${head}: command ${hex(cmd)}, length ${length}`);
      }
      this.sent.push(this.read(v.getBigUint64(0, true), length));
      if (cmd & RS) {
        v.setUint8(12, DD);
        this.write(d, desc);
      }
      this.registers.set(TDH, (head + 1) % count);
    }
  }

  private reset(): void {
    this.resets++;
    this.powerOn();
    this.resetReadsLeft = this.opts.resetReads ?? 2;
  }

  private powerOn(): void {
    this.registers.clear();
    if (this.opts.noAutoload) return;
    const m = EEPROM_MAC;
    this.registers.set(RAL0, (m[0] | (m[1] << 8) | (m[2] << 16) | (m[3] << 24)) >>> 0);
    this.registers.set(RAH0, (m[4] | (m[5] << 8) | RAH_AV) >>> 0);
  }

  private checkRing(what: string, base: number, length: number): void {
    const bytes = this.reg(length), address = this.ring(base);
    if (bytes === 0 || bytes % 128 !== 0) this.violations.push(`${what} enabled with a ring of ${bytes} bytes`);
    if (address === 0n || address % 16n !== 0n) this.violations.push(`${what} enabled with its ring at ${address}`);
  }

  private checkTail(name: string, v: number, length: number): boolean {
    const count = this.reg(length) / 16;
    if (count > 0 && v < count) return true;
    this.violations.push(`${name} ${v} outside a ring of ${count} descriptors`);
    return false;
  }

  private ring(base: number): bigint {
    return BigInt(this.reg(base)) | (BigInt(this.reg(base + 4)) << 32n);
  }
  private reg(off: number): number {
    return this.registers.get(off) ?? 0;
  }
}

function hex(v: number): string {
  return "0x" + v.toString(16);
}
