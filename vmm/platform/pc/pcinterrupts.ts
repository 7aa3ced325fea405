// The PC's platform timers on the TSC, and the 8259 pair's INTR output as
// the boot vCPU's InterruptPin: the 8254's time, the ACPI PM timer's
// (devices/acpipm.ts) and the HPET's (devices/hpet.ts).
//
// The timers keep no clock of their own: here they follow the TSC, brought
// up to date before every guest access to their registers (ClockedDevice)
// and whenever the VMM looks for an interrupt (asserted()), so that counter
// 2 moves under a guest polling port 61h (Linux calibrates its TSC that
// way) and the PIT's IRQ0 and the HPET's comparator matches are raised on
// time. TSC ticks become nanoseconds exactly (devices/clock.ts), and each
// timer turns them into its own clocks; nextEvent() runs the same
// conversions backwards to say when the next timer interrupt is due. The
// master 8259's INT output is the processor's INTR signal; on a PC it
// reaches the bootstrap processor's LINT0 pin (MultiProcessor
// Specification 1.4, 3.6.2.2, virtual wire mode), which the VM checks with
// LocalApic.passesExtInt() (vm.ts).

import { Device } from "../../devices/bus";
import { AcpiPm } from "../../devices/timers/acpipm";
import { ClockRatio, NEVER } from "../../devices/timers/clock";
import { Hpet } from "../../devices/timers/hpet";
import { Pic8259Pair } from "../../devices/pic/pic8259";
import { Pit8254 } from "../../devices/timers/pit8254";
import { rdtsc } from "../../../kernel/arch/shim";
import { tscPerMillisecond } from "../../../kernel/time/tsc";
import { InterruptPin } from "../../core/vm";

const NS_PER_MS: u64 = 1_000_000;

export class PcInterrupts extends InterruptPin {
  // The TSC the timers' time stands at; its time zero is the first
  // catchUp(), since the VMs are built before the host's clocks are calibrated.
  private tsc: u64 = 0;
  private tscToNs: ClockRatio | null = null;

  constructor(private pic: Pic8259Pair, private pit: Pit8254, private pm: AcpiPm, private hpet: Hpet) {
    super();
  }

  // Moves the timers' time on to `nowTsc` (which never goes back), the TSC
  // counting `tscPerMs` ticks a millisecond.
  catchUp(nowTsc: u64, tscPerMs: u64): void {
    if (this.tsc == 0) this.tsc = nowTsc;
    if (nowTsc <= this.tsc) return;
    const ns = this.nanoseconds(tscPerMs).convert(nowTsc - this.tsc);
    this.tsc = nowTsc;
    this.pit.advance(ns);
    this.pm.advance(ns);
    this.hpet.advance(ns);
  }

  // The TSC at which IRQ0 next rises, or u64.MAX_VALUE.
  irq0At(tscPerMs: u64): u64 {
    return this.tscAfter(this.pit.nsUntilIrq(), tscPerMs);
  }

  // The TSC at which an HPET timer next interrupts, or u64.MAX_VALUE.
  hpetAt(tscPerMs: u64): u64 {
    return this.tscAfter(this.hpet.nsUntilInterrupt(), tscPerMs);
  }

  // The present, for the VMM's look at the pin and the guest's register accesses.
  catchUpNow(): void {
    this.catchUp(rdtsc(), tscPerMillisecond());
  }

  asserted(): bool {
    this.catchUpNow();
    return this.pic.hasInterrupt();
  }

  acknowledge(): u8 {
    return this.pic.acknowledge();
  }

  // The earlier of the two: the PIC or the I/O APIC may still hold the
  // interrupt back (masked, or a higher level in service).
  nextEventAt(tscPerMs: u64): u64 {
    return min(this.irq0At(tscPerMs), this.hpetAt(tscPerMs));
  }

  nextEvent(): u64 {
    return this.nextEventAt(tscPerMillisecond());
  }

  // The first catchUp() that reaches it moves time on by `ns`, or further.
  private tscAfter(ns: u64, tscPerMs: u64): u64 {
    const ticks = this.nanoseconds(tscPerMs).inputFor(ns);
    return ticks > NEVER - this.tsc ? NEVER : this.tsc + ticks;
  }

  private nanoseconds(tscPerMs: u64): ClockRatio {
    let ratio = this.tscToNs;
    if (ratio === null || ratio.denominator != tscPerMs) {
      ratio = new ClockRatio(NS_PER_MS, tscPerMs);
      this.tscToNs = ratio;
    }
    return ratio;
  }
}

// A timer's registers (ports or MMIO), with the timers' time brought up to the TSC first.
export class ClockedDevice extends Device {
  constructor(private clock: PcInterrupts, private registers: Device) {
    super(registers.name);
  }

  read(offset: u64, size: u8): u64 {
    this.clock.catchUpNow();
    return this.registers.read(offset, size);
  }

  write(offset: u64, size: u8, value: u64): void {
    this.clock.catchUpNow();
    this.registers.write(offset, size, value);
  }
}
