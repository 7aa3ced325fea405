// Unit-test entry: a VM's PCI bus (vmm/devices/pci/) on a bus of its own,
// reached through both configuration mechanisms as a guest reaches it:
// the ports 0xCF8-0xCFF and an ECAM window at ECAM_BASE. Besides the host
// bridge at 00:00.0 it holds a test function at 00:03.0 with one BAR of
// each kind (a 4 KiB 32-bit memory BAR, a 32-port I/O BAR, a 16 KiB
// 64-bit memory BAR with an MSI-X table of 4 vectors and its pending
// bits), INTA#, and a second function at 00:07.0 whose INTA# shares its line
// with it. The interrupt lines and the messages are recorded. Each load()
// of this module is a fresh bus.

import { Bus, Device, RegisterBlocks } from "../../../vmm/devices/bus";
import { PCI_CONFIG_PORT, PciConfigPorts } from "../../../vmm/devices/pci/configports";
import { Ecam } from "../../../vmm/devices/pci/ecam";
import { PciFunction } from "../../../vmm/devices/pci/function";
import { hostBridge } from "../../../vmm/devices/pci/hostbridge";
import { MSIX_ENTRY_SIZE, MsiX } from "../../../vmm/devices/pci/msix";
import { BarWindows, PciBus } from "../../../vmm/devices/pci/pcibus";
import { ECAM_BASE, ECAM_SIZE } from "../../../vmm/platform/pc/pcimap";
import { Lines, messages, Routing } from "./pcirecorders";
export { messageAddress, messageCount, messageData } from "./pcirecorders";

// Registers that remember the last write and answer reads with offset + 1.
class Scratch extends Device {
  lastOffset: u64 = 0;
  lastValue: u64 = 0;
  read(offset: u64, size: u8): u64 {
    return offset + 1;
  }
  write(offset: u64, size: u8, value: u64): void {
    this.lastOffset = offset;
    this.lastValue = value;
  }
}

class Resets extends Device {
  read(offset: u64, size: u8): u64 {
    return 0x5a;
  }
  write(offset: u64, size: u8, value: u64): void {}
}

const space = new Bus();
const lines = new Lines();
const pci = new PciBus(space, lines, new Routing());
const memoryRegisters = new Scratch("memory BAR"), ioRegisters = new Scratch("I/O BAR");
const test = new PciFunction("test", 0x1af4, 0x1042, 0x01_00_00, 1);
test.addMemoryBar(0, 0x1000, false, memoryRegisters);
test.addIoBar(1, 32, ioRegisters);
const msixBar = new RegisterBlocks("MSI-X BAR");
test.addMemoryBar(2, 0x4000, true, msixBar);
const msix = new MsiX(test, messages, 4, 2, 0, 2, 0x2000);
msixBar.blocks.map(0, 4 * MSIX_ENTRY_SIZE, msix.table);
msixBar.blocks.map(0x2000, 8, msix.pendingBits);
test.useInterruptPin(1);
const other = new PciFunction("other", 0x8086, 0x100e, 0x02_00_00, 3);
other.useInterruptPin(1);
pci.attach(0, 0, hostBridge());
pci.attach(3, 0, test);
pci.attach(7, 0, other);
space.io.map(PCI_CONFIG_PORT, 8, new PciConfigPorts(pci, new Resets("resets")));
space.mmio.map(ECAM_BASE, ECAM_SIZE, new Ecam(pci));

export function ioRead(port: u32, size: u8): u32 {
  return <u32>space.io.read(port, size);
}
export function ioWrite(port: u32, size: u8, value: u32): void {
  space.io.write(port, size, value);
}
export function mmioRead(address: u64, size: u8): u64 {
  return space.mmio.read(address, size);
}
export function mmioWrite(address: u64, size: u8, value: u64): void {
  space.mmio.write(address, size, value);
}
export function attachAgain(device: u32): bool {
  return pci.attach(device, 0, new PciFunction("again", 1, 2, 0, 0));
}
export function assign(memoryBase: u64, memoryEnd: u64, ioBase: u32, ioEnd: u32): void {
  pci.assignResources(new BarWindows(memoryBase, memoryEnd, ioBase, ioEnd));
}
export function lastMemoryWrite(): u64 {
  return memoryRegisters.lastOffset << 32 | memoryRegisters.lastValue;
}
export function lastIoWrite(): u64 {
  return ioRegisters.lastOffset << 32 | ioRegisters.lastValue;
}
export function raiseIntx(which: u32, asserted: bool): void {
  (which == 0 ? test : other).setIntx(asserted);
}
export function lineLevel(line: u32): i32 {
  return lines.levels[line];
}
export function raiseVector(vector: u32): void {
  msix.raise(vector);
}
