// The Motorola MC146818 real-time clock and its CMOS RAM (ports 0x70/0x71).
//
// Port 0x70 selects one of 128 bytes (bit 7 masks NMI), port 0x71 reads or
// writes it. Bytes 0x00-0x09 and the century byte 0x32 are the clock and its
// alarm, 0x0A-0x0D the status registers A-D, the rest plain RAM, where PC
// firmware also finds the memory size. Like the other timers the model keeps
// no clock of its own: its divider chain starts where the host's wall clock
// stands and the VMM advances it (platform/pc/pcinterrupts.ts), which runs
// the update cycle each second and the periodic flag, raises IRQ 8 while
// register C holds an enabled flag and says when it next will. The clock
// shows the divider's seconds plus whatever the guest's writes added.
//
// Section names below are those of the MC146818A datasheet.

import { civilFromDays, DAY_SECONDS, floorDiv } from "../../../kernel/time/calendar";
import {
  A_DIVIDER_RESET,
  A_RATE,
  A_UIP,
  B_24H,
  B_AIE,
  B_BINARY,
  B_PIE,
  B_SET,
  B_UIE,
  C_AF,
  C_IRQF,
  C_PF,
  C_UF,
  CENTURY,
  clockSeconds,
  D_VRT,
  DAY,
  decodeField,
  HOURS,
  HOURS_ALARM,
  MINUTES,
  MINUTES_ALARM,
  MONTH,
  REG_A,
  REG_B,
  REG_C,
  REG_D,
  SECONDS,
  SECONDS_ALARM,
  WEEKDAY,
  YEAR,
} from "../../../kernel/time/mc146818";
import { WallClock, WallTime } from "../../../kernel/time/wallclock";
import { Device } from "../bus";
import { InterruptLines } from "../irq";
import { ClockRatio, NEVER } from "./clock";

export const CMOS_PORT: u16 = 0x70;
export const RTC_IRQ: u32 = 8;

const NMI_MASK: u8 = 0x80;
const FIRST_RAM_BYTE: i32 = 0x0e; // after the clock, its alarms and registers A-D
const KiB: u64 = 1024, MiB: u64 = 1024 * KiB;
const NS_PER_S: u64 = 1_000_000_000;
// The PC's time base, 32.768 kHz, which the divider chain counts down to
// seconds ("Register A": DV2-DV0 = 010).
const TICKS_PER_SECOND: u64 = 32768;
// "Update Cycle", Table 6 at 32.768 kHz: UIP rises 244 us (8 ticks) before
// the cycle, which takes 1984 us (65 ticks); at its end the clock bytes hold
// the new second and UF is set, so UIP falls as the seconds change.
const BEFORE_UPDATE_TICKS: u64 = 8, UPDATE_CYCLE_TICKS: u64 = 65;
const UIP_FROM: u64 = TICKS_PER_SECOND - UPDATE_CYCLE_TICKS - BEFORE_UPDATE_TICKS;
// "Register A", DV2-DV0: "when the divider reset is removed, the first
// update cycle begins one-half second later".
const RELEASED_AT: u64 = TICKS_PER_SECOND - UPDATE_CYCLE_TICKS - TICKS_PER_SECOND / 2;
// "Time, Calendar, and Alarm Locations": an alarm byte of C0-FF is a "don't
// care" code, which matches any value of its time byte.
const DONT_CARE: u8 = 0xc0;
const INTERRUPT_FLAGS: u8 = B_PIE | B_AIE | B_UIE;

export class Cmos extends Device {
  private ram: StaticArray<u8> = new StaticArray<u8>(128);
  private index: u8 = 0;
  private nmiOff: bool = false;
  // The divider chain: whole seconds since 1970 and ticks into the next one.
  private seconds: i64 = 0;
  private ticks: u64 = 0;
  private readonly timeBase: ClockRatio = new ClockRatio(TICKS_PER_SECOND, NS_PER_S);
  private offset: i64 = 0; // the guest's clock minus the divider's seconds
  private asserting: bool = false; // IRQ 8, and IRQF in register C

  // `lines` carry IRQ 8; `clock` gives the time the divider starts at
  // (none in unit tests, which set it).
  constructor(private lines: InterruptLines, private clock: WallClock | null = null) {
    super("MC146818 RTC");
    // Register A as PC firmware programs it: divider 010 (32.768 kHz time
    // base), periodic rate 0110 (1024 Hz). Register B: 24-hour BCD. D: VRT,
    // the battery is good.
    this.ram[REG_A] = 0x26;
    this.ram[REG_B] = B_24H;
    this.ram[REG_D] = D_VRT;
  }

  // Whether the guest masked NMIs (bit 7 of its last write to port 0x70).
  get nmiMasked(): bool {
    return this.nmiOff;
  }

  // The battery-backed RAM (bytes 0Eh-7Fh) of the RTC this one replaces at
  // a reset of its machine: a PC's CMOS keeps it; the clock starts afresh.
  keepRamOf(previous: Cmos): void {
    for (let i = FIRST_RAM_BYTE; i < this.ram.length; i++) this.ram[i] = previous.ram[i];
  }

