// The PC's platform timers on the TSC, and the 8259 pair's INTR output as
// the boot vCPU's InterruptPin.
//
// The timer models (the 8254, the ACPI PM timer, the HPET, the RTC) keep no
// clock of their own: here they follow the TSC, brought up to date before
// every guest access to their registers (ClockedDevice) and whenever the VMM
// looks for an interrupt (asserted()), so that counter 2 moves under a guest
// polling port 61h and the timers' interrupts are raised on time;
// nextEvent() says when the next one is due. That deadline is worked out
// again only after a guest touched a timer or the timers moved on, and
// until it comes no timer can interrupt: looking for an interrupt before it
// (at every entry of the boot vCPU) costs no catching up. When the devices'
// deferred work is next due is kept for one look of the scheduler
// (clockLook() in core/vm.ts), which asks it for the running vCPU, for the
// halted ones and for the alarm; it is worked out again after the work
// ran (catchUp()) or when a device says it moved earlier (forgetDeferred()).
// The master 8259's INT output is the processor's INTR signal, which
// reaches the boot vCPU through its local APIC's LINT0 pin.

import { Device } from "../../devices/bus";
import { Deferred, NOT_DUE } from "../../devices/timers/deferred";
import { AcpiPm } from "../../devices/timers/acpipm";
import { NEVER } from "../../devices/timers/clock";
import { Cmos } from "../../devices/timers/cmos";
import { Hpet } from "../../devices/timers/hpet";
import { Pic8259Pair } from "../../devices/pic/pic8259";
import { Pit8254 } from "../../devices/timers/pit8254";
import { rdtsc } from "../../../kernel/arch/shim";
import { nsOfTicks, ticksForNs, tscPerMillisecond } from "../../../kernel/time/tsc";
import { clockLook, InterruptPin } from "../../core/vm";

const UNKNOWN: u64 = 0;

export class PcInterrupts extends InterruptPin {
  // The TSC of the timers' time zero, the first catchUp(); the TSC their
  // time stands at, and that time in nanoseconds since zero.
  private zero: u64 = 0;
  private tsc: u64 = 0;
  private ns: u64 = 0;
  // Devices' work put off until a time (devices/timers/deferred.ts).
  readonly deferred: Deferred[] = [];
  // When the three timers next interrupt (UNKNOWN: to be worked out again).
  private timersDue: u64 = UNKNOWN;
  // When the deferred work is next due, as worked out in look `deferredLook`
  // (if `deferredKnown`).
  private deferredDue: u64 = 0;
  private deferredLook: u32 = 0;
  private deferredKnown: bool = false;

  constructor(
    private pic: Pic8259Pair,
    private pit: Pit8254,
    private pm: AcpiPm,
    private hpet: Hpet,
    private rtc: Cmos,
  ) {
    super();
  }

  // Moves the timers' time on to `nowTsc` (which never goes back), the TSC
  // counting `tscPerMs` ticks a millisecond (the same at every call). The
  // ticks since time zero become nanoseconds by the host's one conversion
  // (kernel/time/tsc.ts), and each timer turns the step into its own
  // clocks. At time zero the RTC takes the wall clock's time.
  catchUp(nowTsc: u64, tscPerMs: u64): void {
    if (this.zero == 0) {
      this.zero = this.tsc = nowTsc;
      this.rtc.startClock();
      this.timersDue = UNKNOWN;
    }
    if (nowTsc <= this.tsc) return;
    const total = nsOfTicks(nowTsc - this.zero, tscPerMs), ns = total - this.ns;
    this.tsc = nowTsc;
    this.ns = total;
    this.timersDue = UNKNOWN;
    this.pit.advance(ns);
    this.pm.advance(ns);
    this.hpet.advance(ns);
    this.rtc.advance(ns);
    for (let i = 0; i < this.deferred.length; i++) if (this.deferred[i].dueAt <= nowTsc) this.deferred[i].run();
    this.deferredKnown = false;
  }

  // The deferred work's early looks may move when it is next due, as its
  // runs in catchUp() may.
  lookOnHalt(): void {
    for (let i = 0; i < this.deferred.length; i++) unchecked(this.deferred[i]).lookOnHalt();
    this.deferredKnown = false;
  }

