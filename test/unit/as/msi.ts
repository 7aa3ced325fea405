// Unit-test entry: plain MSI (vmm/devices/pci/msi.ts) on a bus of its own,
// reached through the ports 0xCF8-0xCFF as a guest reaches it. Two
// functions: at 00:04.0 one with 32-bit addresses, per-vector masking and
// 8 vectors; at 00:05.0 one with 64-bit addresses, one vector and no
// masking, after an MSI-X capability of 2 vectors (table and pending bits
// in its BAR 0). Both use INTA#. Interrupt lines and messages are
// recorded. Each load() of this module is a fresh bus.

import { Bus, Device, RegisterBlocks } from "../../../vmm/devices/bus";
import { PCI_CONFIG_PORT, PciConfigPorts } from "../../../vmm/devices/pci/configports";
import { PciFunction } from "../../../vmm/devices/pci/function";
import { Msi } from "../../../vmm/devices/pci/msi";
import { MSIX_ENTRY_SIZE, MsiX } from "../../../vmm/devices/pci/msix";
import { PciBus } from "../../../vmm/devices/pci/pcibus";
import { Lines, messages, Routing } from "./pcirecorders";
export { messageAddress, messageCount, messageData } from "./pcirecorders";

class NoResets extends Device {
  read(offset: u64, size: u8): u64 {
    return 0;
  }
  write(offset: u64, size: u8, value: u64): void {}
}

const space = new Bus();
const lines = new Lines();
const pci = new PciBus(space, lines, new Routing());

const narrow = new PciFunction("narrow", 0x1af4, 0x1000, 0xff_00_00, 1);
const narrowMsi = new Msi(narrow, messages, 3, false, true);
narrow.useInterruptPin(1);

const wide = new PciFunction("wide", 0x1af4, 0x1001, 0xff_00_00, 1);
const msixBar = new RegisterBlocks("MSI-X BAR");
wide.addMemoryBar(0, 0x1000, false, msixBar);
const msix = new MsiX(wide, messages, 2, 0, 0, 0, 0x800);
msixBar.blocks.map(0, 2 * MSIX_ENTRY_SIZE, msix.table);
msixBar.blocks.map(0x800, 8, msix.pendingBits);
const wideMsi = new Msi(wide, messages, 0, true, false);
wide.useInterruptPin(1);

pci.attach(4, 0, narrow);
pci.attach(5, 0, wide);
space.io.map(PCI_CONFIG_PORT, 8, new PciConfigPorts(pci, new NoResets("resets")));

export function ioRead(port: u32, size: u8): u32 {
  return <u32>space.io.read(port, size);
}
export function ioWrite(port: u32, size: u8, value: u32): void {
  space.io.write(port, size, value);
}
// `which`: 0 for 00:04.0, 1 for 00:05.0.
export function raise(which: u32, vector: u32): void {
  (which == 0 ? narrowMsi : wideMsi).raise(vector);
}
export function raiseIntx(which: u32, asserted: bool): void {
  (which == 0 ? narrow : wide).setIntx(asserted);
}
export function lineLevel(line: u32): i32 {
  return lines.levels[line];
}