  // Sets the divider chain to a wall time, in seconds since 1970-01-01
  // 00:00 UTC: the clock's seconds then change with the wall clock's.

  setTime(seconds: i64, nanoseconds: u32 = 0): void {
    this.seconds = seconds;
    this.ticks = <u64>nanoseconds * TICKS_PER_SECOND / NS_PER_S;
  }

  // Time zero of the platform's timers: the divider starts where the wall clock stands.
  startClock(): void {
    const clock = this.clock;
    if (clock === null) return;
    const now = new WallTime();
    clock.now(now);
    this.setTime(now.seconds, now.nanoseconds);
  }

  // The memory size bytes, as QEMU's PC machine fills them for SeaBIOS:
  // 0x15-0x16 base memory in KiB (at most 640), 0x17-0x18 and again
  // 0x30-0x31 KiB above 1 MiB (at most 65535), 0x34-0x35 64 KiB blocks
  // between 16 MiB and 4 GiB, 0x5B-0x5D 64 KiB blocks above 4 GiB.
  setMemory(below4g: u64, above4g: u64): void {
    this.put16(0x15, min(below4g / KiB, 640));
    const extended = below4g > MiB ? min((below4g - MiB) / KiB, 0xffff) : 0;
    this.put16(0x17, extended);
    this.put16(0x30, extended);
    this.put16(0x34, below4g > 16 * MiB ? min((below4g - 16 * MiB) / (64 * KiB), 0xffff) : 0);
    const high = above4g / (64 * KiB);
    this.put16(0x5b, high);
    this.ram[0x5d] = <u8>(high >> 16);
  }

  // Moves the divider chain on by `ns` nanoseconds. PF is set at each tap
  // of the periodic rate passed and, once any seconds have passed, the
  // update cycle ends (all of them at once: the flags are levels).
  advance(ns: u64): void {
    const ticks = this.timeBase.convert(ns);
    if (ticks == 0 || this.dividerHeld()) return;
    const from = this.ticks, to = from + ticks, period = this.periodTicks();
    if (period != 0 && to / period > from / period) this.setFlags(C_PF);
    this.ticks = to % TICKS_PER_SECOND;
    if (to >= TICKS_PER_SECOND) this.update(to / TICKS_PER_SECOND);
  }

  // Nanoseconds until IRQ 8 next rises, or NEVER: the first advance() that
  // long raises it. Only enabled flags count, and none while IRQ 8 is
  // already asserted (it stays so until register C is read), so a periodic
  // rate costs nothing while PIE is clear. An alarm is looked for at every
  // update.
  nsUntilInterrupt(): u64 {
    if (this.asserting || this.dividerHeld()) return NEVER;
    const enabled = this.ram[REG_B], period = this.periodTicks();
    let ticks = NEVER;
    if (enabled & B_PIE && period != 0) ticks = period - this.ticks % period;
    if (enabled & (B_UIE | B_AIE) && !this.setMode()) ticks = min(ticks, TICKS_PER_SECOND - this.ticks);
    return this.timeBase.inputFor(ticks);
  }

  read(offset: u64, size: u8): u64 {
    if (offset == 0) return 0xff; // the index register is write-only
    const i = this.index;
    if (i == REG_A) return this.ram[REG_A] | (this.updating() ? A_UIP : 0);
    if (i == REG_C) return this.takeFlags();
    if (isClock(i) && !this.setMode()) this.showTime();
    return this.ram[i];
  }

  write(offset: u64, size: u8, value: u64): void {
    let v = <u8>value;
    if (offset == 0) {
      this.index = v & 0x7f;
      this.nmiOff = (v & NMI_MASK) != 0;
      return;
    }
    const i = this.index;
    if (i == REG_A) {
      const held = this.dividerHeld();
      this.ram[REG_A] = v & ~A_UIP; // UIP is read-only
      if (held && !this.dividerHeld()) this.ticks = RELEASED_AT;
    } else if (i == REG_B) {
      // SET stops the update cycle so the registers can be written; the
      // guest's new time runs from the moment SET is cleared. SET going
      // high clears UIE ("Register B").
      if ((v & B_SET) && !this.setMode()) {
        this.showTime();
        v &= ~B_UIE;
      }
      const leaving = this.setMode() && !(v & B_SET);
      this.ram[REG_B] = v;
      if (leaving) this.adoptTime();
      this.driveIrq();
    } else if (i != REG_C && i != REG_D) { // C and D are read-only
      if (isClock(i) && !this.setMode()) this.showTime(); // the other fields stay current
      this.ram[i] = v;
      if (isClock(i) && !this.setMode()) this.adoptTime();
    }
  }

  private setMode(): bool {
    return (this.ram[REG_B] & B_SET) != 0;
  }

  // DV2-DV0 = 11x: the divider chain is held in reset; no update, no PF.
  private dividerHeld(): bool {
    return (this.ram[REG_A] & A_DIVIDER_RESET) == A_DIVIDER_RESET;
  }

