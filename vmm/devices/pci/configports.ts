// PCI configuration mechanism #1: the two ports through which software on
// a PC reaches every function's configuration space.
//
// A guest writes a bus/device/function/register address to CONFIG_ADDRESS
// (0xCF8) and accesses CONFIG_DATA (0xCFC-0xCFF) (PCI Local Bus
// Specification 3.0, 3.2.2.3.2). A byte access to 0xCF9 is the chipset's
// Reset Control Register instead (io/resetports.ts), which this device
// passes on.

import { DECLINED, Device } from "../bus";
import { PciBus } from "./pcibus";

export const PCI_CONFIG_PORT: u16 = 0xcf8; // 8 ports: address, then data

const ENABLE: u32 = 0x8000_0000;
// Bits 30-24 are reserved and bits 1-0 read as zero (3.2.2.3.2).
const ADDRESS_BITS: u32 = 0x80ff_fffc;

export class PciConfigPorts extends Device {
  private address: u32 = 0;

  constructor(private bus: PciBus, private resetControl: Device) {
    super("PCI configuration ports");
  }

  read(offset: u64, size: u8): u64 {
    if (isResetControl(offset, size)) return this.resetControl.read(0, size);
    return this.readRegister(offset, size);
  }

  // Quick (devices/bus.ts): a configuration read has no effects; a write
  // to CONFIG_ADDRESS only latches it. Not the reset control byte at 0xCF9.
  get quickReads(): u32 {
    return 0xff & ~(1 << 1);
  }
  get quickWrites(): u32 {
    return 0x0f & ~(1 << 1);
  }
  quickRead(offset: u64, size: u8): u64 {
    return isResetControl(offset, size) ? DECLINED : this.readRegister(offset, size);
  }
  quickWrite(offset: u64, size: u8, value: u64): bool {
    if (offset >= 4 || isResetControl(offset, size)) return false;
    if (offset == 0 && size == 4) this.address = <u32>value & ADDRESS_BITS;
    return true;
  }

  // CONFIG_ADDRESS or CONFIG_DATA.
  private readRegister(offset: u64, size: u8): u64 {
    if (offset < 4) {
      // Only a 32-bit access to 0xCF8 is CONFIG_ADDRESS; narrower ones are
      // ordinary I/O, to nothing here.
      return offset == 0 && size == 4 ? this.address : 0xffff_ffff;
    }
    // With the enable bit clear, CONFIG_DATA is ordinary I/O (3.2.2.3.2).
    if ((this.address & ENABLE) == 0) return 0xffff_ffff;
    // CONFIG_DATA's byte lanes: an access at 0xCFC + k starts at register byte k.
    const a = this.address;
    return this.bus.readConfig(bus(a), device(a), fn(a), register(a) + <u32>offset - 4, size);
  }

  write(offset: u64, size: u8, value: u64): void {
    if (this.quickWrite(offset, size, value)) return;
    if (isResetControl(offset, size)) {
      this.resetControl.write(0, size, value);
      return;
    }
    if ((this.address & ENABLE) == 0) return;
    const a = this.address;
    // An access that runs past 0xCFF is cut at the end of the dword.
    const lanes = <u8>min(<u64>size, 8 - offset);
    this.bus.writeConfig(bus(a), device(a), fn(a), register(a) + <u32>offset - 4, lanes, <u32>value);
  }
}

function isResetControl(offset: u64, size: u8): bool {
  return offset == 1 && size == 1;
}

function bus(address: u32): u32 {
  return (address >> 16) & 0xff;
}
function device(address: u32): u32 {
  return (address >> 11) & 0x1f;
}
function fn(address: u32): u32 {
  return (address >> 8) & 0x7;
}
function register(address: u32): u32 {
  return address & 0xfc;
}
