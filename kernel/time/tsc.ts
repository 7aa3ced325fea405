// The host's time-stamp counter: how fast it runs.
//
// Every clock of the hypervisor and of its VMs counts in TSC ticks, so the
// TSC's rate is measured once at boot (cpu/clockrates.ts, through cpu/irq.ts).
// Until then it reads 0 (unit tests run without it).

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
  const perMs = tscPerMs;
  if (perMs == 0) return 0;
  return (ticks / perMs) * 1_000_000 + ((ticks % perMs) * 1_000_000) / perMs;
}
