// Hardware interrupts in the hypervisor: each CPU's alarm clock, and kicks.
//
// The hypervisor runs with interrupts disabled. It takes interrupts only
// where it chooses to (openInterruptWindow(), after a guest exit that an
// interrupt caused) and while a CPU idles (linker/shim.c), and their handler
// does no more than the EOI (trap_entry() in linker/shim.c): what an
// interrupt means, the kernel learns from the clock and its own state. Two
// kinds exist. The alarm is each CPU's local APIC timer in one-shot mode,
// set to a TSC value before each guest entry or idle period, so that a guest
// that never exits still gives the CPU back on time and a halted one wakes
// for its timers. A kick is a fixed IPI from another CPU: it ends a guest's
// run or an idle period so that the CPU looks at what changed. The legacy
// PIC is masked. Intel SDM Vol. 3A 11.5.4 (the APIC timer), 11.6 (IPIs).

import { interruptWindow, outb, rdtsc, thisCpu } from "../arch/shim";
import { initOneShotTimer, startTimerCount } from "./lapic";
import { measureClockRates } from "./clockrates";
import { setTscPerMillisecond, tscPerMillisecond } from "../time/tsc";
import * as log from "../console/log";
import { panic } from "../console/panic";

export const TIMER_VECTOR: u8 = 0x20;
export const KICK_VECTOR: u8 = 0x21;
const MAX_CPUS = 16; // boot/layout.h
const NOT_SET: u64 = u64.MAX_VALUE;
// The APIC timer's count register is 32 bits wide.
const MAX_COUNT: u64 = 0xffff_ffff;

let apicTicksPerMs: u64 = 0;
// The TSC each CPU's alarm is set for.
const alarmAt = new StaticArray<u64>(MAX_CPUS);

// On the boot CPU: masks the PIC, learns how fast the TSC and the APIC
// timer run (clockrates.ts) and sets the timer up as this CPU's alarm.
// An alarm turns TSC ticks into timer ticks, so it is their ratio that must
// be right: both clocks are counted over one window. (Counted in windows of
// their own, on a busy host whose emulator thread was set aside in one of
// them, alarms rang anywhere from a third of their time to three times it.)
export function startTimer(): void {
  // Mask both 8259 PICs (ports 0x21, 0xa1): nothing should come from them.
  outb(0x21, 0xff);
  outb(0xa1, 0xff);
  initOneShotTimer(TIMER_VECTOR);
  const measured = measureClockRates();
  if (measured === null) panic("timer: no clock to measure the TSC by: no CPUID leaf 0x15, and the PIT does not count");
  const rates = measured!;
  setTscPerMillisecond(rates.tscPerMs);
  apicTicksPerMs = rates.timerPerMs;
  for (let i = 0; i < MAX_CPUS; i++) alarmAt[i] = NOT_SET;
  log.info(
    "timer: local APIC timer at " + apicTicksPerMs.toString() + " ticks/ms, one-shot; TSC at "
      + tscPerMillisecond().toString() + " ticks/ms; " + rates.source,
  );
}

// On every other CPU: its APIC timer as its alarm, at the boot CPU's rate.
export function startLocalTimer(): void {
  initOneShotTimer(TIMER_VECTOR);
}

// Sets `cpu`'s alarm to ring when the TSC reaches `tsc` (at once if it has),
// in place of the one set before. Setting the time already set costs
// nothing while it is still ahead and has not rung (alarmMayHaveRung()).
export function setAlarm(cpu: u32, tsc: u64): void {
  const now = rdtsc();
  if (tsc == alarmAt[cpu] && tsc > now) return;
  alarmAt[cpu] = tsc;
  const tscTicks = tsc > now ? tsc - now : 0;
  // In whole milliseconds first, so the product stays below 2^64; rounded
  // up, since an alarm a little late is harmless and one early rings twice.
  const tscPerMs = tscPerMillisecond();
  const ms = tscTicks / tscPerMs, rest = tscTicks % tscPerMs;
  const count = ms * apicTicksPerMs + (rest * apicTicksPerMs + tscPerMs - 1) / tscPerMs;
  startTimerCount(<u32>min<u64>(max<u64>(count, 1), MAX_COUNT));
}

// A host interrupt reached `cpu`, maybe its alarm: the next setAlarm() sets
// it again, whatever time it is for. An alarm can ring before the TSC
// reaches its time (the APIC timer and the TSC are measured apart, and an
// alarm is a count of the one for ticks of the other); one taken for still
// ahead would never ring again, and a guest that never exits, or a CPU
// idling until then, would keep the CPU for good.
export function alarmMayHaveRung(cpu: u32): void {
  alarmAt[cpu] = NOT_SET;
}

// Lets pending interrupts in for one instruction.
export function openInterruptWindow(): void {
  interruptWindow();
  alarmMayHaveRung(thisCpu());
}
