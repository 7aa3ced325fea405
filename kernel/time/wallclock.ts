// The host's wall-clock time, which VMs' real-time clocks show.
//
// A PC keeps the date in its MC146818-compatible RTC (ports 0x70/0x71). It
// is read once, after the TSC is calibrated, and carried on by the TSC:
// reading the RTC again for every guest access would be slow and only good
// to the second. The registers change once a second during an update
// cycle; the read waits until no update is in progress (register A's UIP
// bit) and repeats until two reads agree (MC146818A datasheet, "Update
// Cycle"). Register B says whether the values are BCD and the hours 12-hour;
// byte 0x32 holds the century where firmware keeps it (ACPI FADT CENTURY;
// here as on every PC of the last decades), else the year is taken as 20xx.

import { inb, outb, rdtsc } from "../arch/shim";
import { tscPerMillisecond } from "../cpu/irq";
import { civilFromDays, daysFromCivil, floorDiv } from "./calendar";

const INDEX: u16 = 0x70, DATA: u16 = 0x71;
const SECONDS: u8 = 0x00, MINUTES: u8 = 0x02, HOURS: u8 = 0x04, DAY: u8 = 0x07, MONTH: u8 = 0x08, YEAR: u8 = 0x09, CENTURY: u8 = 0x32;
const REG_A: u8 = 0x0a, REG_B: u8 = 0x0b;
const A_UIP: u8 = 0x80, B_BINARY: u8 = 0x04, B_24H: u8 = 0x02;
const FIELDS: StaticArray<u8> = [SECONDS, MINUTES, HOURS, DAY, MONTH, YEAR, CENTURY];
const DAY_SECONDS: i64 = 86400;
const NS_PER_MS: u64 = 1_000_000;

// A moment of wall time.
export class WallTime {
  seconds: i64 = 0; // since 1970-01-01 00:00 UTC (the RTC is taken to keep UTC)
  nanoseconds: u32 = 0;
}

// Where a VM's RTC gets the time from; unit tests give the RTC none.
export abstract class WallClock {
  abstract now(t: WallTime): void;
}

let bootSeconds: i64 = 0;
let bootTsc: u64 = 0;

function readByte(index: u8): u8 {
  outb(INDEX, index); // bit 7 clear: NMIs stay enabled
  return inb(DATA);
}

function readFields(into: StaticArray<u8>): void {
  for (let spins = 0; spins < 1_000_000 && (readByte(REG_A) & A_UIP) != 0; spins++) {}
  for (let i = 0; i < FIELDS.length; i++) into[i] = readByte(FIELDS[i]);
}

// Reads the host's RTC, from then on the clock's time zero; the seconds since 1970.
export function readHostClock(): i64 {
  const a = new StaticArray<u8>(FIELDS.length), b = new StaticArray<u8>(FIELDS.length);
  readFields(a);
  for (let tries = 0; tries < 5; tries++) {
    readFields(b);
    let same = true;
    for (let i = 0; i < a.length; i++) same = same && a[i] == b[i];
    if (same) break;
    for (let i = 0; i < a.length; i++) a[i] = b[i];
  }
  bootTsc = rdtsc();
  const regB = readByte(REG_B);
  const binary = (regB & B_BINARY) != 0;
  // 12-hour mode: bit 7 is PM, and 12 stands for 0.
  const hourByte = a[2];
  const hours = (regB & B_24H) != 0 ? decode(hourByte, binary) : decode(hourByte & 0x7f, binary) % 12 + ((hourByte & 0x80) != 0 ? 12 : 0);
  const century = decode(a[6], binary);
  const year = (century >= 19 && century <= 99 ? century : 20) * 100 + decode(a[5], binary);
  const days = daysFromCivil(year, <u32>decode(a[4], binary), <u32>decode(a[3], binary));
  bootSeconds = days * DAY_SECONDS + hours * 3600 + decode(a[1], binary) * 60 + decode(a[0], binary);
  return bootSeconds;
}

// Register B's DM bit: binary, or two BCD digits.
function decode(v: u8, binary: bool): i64 {
  return binary ? <i64>v : <i64>(v >> 4) * 10 + <i64>(v & 0x0f);
}

// The host's time now: the RTC's at boot plus the TSC's count since.
export class HostWallClock extends WallClock {
  now(t: WallTime): void {
    const perMs = tscPerMillisecond();
    const ticks = rdtsc() - bootTsc;
    const ms = ticks / perMs;
    t.seconds = bootSeconds + <i64>(ms / 1000);
    t.nanoseconds = <u32>((ms % 1000) * NS_PER_MS + (ticks % perMs) * NS_PER_MS / perMs);
  }
}

// "YYYY-MM-DD hh:mm:ss UTC", for the log.
export function formatUtc(seconds: i64): string {
  const days = floorDiv(seconds, DAY_SECONDS);
  const secs = <u32>(seconds - days * DAY_SECONDS);
  const date = civilFromDays(days);
  return (date >> 16).toString() + "-" + two(<u32>(date >> 8) & 0xff) + "-" + two(<u32>date & 0xff) + " " +
    two(secs / 3600) + ":" + two(secs / 60 % 60) + ":" + two(secs % 60) + " UTC";
}

function two(v: u32): string { return v < 10 ? "0" + v.toString() : v.toString(); }
