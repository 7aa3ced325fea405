// How fast the host's clocks run: the TSC, which every clock of the
// hypervisor and of its VMs counts in, and the local APIC timer, which rings
// each CPU's alarm (cpu/irq.ts). Both are measured once, on the boot CPU.
//
// A processor that enumerates CPUID leaf 0x15 states both: the TSC runs at
// ECX * EBX / EAX Hz, ECX being its core crystal clock, and the APIC timer
// counts that same crystal clock through its divider (SDM Vol. 2A, CPUID
// leaf 15H; Vol. 3A 12.5.4). Emulators may state a figure their TSC does not
// keep (Bochs' Skylake and later models state GHz while their TSC counts
// instructions), so the figures are checked against the PIT over 0.1 ms and
// used only if they agree. Otherwise (AMD processors, QEMU, those emulators)
// both clocks are counted against the PIT, whose input clock is fixed, over
// a window of 1 ms or more: it closes once its two ends are pinned down to
// 1/512 of its length, so a host that sets the emulator aside mid-read
// lengthens the window rather than skewing the rates.

import { rdtsc } from "../arch/shim";
import { freeCountTicks, startFreeCount, stopFreeCount, TIMER_DIVISOR } from "./lapic";
import { query } from "./cpuid";
import { MAX_COUNT, PIT_HZ, readCountdown, startCountdown } from "../time/pit";

const PIT_TICKS_PER_MS: u32 = <u32>(PIT_HZ / 1000);
// The window when counting: 1 ms, pinned to 1/512.
const WINDOW_PIT_TICKS: u32 = PIT_TICKS_PER_MS;
const WINDOW_TOLERANCE: u64 = 512;
// The check of CPUID's figures: 0.1 ms, pinned to 1/64; they must agree to 1/32.
const CHECK_PIT_TICKS: u32 = PIT_TICKS_PER_MS / 10;
const CHECK_TOLERANCE: u64 = 64;
const AGREEMENT: u64 = 32;
// However long the reads take, the window closes before the PIT's count wraps.
const LONGEST_PIT_TICKS: u32 = PIT_TICKS_PER_MS * 50;
// A PIT that has not counted that window by the time the TSC has run this
// far (50 ms at 10 GHz) does not count at all.
const GIVE_UP_TSC_TICKS: u64 = 500_000_000;

export class ClockRates {
  constructor(
    public tscPerMs: u64,
    public timerPerMs: u64,
    // Where the figures come from, for the log.
    public source: string,
  ) {}
}

// Null if there is no telling: no leaf 0x15 and a PIT that does not count
// (some firmware gates its clock off).
export function measureClockRates(): ClockRates | null {
  const stated = ratesFromCpuid();
  if (stated === null) return countAgainstPit(WINDOW_PIT_TICKS, WINDOW_TOLERANCE, "counted against the PIT");
  const check = countAgainstPit(CHECK_PIT_TICKS, CHECK_TOLERANCE, "");
  if (check === null) {
    stated.source += ", unchecked: the PIT does not count";
    return stated;
  }
  if (agree(stated.tscPerMs, check.tscPerMs) && agree(stated.timerPerMs, check.timerPerMs)) return stated;
  return countAgainstPit(WINDOW_PIT_TICKS, WINDOW_TOLERANCE, "counted against the PIT (CPUID leaf 0x15 is off)");
}

// The rates CPUID leaf 0x15 states, or null if it states none.
function ratesFromCpuid(): ClockRates | null {
  if (query(0).eax < 0x15) return null;
  const leaf = query(0x15);
  const denominator = <u64>leaf.eax, numerator = <u64>leaf.ebx, crystalHz = <u64>leaf.ecx;
  if (denominator == 0 || numerator == 0 || crystalHz == 0) return null;
  const crystalPerMs = crystalHz / 1000;
  return new ClockRates(crystalPerMs * numerator / denominator, crystalPerMs / TIMER_DIVISOR, "from CPUID leaf 0x15");
}

function agree(stated: u64, counted: u64): bool {
  const difference = stated > counted ? stated - counted : counted - stated;
  return difference * AGREEMENT <= stated;
}

// One reading of the PIT and the APIC timer, bracketed by two of the TSC.
class Reading {
  before: u64 = 0;
  after: u64 = 0;
  pit: u32 = 0;
  timer: u32 = 0;

  take(): void {
    this.before = rdtsc();
    this.pit = readCountdown();
    this.timer = freeCountTicks();
    this.after = rdtsc();
  }

  // Twice the TSC when the other two were read, give or take span().
  doubleMidpoint(): u64 {
    return this.before + this.after;
  }

  span(): u64 {
    return this.after - this.before;
  }
}

// Counts the TSC and the APIC timer over at least `minPitTicks` of the PIT,
// until the window's ends are known to 1/`tolerance` of its length; null if
// the PIT does not count.
function countAgainstPit(minPitTicks: u32, tolerance: u64, source: string): ClockRates | null {
  const lvt = startFreeCount();
  startCountdown(<u16>MAX_COUNT);
  const first = new Reading(), last = new Reading();
  const giveUpAt = rdtsc() + GIVE_UP_TSC_TICKS;
  // The window opens when the count is seen to go down: the PIT has loaded
  // it (at its first clock after startCountdown()) and is counting.
  let previous = readCountdown();
  first.take();
  while (first.pit >= previous && first.after < giveUpAt) {
    previous = first.pit;
    first.take();
  }
  let pitTicks: u32 = 0;
  do {
    last.take();
    pitTicks = first.pit - last.pit;
  } while (
    last.after < giveUpAt
    && (pitTicks < minPitTicks
      || (pitTicks < LONGEST_PIT_TICKS
        && (first.span() + last.span()) * tolerance > last.doubleMidpoint() - first.doubleMidpoint()))
  );
  stopFreeCount(lvt);
  if (pitTicks < minPitTicks) return null;
  const tscTicks = (last.doubleMidpoint() - first.doubleMidpoint()) / 2;
  const perMs = <u64>pitTicks * 1000;
  return new ClockRates(
    tscTicks * PIT_HZ / perMs,
    <u64>(last.timer - first.timer) * PIT_HZ / perMs,
    source + " over " + (<u64>pitTicks * 1_000_000 / PIT_HZ).toString() + " us",
  );
}
