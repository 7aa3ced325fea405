// The PC's two Intel 8259A programmable interrupt controllers.
//
// The master (ports 0x20/0x21) takes ISA IRQ 0-7, the slave (0xA0/0xA1)
// IRQ 8-15, and the slave's INT output drives the master's IR2 (the cascade).
// Devices drive IRQ lines through the InterruptLines interface; the VMM asks
// hasInterrupt() before it enters the guest with interrupts open, and
// acknowledge() plays the CPU's INTA cycle: it moves the request from IRR to
// ISR and yields the vector the guest programmed with ICW2. The edge/level
// control registers at 0x4D0/0x4D1 (ELCR1/ELCR2 of the Intel 82371SB PIIX3)
// switch single lines to level-triggered mode for PCI interrupts.
//
// Section names below are those of the Intel 8259A datasheet (231468).

import { Device } from "../bus";
import { InterruptLines } from "../irq";

export const PIC_MASTER_PORT: u16 = 0x20;
export const PIC_SLAVE_PORT: u16 = 0xa0;
export const ELCR_PORT: u16 = 0x4d0;

const CASCADE_IR: u32 = 2;
const SPURIOUS_IR: u32 = 7;

// Command port writes: D4=1 is ICW1; otherwise D3 tells OCW3 from OCW2.
const ICW1: u8 = 0x10;
const ICW1_IC4: u8 = 0x01;
const ICW1_SNGL: u8 = 0x02;
const ICW1_LTIM: u8 = 0x08;
const ICW4_AEOI: u8 = 0x02;
const ICW4_SFNM: u8 = 0x10;
const OCW3: u8 = 0x08;
const OCW3_RIS: u8 = 0x01;
const OCW3_RR: u8 = 0x02;
const OCW3_POLL: u8 = 0x04;
const OCW3_SMM: u8 = 0x20;
const OCW3_ESMM: u8 = 0x40;

// Where the initialization sequence stands: the next data port write is...
const READY = 0, EXPECT_ICW2 = 2, EXPECT_ICW3 = 3, EXPECT_ICW4 = 4;

// One 8259A. The pair (Pic8259Pair) builds and wires two of them.
export class I8259 extends Device {
  private irr: u8 = 0;
  private isr: u8 = 0;
  // The power-on state is undefined and firmware always initializes the
  // chip; with no firmware before a directly booted guest, every line starts
  // masked, so that nothing arrives with a vector nobody programmed.
  private imr: u8 = 0xff;
  private lines: u8 = 0; // the IR input levels, for edge detection
  private elcr: u8 = 0;
  private ltim: bool = false;
  private base: u8 = 0;
  private step: i32 = READY;
  private needIcw4: bool = false;
  private single: bool = false;
  private autoEoi: bool = false;
  private rotateOnAutoEoi: bool = false;
  private specialFullyNested: bool = false;
  private specialMask: bool = false;
  private readIsr: bool = false;
  private poll: bool = false;
  // The IR with the lowest priority; the one after it (mod 8) has the highest.
  private lowest: u32 = 7;

  // `master` is null for the master itself; `elcrMask` the lines that may be level-triggered.
  constructor(name: string, private master: I8259 | null, private elcrMask: u8) {
    super(name);
  }

  read(offset: u64, size: u8): u64 {
    // "Poll Command": the read after OCW3 with P=1 is an interrupt
    // acknowledge that returns I (bit 7) and the level W2-W0.
    if (this.poll) {
      this.poll = false;
      const ir = this.intAck();
      return ir < 0 ? 0 : 0x80 | <u64>ir;
    }
    if (offset == 0) return this.readIsr ? this.isr : this.irr;
    return this.imr;
  }

