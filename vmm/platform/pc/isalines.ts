// The ISA interrupt lines of a PC, wired to both interrupt controllers.
//
// On a PC every ISA IRQ reaches the 8259 pair and an I/O APIC input at
// once; the OS picks which one it listens to (it masks the other). IRQ n is
// I/O APIC input n, but for IRQ 0, the PIT's, which is input 2: the MADT
// says so with an interrupt source override (acpitables.ts), as PC
// firmware does (ACPI 6.5, 5.2.12.5; MultiProcessor Specification 1.4, 5.1).

import { InterruptLines } from "../../devices/irq";
import { IoApic } from "../../devices/apic/ioapic";
import { Pic8259Pair } from "../../devices/pic/pic8259";
import { Vm } from "../../core/vm";

export const PIT_IRQ: u32 = 0;
export const PIT_IOAPIC_PIN: u32 = 2;

export class IsaLines extends InterruptLines {
  // `vm`: whose boot vCPU the 8259 pair interrupts; it hears of each rising
  // line at once, wherever it runs (the I/O APIC's messages tell their
  // targets themselves).
  constructor(private pic: Pic8259Pair, private ioapic: IoApic, private vm: Vm) {
    super();
  }

  setLevel(line: u32, high: bool): void {
    this.pic.setLevel(line, high);
    this.ioapic.setLevel(line == PIT_IRQ ? PIT_IOAPIC_PIN : line, high);
    if (high) this.vm.apics.notify(this.vm.vcpus[0]);
  }
}
