// The PC's legacy interrupt path to the boot vCPU: the 8254's time, and the
// 8259 pair's INTR output; and the other clock that follows the same time,
// the ACPI PM timer (devices/acpipm.ts).
//
// The PIT keeps no clock of its own (devices/pit8254.ts): here it follows
// the TSC, brought up to date before every guest access to its ports or the
// PM block's (ClockedPorts) and whenever the VMM looks for an interrupt (asserted()),
// so that counter 2 moves under a guest polling port 61h (Linux calibrates
// its TSC that way) and counter 0 raises IRQ0 on time. The master 8259's INT
// output is the processor's INTR signal; on a PC it reaches the bootstrap
// processor's LINT0 pin (MultiProcessor Specification 1.4, 3.6.2.2, virtual
// wire mode), which the VM checks with LocalApic.passesExtInt() (vm.ts).

import { Device } from "./bus";
import { AcpiPm } from "./devices/acpipm";
import { Pic8259Pair } from "./devices/pic8259";
import { NEVER, Pit8254, PIT_HZ } from "./devices/pit8254";
import { rdtsc } from "../kernel/arch/shim";
import { tscPerMillisecond } from "../kernel/cpu/irq";
import { InterruptPin } from "./vm";

const NS_PER_MS: u64 = 1_000_000;

export class PcInterrupts extends InterruptPin {
  // The TSC the PIT's time stands at; its time zero is the first catchUp(),
  // since the VMs are built before the host's clocks are calibrated.
  private tsc: u64 = 0;
  private carry: u64 = 0; // TSC ticks * NS_PER_MS not yet worth a nanosecond

  constructor(private pic: Pic8259Pair, private pit: Pit8254, private pm: AcpiPm) { super(); }

  // Moves the PIT's time on to `nowTsc` (which never goes back), the TSC
  // counting `tscPerMs` ticks a millisecond.
  catchUp(nowTsc: u64, tscPerMs: u64): void {
    if (this.tsc == 0) this.tsc = nowTsc;
    if (nowTsc <= this.tsc) return;
    const delta = nowTsc - this.tsc;
    this.tsc = nowTsc;
    // Whole milliseconds first keeps the product below 2^64 for any step.
    const scaled = (delta % tscPerMs) * NS_PER_MS + this.carry;
    this.carry = scaled % tscPerMs;
    const ns = (delta / tscPerMs) * NS_PER_MS + scaled / tscPerMs;
    this.pit.advance(ns);
    this.pm.advance(ns);
  }

  // The TSC at which IRQ0 next rises, rounded up, or u64.MAX_VALUE.
  irq0At(tscPerMs: u64): u64 {
    const clocks = this.pit.clocksUntilIrq();
    if (clocks == NEVER) return u64.MAX_VALUE;
    return this.tsc + (clocks * tscPerMs * 1000 + PIT_HZ - 1) / PIT_HZ;
  }

  // The present, for the VMM's look at the pin and the guest's port accesses.
  catchUpNow(): void { this.catchUp(rdtsc(), tscPerMillisecond()); }

  asserted(): bool {
    this.catchUpNow();
    return this.pic.hasInterrupt();
  }

  acknowledge(): u8 { return this.pic.acknowledge(); }

  // The PIC may still hold IRQ0 back (masked, or a higher level in service).
  nextEvent(): u64 { return this.irq0At(tscPerMillisecond()); }
}

// The PIT's ports (and port 61h), with the PIT's time brought up to the TSC first.
export class ClockedPorts extends Device {
  constructor(private clock: PcInterrupts, private ports: Device) { super(ports.name); }

  read(offset: u64, size: u8): u64 {
    this.clock.catchUpNow();
    return this.ports.read(offset, size);
  }

  write(offset: u64, size: u8, value: u64): void {
    this.clock.catchUpNow();
    this.ports.write(offset, size, value);
  }
}
