// The host's time-stamp counter: how fast it runs, and the one conversion
// of its ticks into time.
//
// Every clock of the hypervisor and of its VMs counts in TSC ticks, so the
// TSC's rate is measured once at boot (cpu/clockrates.ts, through cpu/irq.ts).
// Until then it reads 0 (unit tests run without it). Whatever turns ticks
// into nanoseconds (the host's uptime and wall clock, the VMs' platform
// timers) does it with nsOfTicks(), and back with ticksForNs().

const NS_PER_MS: u64 = 1_000_000;

let tscPerMs: u64 = 0;

// TSC ticks per millisecond, as measured.
export function tscPerMillisecond(): u64 {
  return tscPerMs;
}

// Set once, by the boot CPU, before any clock is read.
export function setTscPerMillisecond(perMs: u64): void {
  tscPerMs = perMs;
}

// `ticks` of the TSC in nanoseconds (0 before the calibration).
export function ticksToNs(ticks: u64): u64 {
  return tscPerMs == 0 ? 0 : nsOfTicks(ticks, tscPerMs);
}

// `ticks` of a TSC counting `perMs` a millisecond, in whole nanoseconds:
// floor(ticks * 10^6 / perMs), exactly, for every `ticks` (whole
// milliseconds first keep the product within 64 bits). Exact floors make
// time that is converted piece by piece add up to the whole's.
export function nsOfTicks(ticks: u64, perMs: u64): u64 {
  return (ticks / perMs) * NS_PER_MS + ((ticks % perMs) * NS_PER_MS) / perMs;
}

// The fewest ticks that nsOfTicks() makes `ns` or more of; u64.MAX_VALUE
// when that is beyond 64 bits.
export function ticksForNs(ns: u64, perMs: u64): u64 {
  const whole = ns / NS_PER_MS;
  if (whole > u64.MAX_VALUE / perMs) return u64.MAX_VALUE;
  const base = whole * perMs, more = ((ns % NS_PER_MS) * perMs + NS_PER_MS - 1) / NS_PER_MS;
  return base > u64.MAX_VALUE - more ? u64.MAX_VALUE : base + more;
}
