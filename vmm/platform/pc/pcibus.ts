// The PCI bus of a PC VM, wired to the rest of the platform: both
// configuration mechanisms (ports 0xCF8-0xCFF and ECAM), the host bridge
// at 00:00.0, INTx pins to the I/O APIC as pcimap.ts routes them, and
// message-signalled interrupts to the local APICs.

import { Vm } from "../../core/vm";
import { IoApic } from "../../devices/apic/ioapic";
import { Device } from "../../devices/bus";
import { InterruptLines } from "../../devices/irq";
import { PCI_CONFIG_PORT, PciConfigPorts } from "../../devices/pci/configports";
import { Ecam } from "../../devices/pci/ecam";
import { hostBridge } from "../../devices/pci/hostbridge";
import { MessageSink } from "../../devices/pci/msix";
import { BarWindows, IntxRouting, PciBus } from "../../devices/pci/pcibus";
import { ECAM_BASE, ECAM_SIZE, intxGsi, PCI_IO_BASE, PCI_IO_END, PCI_MEMORY_BASE, PCI_MEMORY_END } from "./pcimap";

// The I/O APIC's inputs, by GSI: the INTx lines reach them directly, as
// on a PC's chipset (the 8259 pair does not see them).
class IoApicInputs extends InterruptLines {
  constructor(private ioapic: IoApic) {
    super();
  }
  setLevel(line: u32, high: bool): void {
    this.ioapic.setLevel(line, high);
  }
}

class PcIntxRouting extends IntxRouting {
  lineOf(device: u32, pin: u32): u32 {
    return intxGsi(device, pin);
  }
}

// A message is a memory write the function masters: into the local APICs'
// range at FEE00000h it is an interrupt (SDM Vol. 3A 11.11.1); anywhere
// else it writes its data there, as any device write would, or goes
// nowhere outside RAM.
const INTERRUPT_RANGE: u64 = 0xfee;
class PcMessages extends MessageSink {
  constructor(private vm: Vm) {
    super();
  }
  send(address: u64, data: u32): void {
    if (address >> 20 == INTERRUPT_RANGE) this.vm.apics.deliverMessage(address, data);
    else if (this.vm.memory.contains(address, 4)) this.vm.memory.write32(address, data);
  }
}

export class PcPciBus {
  readonly bus: PciBus;
  readonly messages: MessageSink;

  constructor(vm: Vm, ioapic: IoApic, resetControl: Device) {
    const bus = new PciBus(vm.bus, new IoApicInputs(ioapic), new PcIntxRouting());
    bus.attach(0, 0, hostBridge());
    vm.bus.io.map(PCI_CONFIG_PORT, 8, new PciConfigPorts(bus, resetControl));
    vm.bus.mmio.map(ECAM_BASE, ECAM_SIZE, new Ecam(bus));
    this.bus = bus;
    this.messages = new PcMessages(vm);
  }

  // What firmware does once the devices are in: every BAR placed in the
  // windows the ACPI tables describe, decoding on.
  assignResources(): void {
    this.bus.assignResources(new BarWindows(PCI_MEMORY_BASE, PCI_MEMORY_END, PCI_IO_BASE, PCI_IO_END));
  }
}