  private updating(): bool {
    return !this.setMode() && !this.dividerHeld() && this.ticks >= UIP_FROM;
  }

  // Ticks between periodic flags, or 0 for none ("Register A", RS3-RS0, at
  // 32.768 kHz): RS = 1 and 2 give 256 and 128 Hz, RS = n >= 3 65536 >> n Hz
  // (8192 Hz down to 2 Hz).
  private periodTicks(): u64 {
    const rate = this.ram[REG_A] & A_RATE;
    if (rate == 0) return 0;
    return rate < 3 ? <u64>64 << rate : <u64>1 << (rate - 1);
  }

  // "Update Cycle": `passed` seconds end. Under SET the divider counts on
  // but the clock bytes stay as written. UF is set, and AF if the time
  // matched the alarm at any of them; a day covers every time of day.
  private update(passed: u64): void {
    this.seconds += <i64>passed;
    if (this.setMode()) return;
    const now = this.seconds + this.offset, seen = <i64>min(passed, <u64>DAY_SECONDS);
    let alarm = false;
    for (let back: i64 = 0; back < seen && !alarm; back++) alarm = this.alarmAt(now - back);
    this.setFlags(alarm ? C_UF | C_AF : C_UF);
  }

  // Whether time `t` matches the alarm: each alarm byte equals its time
  // byte, as register B formats them, or is a don't-care code.
  private alarmAt(t: i64): bool {
    const secs = <u32>(t - floorDiv(t, DAY_SECONDS) * DAY_SECONDS);
    return matches(this.ram[SECONDS_ALARM], this.encode(secs % 60))
      && matches(this.ram[MINUTES_ALARM], this.encode(secs / 60 % 60))
      && matches(this.ram[HOURS_ALARM], this.encodeHour(secs / 3600));
  }

  private setFlags(flags: u8): void {
    this.ram[REG_C] |= flags;
    this.driveIrq();
  }

  // "Register C": reading it returns the flags and IRQF and clears them all,
  // which lets IRQ 8 go.
  private takeFlags(): u8 {
    const c = this.ram[REG_C] | (this.asserting ? C_IRQF : 0);
    this.ram[REG_C] = 0;
    this.driveIrq();
    return c;
  }

  // IRQF, and the IRQ output with it, is set while a flag is set together
  // with its enable bit in register B (at the same position).
  private driveIrq(): void {
    const irq = (this.ram[REG_C] & this.ram[REG_B] & INTERRUPT_FLAGS) != 0;
    if (irq == this.asserting) return;
    this.asserting = irq;
    this.lines.setLevel(RTC_IRQ, irq);
  }

  // Writes the current time into the clock bytes, in the format register B asks for.
  private showTime(): void {
    const t = this.seconds + this.offset;
    const days = floorDiv(t, DAY_SECONDS);
    const secs = <u32>(t - days * DAY_SECONDS);
    const date = civilFromDays(days);
    const year = <u32>(date >> 16);
    this.ram[SECONDS] = this.encode(secs % 60);
    this.ram[MINUTES] = this.encode(secs / 60 % 60);
    this.ram[HOURS] = this.encodeHour(secs / 3600);
    // 1970-01-01 was a Thursday; the register counts Sunday as 1.
    this.ram[WEEKDAY] = this.encode(<u32>((days % 7 + 11) % 7) + 1);
    this.ram[DAY] = this.encode(<u32>date & 0xff);
    this.ram[MONTH] = this.encode((<u32>date >> 8) & 0xff);
    this.ram[YEAR] = this.encode(year % 100);
    this.ram[CENTURY] = this.encode(year / 100);
  }

  // Takes the time the guest wrote into the clock bytes as the new time.
  private adoptTime(): void {
    const ram = this.ram, regB = ram[REG_B];
    this.offset = clockSeconds(
      decodeField(ram[CENTURY], regB),
      ram[YEAR],
      ram[MONTH],
      ram[DAY],
      ram[HOURS],
      ram[MINUTES],
      ram[SECONDS],
      regB,
    )
      - this.seconds;
  }

  private is24h(): bool {
    return (this.ram[REG_B] & B_24H) != 0;
  }

  private encodeHour(h: u32): u8 {
    if (this.is24h()) return this.encode(h);
    return this.encode(h % 12 == 0 ? 12 : h % 12) | (h >= 12 ? 0x80 : 0);
  }

  // Register B's DM bit: binary, or two BCD digits.
  private encode(v: u32): u8 {
    return this.ram[REG_B] & B_BINARY ? <u8>v : <u8>((v / 10) << 4 | v % 10);
  }

  private put16(at: i32, v: u64): void {
    this.ram[at] = <u8>v;
    this.ram[at + 1] = <u8>(v >> 8);
  }
}

function isClock(i: u8): bool {
  return i == SECONDS || i == MINUTES || i == HOURS || (i >= WEEKDAY && i <= YEAR) || i == CENTURY;
}

function matches(alarm: u8, time: u8): bool {
  return alarm >= DONT_CARE || alarm == time;
}
