// The Motorola MC146818 real-time clock and its CMOS RAM (ports 0x70/0x71).
//
// Port 0x70 selects one of 128 bytes (bit 7 masks NMI), port 0x71 reads or
// writes it. Bytes 0x00-0x09 and the century byte 0x32 are the clock,
// 0x0A-0x0D the status registers A-D, the rest plain RAM, where PC firmware
// also finds the memory size. The clock shows the host's wall time, which
// it takes from its WallClock at every access (or which is set, without
// one), plus whatever offset the guest's own writes to the clock introduced. It
// raises no interrupts: periodic, alarm and update-ended interrupts and
// their register C flags are not modelled.
//
// Section names below are those of the MC146818A datasheet.

import { civilFromDays, DAY_SECONDS, floorDiv } from "../../../kernel/time/calendar";
import {
  A_UIP,
  B_BINARY,
  B_SET,
  B_24H,
  CENTURY,
  clockSeconds,
  D_VRT,
  DAY,
  decodeField,
  HOURS,
  MINUTES,
  MONTH,
  REG_A,
  REG_B,
  REG_C,
  REG_D,
  SECONDS,
  WEEKDAY,
  YEAR,
} from "../../../kernel/time/mc146818";
import { WallClock, WallTime } from "../../../kernel/time/wallclock";
import { Device } from "../bus";

export const CMOS_PORT: u16 = 0x70;

const NMI_MASK: u8 = 0x80;
// "Update Cycle": UIP rises 244 us before the registers change each second.
const UIP_FROM_NS: u32 = 1_000_000_000 - 244_000;
const KiB: u64 = 1024, MiB: u64 = 1024 * KiB;

export class Cmos extends Device {
  private ram: StaticArray<u8> = new StaticArray<u8>(128);
  private index: u8 = 0;
  private nmiOff: bool = false;
  private hostSeconds: i64 = 0;
  private hostNanos: u32 = 0;
  private offset: i64 = 0; // the guest's clock minus the host's
  private readonly time: WallTime = new WallTime();

  constructor(private clock: WallClock | null = null) {
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

  // The host's wall time, in seconds since 1970-01-01 00:00 UTC.
  setTime(seconds: i64, nanoseconds: u32 = 0): void {
    this.hostSeconds = seconds;
    this.hostNanos = nanoseconds;
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

  private refresh(): void {
    const clock = this.clock;
    if (clock === null) return;
    clock.now(this.time);
    this.setTime(this.time.seconds, this.time.nanoseconds);
  }

  read(offset: u64, size: u8): u64 {
    if (offset == 0) return 0xff; // the index register is write-only
    this.refresh();
    const i = this.index;
    if (i == REG_A) return this.ram[REG_A] | (this.updating() ? A_UIP : 0);
    if (isClock(i) && !this.setMode()) this.showTime();
    return this.ram[i];
  }

  write(offset: u64, size: u8, value: u64): void {
    const v = <u8>value;
    if (offset == 0) {
      this.index = v & 0x7f;
      this.nmiOff = (v & NMI_MASK) != 0;
      return;
    }
    this.refresh();
    const i = this.index;
    if (i == REG_A) {
      this.ram[REG_A] = v & ~A_UIP; // UIP is read-only
    } else if (i == REG_B) {
      // SET stops the update cycle so the registers can be written; the
      // guest's new time runs from the moment SET is cleared.
      if ((v & B_SET) && !this.setMode()) this.showTime();
      const leaving = this.setMode() && !(v & B_SET);
      this.ram[REG_B] = v;
      if (leaving) this.adoptTime();
    } else if (i != REG_C && i != REG_D) { // C and D are read-only
      if (isClock(i) && !this.setMode()) this.showTime(); // the other fields stay current
      this.ram[i] = v;
      if (isClock(i) && !this.setMode()) this.adoptTime();
    }
  }

  private setMode(): bool {
    return (this.ram[REG_B] & B_SET) != 0;
  }

  private updating(): bool {
    return !this.setMode() && this.hostNanos >= UIP_FROM_NS;
  }

  // Writes the current time into the clock bytes, in the format register B asks for.
  private showTime(): void {
    const t = this.hostSeconds + this.offset;
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
      - this.hostSeconds;
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
