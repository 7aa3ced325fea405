// The Intel 8254 programmable interval timer, and port 61h's timer bits.
//
// Three 16-bit down counters clocked at 1.193182 MHz: counter 0's OUT drives
// IRQ0 (the guest's tick or one-shot timer), counter 2's OUT and GATE are
// bits 5 and 0 of port 61h (guests calibrate their TSC against it; counter
// 1 refreshed DRAM on the AT and drives nothing here). Ports 0x40-0x42 are
// the counters, 0x43 the control word. The model keeps no running clock of
// its own: the VMM advances time in nanoseconds, converted exactly into PIT
// clocks (clock.ts), and should do so before it hands a guest access to
// these ports, so that polling guests see time move. Section names below are
// those of the Intel 8254 datasheet (231164).

import { Device } from "../bus";
import { ClockRatio, NEVER } from "./clock";
import { InterruptLines } from "../irq";

export const PIT_PORT: u16 = 0x40;
export const PORT_B: u16 = 0x61;
export const PIT_HZ: u64 = 1_193_182;
const NS_PER_S: u64 = 1_000_000_000;
const PIT_IRQ: u32 = 0;

// "Control Word Format": SC1 SC0 RW1 RW0 M2 M1 M0 BCD. BCD counting is
// reported in the status but counts in binary.
const READ_BACK: u8 = 3; // SC = 11
const RW_LATCH: u8 = 0, RW_LSB: u8 = 1, RW_MSB: u8 = 2, RW_LSB_MSB: u8 = 3;
const READ_BACK_NO_COUNT: u8 = 0x20, READ_BACK_NO_STATUS: u8 = 0x10;
const STATUS_OUT: u8 = 0x80, STATUS_NULL_COUNT: u8 = 0x40;

// Port 61h (IBM PC AT Technical Reference, system board I/O): bit 0 gates
// counter 2, bit 1 enables the speaker, bits 2-3 enable parity and channel
// checks; bit 4 toggles with each DRAM refresh request (every 15.085 us, the
// 18 clocks the AT's BIOS gives counter 1) and bit 5 is counter 2's OUT.
const B_GATE2: u8 = 0x01;
const B_WRITABLE: u8 = 0x0f;
const B_REFRESH: u8 = 0x10;
const B_OUT2: u8 = 0x20;
const REFRESH_CLOCKS: u64 = 18;

// One counter. Its state is a function of the clocks it has counted since
// its count was loaded, which keeps every result deterministic.
class Counter {
  private mode: u8 = 0;
  private access: u8 = RW_LSB_MSB;
  private control: u8 = 0; // the control word's low six bits, for status
  private count: u64 = 0x10000; // the initial count; 0 written means 2^16
  private loaded: bool = false;
  private gate: bool = true;
  private triggered: bool = false; // modes 1 and 5 count from a gate edge
  private elapsed: u64 = 0; // clocks counted before `since`
  private since: u64 = 0; // when counting last (re)started
  private writeMsb: bool = false;
  private lsb: u8 = 0;
  private readMsb: bool = false;
  private latched: bool = false;
  private latch: u16 = 0;
  private statusLatched: bool = false;
  private status: u8 = 0;

  program(control: u8): void {
    // "Control Word Format": modes 6 and 7 are modes 2 and 3 (M2 is don't-care).
    const mode = (control >> 1) & 7;
    this.mode = mode > 5 ? mode - 4 : mode;
    this.access = (control >> 4) & 3;
    this.control = control & 0x3f;
    // "Write Operations": a control word resets the counter's logic and sets
    // OUT to its initial state until a count is written.
    this.loaded = false;
    this.triggered = false;
    this.writeMsb = false;
    this.readMsb = false;
    this.latched = false;
    this.statusLatched = false;
  }

