// Bus 0 of a VM's PCI segment: the functions in its 32 slots, what they
// decode in the VM's memory and I/O space, and their INTx pins.
//
// Configuration accesses arrive here from both access mechanisms
// (configports.ts, ecam.ts) already split into device, function and
// register. A function that is not there reads as all ones, which is how
// software sees an empty slot (PCI 3.0, 6.1). When a function's BARs or
// command register change, its BARs' registers are taken off the VM's bus
// and mapped again where the BARs now point, if decoding is on.
//
// INTx# pins are wired-OR, active-low lines (PCI 3.0, 2.2.6): a line is low
// while any function on it asserts. Each slot's pins reach I/O APIC inputs
// as platform/pc/pcimap.ts routes them, which the guest learns from ACPI.

import { Bus } from "../bus";
import { InterruptLines } from "../irq";
import { HEADER_TYPE, MULTI_FUNCTION } from "./configspace";
import { BARS, BarKind, FunctionHost, PciFunction } from "./function";

export const PCI_DEVICES: u32 = 32;
export const PCI_FUNCTIONS: u32 = 8;
const LOCATIONS: i32 = <i32>(PCI_DEVICES * PCI_FUNCTIONS);
const ABSENT: u32 = 0xffff_ffff;

// Where a function's INTx pin leads: an interrupt line number (a GSI).
export abstract class IntxRouting {
  abstract lineOf(device: u32, pin: u32): u32;
}

// Where firmware may put BARs (assignResources()).
export class BarWindows {
  constructor(public memoryBase: u64, public memoryEnd: u64, public ioBase: u32, public ioEnd: u32) {}
}

export class PciBus extends FunctionHost {
  private functions: StaticArray<PciFunction | null> = new StaticArray<PciFunction | null>(LOCATIONS);
  // Whether each function drives its INTx line now, and how many drive each line.
  private driving: StaticArray<bool> = new StaticArray<bool>(LOCATIONS);
  private drivers: Map<u32, i32> = new Map<u32, i32>();

  // `space`: the VM's bus, where BARs are mapped; `lines`: the interrupt
  // lines INTx reaches, through `routing`.
  constructor(private space: Bus, private lines: InterruptLines, private routing: IntxRouting) {
    super();
  }

  // Puts `fn` at `device`.`function`; false if that place is taken. Its
  // INTx line idles high (deasserted).
  attach(device: u32, functionNumber: u32, fn: PciFunction): bool {
    const at = <i32>(device * PCI_FUNCTIONS + functionNumber);
    if (device >= PCI_DEVICES || functionNumber >= PCI_FUNCTIONS || this.functions[at] !== null) return false;
    this.functions[at] = fn;
    fn.host = this;
    fn.location = <u32>at;
    if (functionNumber > 0) {
      const first = this.functions[<i32>(device * PCI_FUNCTIONS)];
      if (first !== null) first.config.set(HEADER_TYPE, 1, first.config.read(HEADER_TYPE, 1) | MULTI_FUNCTION);
    }
    if (fn.interruptPin != 0) this.drive(this.lineOf(fn), 0);
    this.decodeChanged(fn);
    return true;
  }

  functionAt(bus: u32, device: u32, functionNumber: u32): PciFunction | null {
    if (bus != 0 || device >= PCI_DEVICES || functionNumber >= PCI_FUNCTIONS) return null;
    return this.functions[<i32>(device * PCI_FUNCTIONS + functionNumber)];
  }

  readConfig(bus: u32, device: u32, functionNumber: u32, offset: u32, size: u8): u32 {
    const fn = this.functionAt(bus, device, functionNumber);
    return fn === null ? ABSENT : fn.readConfig(offset, size);
  }

  writeConfig(bus: u32, device: u32, functionNumber: u32, offset: u32, size: u8, value: u32): void {
    const fn = this.functionAt(bus, device, functionNumber);
    if (fn !== null) fn.writeConfig(offset, size, value);
  }

  decodeChanged(fn: PciFunction): void {
    for (let i = 0; i < BARS; i++) {
      const bar = fn.bars[i];
      if (bar === null) continue;
      const space = bar.kind == BarKind.Io ? this.space.io : this.space.mmio;
      space.unmap(bar.registers);
      if (fn.decodes(i)) space.map(fn.barAddress(i), bar.size, bar.registers);
    }
  }

  intxChanged(fn: PciFunction, asserted: bool): void {
    const at = <i32>fn.location;
    if (this.driving[at] == asserted) return;
    this.driving[at] = asserted;
    this.drive(this.lineOf(fn), asserted ? 1 : -1);
  }

  // What a PC's firmware does before the OS: every BAR placed in the
  // windows, naturally aligned, and decoding turned on.
  assignResources(windows: BarWindows): void {
    let memory = windows.memoryBase, io = <u64>windows.ioBase;
    for (let at = 0; at < LOCATIONS; at++) {
      const fn = this.functions[at];
      if (fn === null) continue;
      for (let i = 0; i < BARS; i++) {
        const bar = fn.bars[i];
        if (bar === null) continue;
        const isIo = bar.kind == BarKind.Io, next = isIo ? io : memory;
        const address = (next + bar.size - 1) & ~(bar.size - 1);
        const end = isIo ? <u64>windows.ioEnd : windows.memoryEnd;
        if (address + bar.size > end) continue; // left unassigned, for the OS to place
        fn.placeBar(i, address);
        if (isIo) io = address + bar.size;
        else memory = address + bar.size;
      }
      fn.enableDecoding();
    }
  }

  private lineOf(fn: PciFunction): u32 {
    return this.routing.lineOf(fn.location / PCI_FUNCTIONS, <u32>fn.interruptPin - 1);
  }

  // Wired-OR: the line is low while anyone drives it; `change` is +1 for
  // a function that starts driving it, -1 for one that stops.
  private drive(line: u32, change: i32): void {
    const count = (this.drivers.has(line) ? this.drivers.get(line) : 0) + change;
    this.drivers.set(line, count);
    this.lines.setLevel(line, count == 0);
  }
}