  write(offset: u64, size: u8, value: u64): void {
    const v = <u8>value;
    if (offset == 0) {
      if (v & ICW1) this.icw1(v);
      else if (v & OCW3) this.ocw3(v);
      else this.ocw2(v);
    } else if (this.step == EXPECT_ICW2) {
      // ICW2: T7-T3 of the vectors; the chip supplies the IR number in bits 2-0.
      this.base = v & 0xf8;
      this.step = this.single ? this.afterIcw3() : EXPECT_ICW3;
    } else if (this.step == EXPECT_ICW3) {
      // ICW3 describes the cascade wiring, which on a PC is fixed (slave on IR2).
      this.step = this.afterIcw3();
    } else if (this.step == EXPECT_ICW4) {
      this.autoEoi = (v & ICW4_AEOI) != 0;
      this.specialFullyNested = (v & ICW4_SFNM) != 0;
      this.step = READY;
    } else {
      this.imr = v; // OCW1
    }
    this.update();
  }

  setLevel(ir: u32, high: bool): void {
    const b = bit(ir);
    if (this.levelTriggered() & b) {
      // Level mode: the request lasts as long as the line is high.
      this.irr = high ? this.irr | b : this.irr & ~b;
    } else if (high && !(this.lines & b)) {
      this.irr |= b; // edge mode: only a low-to-high transition requests
    }
    this.lines = high ? this.lines | b : this.lines & ~b;
    this.update();
  }

  setElcr(value: u8): void {
    this.elcr = value & this.elcrMask;
    const level = this.levelTriggered();
    this.irr = (this.irr & ~level) | (this.lines & level);
    this.update();
  }

  get elcrValue(): u8 {
    return this.elcr;
  }
  get cascaded(): bool {
    return !this.single;
  }

  vector(ir: u32): u8 {
    return this.base | <u8>ir;
  }

  // The IR this chip would interrupt the CPU for, or -1 ("Interrupt
  // Sequence"): the highest-priority unmasked request, if it outranks
  // everything in service (fully nested mode).
  pending(): i32 {
    const request = this.highest(this.irr & ~this.imr);
    if (request < 0) return -1;
    let inService = this.isr;
    // OCW3 special mask mode: a masked level in service does not hold back others.
    if (this.specialMask) inService &= ~this.imr;
    // ICW4 SFNM: the master lets a slave's further requests through while IR2 is in service.
    if (this.specialFullyNested && this.master === null) inService &= ~bit(CASCADE_IR);
    const serving = this.highest(inService);
    if (serving >= 0 && this.rank(<u32>serving) <= this.rank(<u32>request)) return -1;
    return request;
  }

  // The INTA cycle for this chip: returns the IR acknowledged, or -1 if the
  // request went away in the meantime (the caller reports IR7, spuriously).
  intAck(): i32 {
    const ir = this.pending();
    if (ir < 0) return -1;
    const b = bit(<u32>ir);
    // An edge request is latched until acknowledged; a level one follows its line.
    if (!(this.levelTriggered() & b)) this.irr &= ~b;
    if (!this.autoEoi) this.isr |= b;
    else if (this.rotateOnAutoEoi) this.lowest = <u32>ir;
    this.update();
    return ir;
  }

  private afterIcw3(): i32 {
    return this.needIcw4 ? EXPECT_ICW4 : READY;
  }

  private icw1(v: u8): void {
    // "Initialization Command Words": the edge sense latch is cleared (a line
    // must rise again to request), the IMR cleared, IR7 given the lowest
    // priority, special mask mode cleared, status reads select IRR, and with
    // IC4=0 every ICW4 function is zero. The datasheet says nothing of IRR
    // and ISR; the chip starts afresh here, with requests only from
    // level-triggered lines that are high.
    this.ltim = (v & ICW1_LTIM) != 0;
    this.single = (v & ICW1_SNGL) != 0;
    this.needIcw4 = (v & ICW1_IC4) != 0;
    this.irr = this.lines & this.levelTriggered();
    this.isr = 0;
    this.imr = 0;
    this.lowest = 7;
    this.specialMask = false;
    this.readIsr = false;
    this.poll = false;
    this.autoEoi = false;
    this.specialFullyNested = false;
    this.step = EXPECT_ICW2;
  }