  write(now: u64, v: u8): void {
    if (this.access == RW_LSB) this.load(now, v);
    else if (this.access == RW_MSB) this.load(now, <u64>v << 8);
    else if (!this.writeMsb) {
      this.lsb = v;
      this.writeMsb = true;
      // "Mode 0": writing the first byte of a two-byte count stops counting, OUT low.
      if (this.mode == 0) {
        this.elapsed = this.counted(now);
        this.loaded = false;
      }
    } else {
      this.writeMsb = false;
      this.load(now, <u64>this.lsb | (<u64>v << 8));
    }
  }

  read(now: u64): u8 {
    if (this.statusLatched) {
      this.statusLatched = false;
      return this.status;
    }
    const value = this.latched ? this.latch : this.value(now);
    let msb = this.access == RW_MSB;
    if (this.access == RW_LSB_MSB) {
      msb = this.readMsb;
      this.readMsb = !msb;
    }
    // "Read Operations": a latched count holds until it has been read out.
    if (this.access != RW_LSB_MSB || msb) this.latched = false;
    return <u8>(msb ? value >> 8 : value);
  }

  // "Counter Latch Command": a second latch before the read is ignored.
  latchCount(now: u64): void {
    if (!this.latched) {
      this.latch = this.value(now);
      this.latched = true;
    }
  }

  // "Read-Back Command", status byte: OUT, NULL COUNT, then the control word.
  latchStatus(now: u64): void {
    if (this.statusLatched) return;
    const nullCount = !this.loaded || ((this.mode == 1 || this.mode == 5) && !this.triggered);
    this.status = (this.out(now) ? STATUS_OUT : 0) | (nullCount ? STATUS_NULL_COUNT : 0) | this.control;
    this.statusLatched = true;
  }

  // "Gate" (Figure: Gate Pin Operations Summary): low stops modes 0, 2, 3, 4
  // (and forces OUT high in 2 and 3); a rising edge restarts the count in
  // modes 1, 2, 3 and 5.
  setGate(now: u64, high: bool): void {
    if (high == this.gate) return;
    this.elapsed = this.counted(now);
    this.since = now;
    this.gate = high;
    if (high && this.mode != 0 && this.mode != 4) {
      this.elapsed = 0;
      this.triggered = true;
    }
  }

  // Clocks counted since the count was loaded (or the trigger).
  counted(now: u64): u64 {
    return this.running() ? this.elapsed + (now - this.since) : this.elapsed;
  }

  private running(): bool {
    if (!this.loaded) return false;
    return this.mode == 1 || this.mode == 5 ? this.triggered : this.gate;
  }

  // The counting element, as a read would see it.
  value(now: u64): u16 {
    const d = this.counted(now), n = this.count;
    // Mode 2 counts n..1 and reloads; mode 3 counts down by two, twice per period.
    if (this.mode == 2) return <u16>(n - d % n);
    if (this.mode == 3) return <u16>(n - (d * 2) % n);
    return <u16>(n - d); // the others wrap past zero and keep counting
  }

  out(now: u64): bool {
    // "Mode Definitions": after the control word OUT is low in mode 0, high in the rest.
    if (!this.loaded) return this.mode != 0;
    const d = this.counted(now), n = this.count;
    switch (this.mode) {
      case 0:
        return d >= n; // high at terminal count
      case 1:
        return !this.triggered || d >= n; // low from the trigger to terminal count
      case 2:
        return !this.gate || d % n != n - 1; // low for the clock before each reload
      case 3:
        return !this.gate || d % n < (n + 1) / 2; // square wave, high half first
      default:
        return (this.mode == 5 && !this.triggered) || d != n; // low for one clock at terminal count
    }
  }

  // How many times OUT rose while the count went from d0 to d1 clocks.
  risingEdges(d0: u64, d1: u64): u64 {
    const n = this.count;
    if (this.mode == 2 || this.mode == 3) return d1 / n - d0 / n; // at each reload
    const at = this.mode <= 1 ? n : n + 1; // terminal count, or the end of the strobe
    return d0 < at && at <= d1 ? 1 : 0;
  }

  // Clocks until OUT next rises, or NEVER if it will not without a new count.
  untilRisingEdge(now: u64): u64 {
    if (!this.running()) return NEVER;
    const d = this.counted(now), n = this.count;
    if (this.mode == 2 || this.mode == 3) return n - d % n;
    const at = this.mode <= 1 ? n : n + 1;
    return d < at ? at - d : NEVER;
  }