  // The TSC at which IRQ0 next rises, or u64.MAX_VALUE.
  irq0At(tscPerMs: u64): u64 {
    return this.tscAfter(this.pit.nsUntilIrq(), tscPerMs);
  }

  // The TSC at which an HPET timer next interrupts, or u64.MAX_VALUE.
  hpetAt(tscPerMs: u64): u64 {
    return this.tscAfter(this.hpet.nsUntilInterrupt(), tscPerMs);
  }

  // The TSC at which the RTC next raises IRQ 8, or u64.MAX_VALUE.
  rtcAt(tscPerMs: u64): u64 {
    return this.tscAfter(this.rtc.nsUntilInterrupt(), tscPerMs);
  }

  // The present, for the VMM's look at the pin and the guest's register accesses.
  catchUpNow(): void {
    this.catchUp(rdtsc(), tscPerMillisecond());
  }

  // Whether the master 8259 asserts INT. On a PC that reaches the bootstrap
  // processor's LINT0 pin (MultiProcessor Specification 1.4, 3.6.2.2,
  // virtual wire mode), which the VM checks with LocalApic.passesExtInt()
  // (core/vm.ts). The timers need catching up only once one is due.
  asserted(): bool {
    const now = rdtsc(), tscPerMs = tscPerMillisecond();
    if (now >= this.nextEventAt(tscPerMs)) this.catchUp(now, tscPerMs);
    return this.pic.hasInterrupt();
  }

  // A guest read or wrote a timer's register: its deadline may have moved.
  touched(): void {
    this.timersDue = UNKNOWN;
  }

  // A device's deferred work came due sooner than this clock last asked.
  forgetDeferred(): void {
    this.deferredKnown = false;
  }

  settled(): bool {
    return this.timersDue != UNKNOWN && !this.pic.hasInterrupt();
  }

  acknowledge(): u8 {
    return this.pic.acknowledge();
  }

  // The earliest of the three timers' interrupts and the devices' deferred
  // work: the PIC or the I/O APIC may still hold an interrupt back (masked,
  // or a higher level in service).
  nextEventAt(tscPerMs: u64): u64 {
    let next = this.timersDue;
    if (next == UNKNOWN) {
      next = min(min(this.irq0At(tscPerMs), this.hpetAt(tscPerMs)), this.rtcAt(tscPerMs));
      this.timersDue = next;
    }
    const look = clockLook();
    if (!this.deferredKnown || this.deferredLook != look) {
      let due = NOT_DUE;
      for (let i = 0; i < this.deferred.length; i++) due = min(due, unchecked(this.deferred[i]).dueAt);
      this.deferredDue = due;
      this.deferredLook = look;
      this.deferredKnown = true;
    }
    return min(next, this.deferredDue);
  }

  nextEvent(): u64 {
    return this.nextEventAt(tscPerMillisecond());
  }

  // The first catchUp() that reaches it moves time on by `ns`, or further:
  // catchUp()'s conversion run backwards.
  private tscAfter(ns: u64, tscPerMs: u64): u64 {
    if (ns > NEVER - this.ns) return NEVER;
    const ticks = ticksForNs(this.ns + ns, tscPerMs);
    return ticks > NEVER - this.zero ? NEVER : max(this.tsc, this.zero + ticks);
  }
}

// A timer's registers (ports or MMIO), with the timers' time brought up to
// the TSC first: Linux calibrates its TSC by polling PIT counter 2.
export class ClockedDevice extends Device {
  constructor(private clock: PcInterrupts, private registers: Device) {
    super(registers.name);
  }

  read(offset: u64, size: u8): u64 {
    this.clock.catchUpNow();
    const value = this.registers.read(offset, size);
    // A read may end an interrupt (the RTC's register C) or latch a count.
    this.clock.touched();
    return value;
  }

  write(offset: u64, size: u8, value: u64): void {
    this.clock.catchUpNow();
    this.registers.write(offset, size, value);
    this.clock.touched();
  }
}
