// The host's PCI configuration space, reached through configuration
// mechanism #1 (PCI Local Bus Specification 3.0, 3.2.2.3.2): a dword
// written to CONFIG_ADDRESS (port 0xCF8) selects a bus, device, function
// and register, and CONFIG_DATA (0xCFC-0xCFF) then carries that
// register's bytes. Every PC chipset has it, and the firmware used it to
// assign the BARs this kernel reads.
//
// A function is named by its PciAddress: bus, device and function packed
// as CONFIG_ADDRESS packs them, bus in bits 15-8, device 7-3, function 2-0.

import { inl, outl, outw } from "../arch/shim";

const CONFIG_ADDRESS: u16 = 0xcf8;
const CONFIG_DATA: u16 = 0xcfc;
const ENABLE: u32 = 0x8000_0000;

export type PciAddress = u32;

export function pciAddress(bus: u32, device: u32, fn: u32): PciAddress {
  return (bus << 8) | (device << 3) | fn;
}

// Selects the dword of register `reg` (bits 1-0 are the byte within it).
function select(at: PciAddress, reg: u32): void {
  outl(CONFIG_ADDRESS, ENABLE | (at << 8) | (reg & 0xfc));
}

export function configRead32(at: PciAddress, reg: u32): u32 {
  select(at, reg);
  return inl(CONFIG_DATA);
}

export function configWrite32(at: PciAddress, reg: u32, value: u32): void {
  select(at, reg);
  outl(CONFIG_DATA, value);
}

// A 16-bit write at an even register, through CONFIG_DATA's byte lanes: the
// command register is written without rewriting the status register beside
// it, whose bits a write of 1 clears.
export function configWrite16(at: PciAddress, reg: u32, value: u16): void {
  select(at, reg);
  outw(CONFIG_DATA + <u16>(reg & 2), value);
}
