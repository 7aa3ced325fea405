// The Motorola MC146818 real-time clock's registers and number formats,
// shared by the hypervisor's reading of the PC's own clock (wallclock.ts)
// and the VMs' RTC model (vmm/devices/timers/cmos.ts). Names follow the
// MC146818A datasheet.

import { DAY_SECONDS, daysFromCivil } from "./calendar";

export const SECONDS: u8 = 0x00, MINUTES: u8 = 0x02, HOURS: u8 = 0x04, WEEKDAY: u8 = 0x06;
export const DAY: u8 = 0x07, MONTH: u8 = 0x08, YEAR: u8 = 0x09, CENTURY: u8 = 0x32;
export const SECONDS_ALARM: u8 = 0x01, MINUTES_ALARM: u8 = 0x03, HOURS_ALARM: u8 = 0x05;
export const REG_A: u8 = 0x0a, REG_B: u8 = 0x0b, REG_C: u8 = 0x0c, REG_D: u8 = 0x0d;
// Register A: UIP, the divider bits DV2-DV0 (11x holds the divider chain in
// reset) and the rate select bits RS3-RS0.
export const A_UIP: u8 = 0x80, A_DIVIDER_RESET: u8 = 0x60, A_RATE: u8 = 0x0f;
// Register B's interrupt enables sit at the bit positions of the flags in
// register C they let through to IRQ: PIE and PF, AIE and AF, UIE and UF.
export const B_SET: u8 = 0x80, B_PIE: u8 = 0x40, B_AIE: u8 = 0x20, B_UIE: u8 = 0x10, B_BINARY: u8 = 0x04;
export const B_24H: u8 = 0x02;
export const C_IRQF: u8 = 0x80, C_PF: u8 = 0x40, C_AF: u8 = 0x20, C_UF: u8 = 0x10;
export const D_VRT: u8 = 0x80;

// Register B's DM bit: binary, or two BCD digits.
export function decodeField(v: u8, regB: u8): i64 {
  return regB & B_BINARY ? <i64>v : <i64>(v >> 4) * 10 + <i64>(v & 0x0f);
}

// The clock's time in seconds since 1970-01-01 00:00, from its date and
// time bytes as register B formats them; `century` already decoded.
export function clockSeconds(
  century: i64,
  year: u8,
  month: u8,
  day: u8,
  hours: u8,
  minutes: u8,
  seconds: u8,
  regB: u8,
): i64 {
  const days = daysFromCivil(
    century * 100 + decodeField(year, regB),
    <u32>decodeField(month, regB),
    <u32>decodeField(day, regB),
  );
  // 12-hour mode: bit 7 is PM, and 12 stands for 0.
  const h = regB & B_24H ? decodeField(hours, regB) : decodeField(hours & 0x7f, regB) % 12 + (hours & 0x80 ? 12 : 0);
  return days * DAY_SECONDS + h * 3600 + decodeField(minutes, regB) * 60 + decodeField(seconds, regB);
}
