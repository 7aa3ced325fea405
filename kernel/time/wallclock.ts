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
import { ticksToNs } from "./tsc";
import { civilFromDays, DAY_SECONDS, floorDiv } from "./calendar";
import {
  A_UIP,
  CENTURY,
  clockSeconds,
  DAY,
  decodeField,
  HOURS,
  MINUTES,
  MONTH,
  REG_A,
  REG_B,
  SECONDS,
  YEAR,
} from "./mc146818";

const INDEX: u16 = 0x70, DATA: u16 = 0x71;
const FIELDS: StaticArray<u8> = [SECONDS, MINUTES, HOURS, DAY, MONTH, YEAR, CENTURY];
const NS_PER_S: u64 = 1_000_000_000;

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
  const century = decodeField(a[6], regB);
  bootSeconds = clockSeconds(century >= 19 && century <= 99 ? century : 20, a[5], a[4], a[3], a[2], a[1], a[0], regB);
  return bootSeconds;
}

// The host's time now: the RTC's at boot plus the TSC's count since.
export class HostWallClock extends WallClock {
  now(t: WallTime): void {
    const ns = ticksToNs(rdtsc() - bootTsc);
    t.seconds = bootSeconds + <i64>(ns / NS_PER_S);
    t.nanoseconds = <u32>(ns % NS_PER_S);
  }
}

// "YYYY-MM-DD hh:mm:ss UTC", for the log.
export function formatUtc(seconds: i64): string {
  const days = floorDiv(seconds, DAY_SECONDS);
  const secs = <u32>(seconds - days * DAY_SECONDS);
  const date = civilFromDays(days);
  return (date >> 16).toString() + "-" + two(<u32>(date >> 8) & 0xff) + "-" + two(<u32>date & 0xff) + " "
    + two(secs / 3600) + ":" + two(secs / 60 % 60) + ":" + two(secs % 60) + " UTC";
}

function two(v: u32): string {
  return v < 10 ? "0" + v.toString() : v.toString();
}
