// Hardware interrupts in the hypervisor.
//
// The hypervisor runs with interrupts disabled. The only interrupt it takes
// is its own timer tick, and only where it chooses to (openInterruptWindow(),
// called by the scheduler after a guest exit caused by that interrupt), so
// the kernel is never re-entered at an arbitrary point. The tick counts time
// for the scheduler's slices. The legacy PIC is masked: the local APIC timer
// is our clock.

import { interruptWindow, outb, rdtsc } from "../arch/shim";
import { endOfInterrupt, SPURIOUS_VECTOR, startPeriodicTimer } from "./lapic";
import { delayMicroseconds } from "../time/pit";
import * as log from "../console/log";

export const TIMER_VECTOR: u8 = 0x20;
export const TICK_MICROSECONDS: u64 = 10_000;

let tickCount: u64 = 0;
let tscPerMs: u64 = 0;

export function ticks(): u64 {
  return tickCount;
}

// TSC ticks per millisecond, measured against the PIT when the timer started.
export function tscPerMillisecond(): u64 {
  return tscPerMs;
}

export function startTimer(): void {
  // Mask both 8259 PICs (ports 0x21, 0xa1): nothing should come from them.
  outb(0x21, 0xff);
  outb(0xa1, 0xff);
  const tscBefore = rdtsc();
  delayMicroseconds(10_000);
  tscPerMs = (rdtsc() - tscBefore) / 10;
  const perMs = startPeriodicTimer(TIMER_VECTOR, TICK_MICROSECONDS, delayMicroseconds);
  log.info("timer: local APIC timer at " + perMs.toString() + " ticks/ms, one tick every " + (TICK_MICROSECONDS / 1000).toString() +
    " ms; TSC at " + tscPerMs.toString() + " ticks/ms");
}

// Lets pending interrupts in for one instruction.
export function openInterruptWindow(): void {
  interruptWindow();
}

// Called from the trap path for vectors 32-255.
export function onInterrupt(vector: u64): void {
  if (vector == <u64>SPURIOUS_VECTOR) return; // no EOI for the spurious vector (SDM 12.9)
  if (vector == <u64>TIMER_VECTOR) tickCount++;
  endOfInterrupt();
}
