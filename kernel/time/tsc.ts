// The host's time-stamp counter: how fast it runs.
//
// Every clock of the hypervisor and of its VMs counts in TSC ticks, so the
// TSC's rate is measured once at boot against the PIT, whose input clock is
// fixed (1.193182 MHz). Until then it reads 0 (unit tests run without it).

import { rdtsc } from "../arch/shim";
import { delayMicroseconds } from "./pit";

let tscPerMs: u64 = 0;
// The PIT window it is counted over.
export const CALIBRATION_MS: u64 = 10;

// TSC ticks per millisecond, as calibrated.
export function tscPerMillisecond(): u64 {
  return tscPerMs;
}

// Counts the TSC over CALIBRATION_MS of the PIT.
export function calibrateTsc(): void {
  const before = rdtsc();
  delayMicroseconds(CALIBRATION_MS * 1000);
  tscPerMs = (rdtsc() - before) / CALIBRATION_MS;
}

// `ticks` of the TSC in nanoseconds (0 before the calibration).
export function ticksToNs(ticks: u64): u64 {
  const perMs = tscPerMs;
  if (perMs == 0) return 0;
  return (ticks / perMs) * 1_000_000 + ((ticks % perMs) * 1_000_000) / perMs;
}
