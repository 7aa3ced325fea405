// Dates: days since 1970-01-01 to and from year, month and day, for the
// real-time clocks (the host's, wallclock.ts, and the VMs',
// vmm/devices/timers/cmos.ts).

export const DAY_SECONDS: i64 = 86400;

export function floorDiv(a: i64, b: i64): i64 {
  const q = a / b;
  return q * b > a ? q - 1 : q;
}

// Days since 1970-01-01 to (year << 16 | month << 8 | day) and back, in the
// proleptic Gregorian calendar, by counting 400-year eras from 0000-03-01
// (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
export function civilFromDays(days: i64): i64 {
  const z = days + 719468;
  const era = floorDiv(z, 146097);
  const doe = z - era * 146097; // day of era, 0-146096
  const yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; // year of era
  const doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the March-based year
  const mp = (5 * doy + 2) / 153; // month, March = 0
  const day = doy - (153 * mp + 2) / 5 + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return (year << 16) | (month << 8) | day;
}

export function daysFromCivil(year: i64, month: u32, day: u32): i64 {
  const y = month <= 2 ? year - 1 : year;
  const era = floorDiv(y, 400);
  const yoe = y - era * 400;
  const mp = <i64>(month > 2 ? month - 3 : month + 9);
  const doy = (153 * mp + 2) / 5 + <i64>day - 1;
  const doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}
