// Hardware interrupts in the hypervisor, and its alarm clock.
//
// The hypervisor runs with interrupts disabled. The only interrupt it takes
// is its own alarm, and only where it chooses to (openInterruptWindow(),
// called by the scheduler after a guest exit caused by that interrupt), so
// the kernel is never re-entered at an arbitrary point. The alarm is the
// local APIC timer in one-shot mode, set to a TSC value: the scheduler sets
// it before each guest entry to the end of the slice or the guest's next
// timer interrupt, whichever is first, so a guest that never exits still
// gives the CPU back on time and gets its timer ticks when they are due.
// The legacy PIC is masked.

import { interruptWindow, outb, rdtsc } from "../arch/shim";
import { endOfInterrupt, SPURIOUS_VECTOR, startOneShotTimer, startTimerCount } from "./lapic";
import { delayMicroseconds } from "../time/pit";
import { calibrateTsc, tscPerMillisecond } from "../time/tsc";
import * as log from "../console/log";

export const TIMER_VECTOR: u8 = 0x20;
const NOT_SET: u64 = u64.MAX_VALUE;
// The APIC timer's count register is 32 bits wide.
const MAX_COUNT: u64 = 0xffff_ffff;

let apicTicksPerMs: u64 = 0;
let alarmAt: u64 = NOT_SET; // the TSC the alarm is set for, until it rings

export function startTimer(): void {
  // Mask both 8259 PICs (ports 0x21, 0xa1): nothing should come from them.
  outb(0x21, 0xff);
  outb(0xa1, 0xff);
  calibrateTsc();
  apicTicksPerMs = startOneShotTimer(TIMER_VECTOR, delayMicroseconds);
  log.info(
    "timer: local APIC timer at " + apicTicksPerMs.toString() + " ticks/ms, one-shot; TSC at "
      + tscPerMillisecond().toString() + " ticks/ms",
  );
}

// Sets the alarm to ring when the TSC reaches `tsc` (at once if it has), in
// place of the one set before. Setting the time already set costs nothing.
export function setAlarm(tsc: u64): void {
  if (tsc == alarmAt) return;
  alarmAt = tsc;
  const now = rdtsc();
  const tscTicks = tsc > now ? tsc - now : 0;
  // In whole milliseconds first, so the product stays below 2^64; rounded
  // up, since an alarm a little late is harmless and one early rings twice.
  const tscPerMs = tscPerMillisecond();
  const ms = tscTicks / tscPerMs, rest = tscTicks % tscPerMs;
  const count = ms * apicTicksPerMs + (rest * apicTicksPerMs + tscPerMs - 1) / tscPerMs;
  startTimerCount(<u32>min<u64>(max<u64>(count, 1), MAX_COUNT));
}

// Lets pending interrupts in for one instruction.
export function openInterruptWindow(): void {
  interruptWindow();
}

// Called from the trap path for vectors 32-255.
export function onInterrupt(vector: u64): void {
  if (vector == <u64>SPURIOUS_VECTOR) return; // no EOI for the spurious vector (SDM 12.9)
  if (vector == <u64>TIMER_VECTOR) alarmAt = NOT_SET;
  endOfInterrupt();
}