  // "Operation Command Word 2": R, SL, EOI in bits 7-5, the level in 2-0.
  private ocw2(v: u8): void {
    const level = <u32>(v & 7);
    const serving = this.highest(this.isr);
    switch (v >> 5) {
      case 0b001: // non-specific EOI: ends the highest-priority level in service
        if (serving >= 0) this.isr &= ~bit(<u32>serving);
        break;
      case 0b011: // specific EOI
        this.isr &= ~bit(level);
        break;
      case 0b101: // rotate on non-specific EOI: the level ended becomes the lowest
        if (serving >= 0) {
          this.isr &= ~bit(<u32>serving);
          this.lowest = <u32>serving;
        }
        break;
      case 0b111: // rotate on specific EOI
        this.isr &= ~bit(level);
        this.lowest = level;
        break;
      case 0b110: // set priority
        this.lowest = level;
        break;
      case 0b100:
        this.rotateOnAutoEoi = true;
        break;
      case 0b000:
        this.rotateOnAutoEoi = false;
        break;
      default:
        break; // 0b010: no operation
    }
  }

  // "Operation Command Word 3": status register selection, poll, special mask.
  private ocw3(v: u8): void {
    if (v & OCW3_RR) this.readIsr = (v & OCW3_RIS) != 0;
    if (v & OCW3_POLL) this.poll = true;
    if (v & OCW3_ESMM) this.specialMask = (v & OCW3_SMM) != 0;
  }

  private levelTriggered(): u8 {
    return this.ltim ? 0xff : this.elcr;
  }

  // 0 for the highest priority, 7 for the lowest.
  private rank(ir: u32): u32 {
    return (ir - this.lowest - 1) & 7;
  }

  // The highest-priority level in `mask`, or -1. Mostly none: a guest on
  // its APICs keeps every level masked, and asks at every entry.
  private highest(mask: u8): i32 {
    if (mask == 0) return -1;
    for (let r: u32 = 0; r < 8; r++) {
      const ir = (this.lowest + 1 + r) & 7;
      if (mask & bit(ir)) return <i32>ir;
    }
    return -1;
  }

  // A slave's INT output is the master's IR2 input.
  private update(): void {
    const master = this.master;
    if (master !== null) master.setLevel(CASCADE_IR, this.pending() >= 0);
  }
}

function bit(ir: u32): u8 {
  const one: u32 = 1;
  return <u8>(one << ir);
}

// The edge/level control registers: offset 0 for the master, 1 for the slave.
class Elcr extends Device {
  constructor(private master: I8259, private slave: I8259) {
    super("ELCR");
  }
  read(offset: u64, size: u8): u64 {
    return (offset == 0 ? this.master : this.slave).elcrValue;
  }
  write(offset: u64, size: u8, value: u64): void {
    (offset == 0 ? this.master : this.slave).setElcr(<u8>value);
  }
}

export class Pic8259Pair extends InterruptLines {
  // PIIX3 ELCR1/ELCR2: IRQ 0, 1, 2, 8 and 13 are edge-triggered only.
  readonly master: I8259 = new I8259("8259A master", null, 0xf8);
  readonly slave: I8259 = new I8259("8259A slave", this.master, 0xde);
  readonly elcr: Device = new Elcr(this.master, this.slave);

  // ISA IRQ `line` (0-15). The AT wired the bus's IRQ2 pin to the slave's
  // IR1 (IRQ9), since the master's IR2 carries the cascade.
  setLevel(line: u32, high: bool): void {
    if (line == CASCADE_IR) line = 9;
    if (line < 8) this.master.setLevel(line, high);
    else if (line < 16) this.slave.setLevel(line - 8, high);
  }

  hasInterrupt(): bool {
    return this.master.pending() >= 0;
  }

  // The CPU's INTA cycles: the master answers with its vector, or for IR2
  // hands the second cycle to the slave. A request that vanished before the
  // acknowledge yields the chip's IR7 vector with nothing put in service
  // ("Interrupt Sequence"; guests treat it as spurious).
  acknowledge(): u8 {
    const ir = this.master.intAck();
    if (ir < 0) return this.master.vector(SPURIOUS_IR);
    if (<u32>ir != CASCADE_IR || !this.master.cascaded) return this.master.vector(<u32>ir);
    const slaveIr = this.slave.intAck();
    return this.slave.vector(slaveIr < 0 ? SPURIOUS_IR : <u32>slaveIr);
  }
}
