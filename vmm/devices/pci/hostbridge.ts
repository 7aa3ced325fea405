// The host bridge at 00:00.0, the function every PC has first on bus 0,
// which tells software there is a PCI bus at all (Linux's check of
// mechanism #1 looks for it). It has the identity of the Intel 82441FX,
// the i440FX host bridge QEMU's "pc" machine presents and guests know, but
// none of its chipset registers, no BARs and no interrupt.

import { COMMAND, COMMAND_BUS_MASTER, COMMAND_MEMORY_SPACE } from "./configspace";
import { PciFunction } from "./function";

const INTEL: u16 = 0x8086, I82441FX: u16 = 0x1237;
// Base class 06h, subclass 00h: a host bridge (PCI 3.0, appendix D.7).
const HOST_BRIDGE_CLASS: u32 = 0x06_00_00;

export function hostBridge(): PciFunction {
  const bridge = new PciFunction("PCI host bridge", INTEL, I82441FX, HOST_BRIDGE_CLASS, 0x02);
  // It passes the processors' memory accesses on and masters the bus.
  bridge.config.set(COMMAND, 2, COMMAND_MEMORY_SPACE | COMMAND_BUS_MASTER);
  return bridge;
}