  // A new count takes effect at once in every mode. (The 8254 waits for the
  // end of the current period in modes 2 and 3, which is the same thing when
  // the control word is written first, as OSes do.)
  private load(now: u64, value: u64): void {
    this.count = value == 0 ? 0x10000 : value;
    this.loaded = true;
    this.elapsed = 0;
    this.since = now;
    // Modes 1 and 5 wait for a gate rising edge after a new count.
    this.triggered = false;
  }
}

export class Pit8254 extends Device {
  private counters: StaticArray<Counter> = [new Counter(), new Counter(), new Counter()];
  private now: u64 = 0; // PIT clocks since the machine started
  private readonly clock: ClockRatio = new ClockRatio(PIT_HZ, NS_PER_S);
  private portBBits: u8 = 0;
  readonly portB: Device = new PortB(this);

  constructor(private lines: InterruptLines) {
    super("8254 PIT");
    this.counters[2].setGate(0, false); // port 61h starts at zero
  }

  get clocks(): u64 {
    return this.now;
  }

  // Moves time on and returns how often counter 0's OUT rose meanwhile. The
  // PIC latches one edge until it is acknowledged, so several in one step
  // become a single IRQ0 pulse; the count lets the VMM notice lost ticks.
  advance(nanoseconds: u64): u64 {
    return this.advanceClocks(this.clock.convert(nanoseconds));
  }

  advanceClocks(clocks: u64): u64 {
    const c0 = this.counters[0];
    const before = c0.counted(this.now);
    this.now += clocks;
    const edges = c0.risingEdges(before, c0.counted(this.now));
    if (edges > 0) this.lines.pulse(PIT_IRQ);
    return edges;
  }

  // Clocks until IRQ0 next rises, or NEVER: when the VMM must look again.
  clocksUntilIrq(): u64 {
    return this.counters[0].untilRisingEdge(this.now);
  }

  // The same in nanoseconds from now, exactly: the first advance() that
  // long raises IRQ0.
  nsUntilIrq(): u64 {
    return this.clock.inputFor(this.clocksUntilIrq());
  }

  read(offset: u64, size: u8): u64 {
    if (offset < 3) return this.counters[<i32>offset].read(this.now);
    return 0xff; // the control word register cannot be read
  }

  write(offset: u64, size: u8, value: u64): void {
    const v = <u8>value;
    if (offset < 3) {
      this.counters[<i32>offset].write(this.now, v);
      return;
    }
    const select = v >> 6;
    if (select == READ_BACK) {
      // "Read-Back Command": bits 3-1 select counters 2-0; bits 5 and 4,
      // active low, latch their counts and statuses.
      for (let i = 0; i < 3; i++) {
        if (!((<i32>v >> (i + 1)) & 1)) continue;
        if (!(v & READ_BACK_NO_COUNT)) this.counters[i].latchCount(this.now);
        if (!(v & READ_BACK_NO_STATUS)) this.counters[i].latchStatus(this.now);
      }
    } else if (((v >> 4) & 3) == RW_LATCH) {
      this.counters[select].latchCount(this.now);
    } else {
      this.counters[select].program(v);
    }
  }

  readPortB(): u8 {
    let v = this.portBBits;
    if ((this.now / REFRESH_CLOCKS) & 1) v |= B_REFRESH;
    if (this.counters[2].out(this.now)) v |= B_OUT2;
    return v;
  }

  writePortB(v: u8): void {
    this.portBBits = v & B_WRITABLE;
    this.counters[2].setGate(this.now, (v & B_GATE2) != 0);
  }
}

class PortB extends Device {
  constructor(private pit: Pit8254) {
    super("port 61h");
  }
  read(offset: u64, size: u8): u64 {
    return this.pit.readPortB();
  }
  write(offset: u64, size: u8, value: u64): void {
    this.pit.writePortB(<u8>value);
  }
}
