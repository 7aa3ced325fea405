// PCI configuration mechanism #1 and a bus with a host bridge on it.
//
// A guest finds PCI devices by writing a bus/device/function/register
// address to CONFIG_ADDRESS (0xCF8) and accessing CONFIG_DATA (0xCFC-0xCFF)
// (PCI Local Bus Specification 3.0, 3.2.2.3.2). Bus 0 holds one function,
// the host bridge at 00:00.0, with the identity of the Intel 82441FX (the
// i440FX host bridge QEMU's "pc" machine presents, which guests know) but
// none of its chipset registers: past the standard header its configuration
// space reads as zero. Every other function is absent, and a read of an
// absent function returns all ones, which is how software sees "no device".
// A byte access to 0xCF9 is the chipset's Reset Control Register instead
// (io/resetports.ts), which this device passes on.

import { Device } from "../bus";

export const PCI_CONFIG_PORT: u16 = 0xcf8; // 8 ports: address, then data

const ENABLE: u32 = 0x8000_0000;
// Bits 30-24 are reserved and bits 1-0 read as zero (3.2.2.3.2).
const ADDRESS_BITS: u32 = 0x80ff_fffc;
const BRIDGE_LOCATION: u32 = 0x00ff_ff00; // bus, device, function: all zero for 00:00.0
const REGISTER: u32 = 0xfc;

// Standard header offsets (6.1).
const VENDOR_ID = 0x00, DEVICE_ID = 0x02, COMMAND = 0x04, REVISION = 0x08, CLASS_CODE = 0x09;
const CACHE_LINE_SIZE = 0x0c, LATENCY_TIMER = 0x0d, INTERRUPT_LINE = 0x3c;
const INTEL: u16 = 0x8086, I82441FX: u16 = 0x1237;
// Command bits software may change (6.2.2): I/O and memory space, bus master,
// parity error response, SERR# enable, interrupt disable.
const COMMAND_WRITABLE: u16 = 0x0547;
const MEMORY_SPACE_AND_MASTER: u16 = 0x0006;

export class PciHost extends Device {
  private address: u32 = 0;
  private config: StaticArray<u8> = new StaticArray<u8>(256);
  private writable: StaticArray<u8> = new StaticArray<u8>(256);

  constructor(private resetControl: Device) {
    super("PCI host");
    const c = this.config;
    put16(c, VENDOR_ID, INTEL);
    put16(c, DEVICE_ID, I82441FX);
    put16(c, COMMAND, MEMORY_SPACE_AND_MASTER);
    c[REVISION] = 0x02;
    // Class code 06/00/00: bridge, host bridge, no programming interface (D.7).
    c[CLASS_CODE + 2] = 0x06;
    // Header type 0, single function; no BARs, no capabilities: all zero.
    put16(this.writable, COMMAND, COMMAND_WRITABLE);
    this.writable[CACHE_LINE_SIZE] = 0xff;
    this.writable[LATENCY_TIMER] = 0xff;
    this.writable[INTERRUPT_LINE] = 0xff;
  }

  read(offset: u64, size: u8): u64 {
    if (isResetControl(offset, size)) return this.resetControl.read(0, size);
    if (offset < 4) {
      // Only a 32-bit access to 0xCF8 is CONFIG_ADDRESS; narrower ones are
      // ordinary I/O, to nothing here.
      return offset == 0 && size == 4 ? this.address : 0xffff_ffff;
    }
    if (!this.bridgeSelected()) return 0xffff_ffff;
    // CONFIG_DATA's byte lanes: a read at 0xCFC + k starts at register byte k.
    const reg = <i32>(this.address & REGISTER);
    let v: u64 = 0;
    for (let i = 0; i < 4; i++) v |= <u64>this.config[reg + i] << (i * 8);
    return v >> ((offset - 4) * 8);
  }

  write(offset: u64, size: u8, value: u64): void {
    if (isResetControl(offset, size)) {
      this.resetControl.write(0, size, value);
      return;
    }
    if (offset < 4) {
      if (offset == 0 && size == 4) this.address = <u32>value & ADDRESS_BITS;
      return;
    }
    if (!this.bridgeSelected()) return;
    const reg = <i32>(this.address & REGISTER);
    // Only the bytes of the selected dword; read-only bits keep their value.
    for (let lane = <i32>offset - 4, i = 0; lane < 4 && i < <i32>size; lane++, i++) {
      const at = reg + lane, mask = this.writable[at];
      this.config[at] = (this.config[at] & ~mask) | (<u8>(value >> (i * 8)) & mask);
    }
  }

  // With the enable bit clear, CONFIG_DATA is ordinary I/O (3.2.2.3.2).
  private bridgeSelected(): bool {
    return (this.address & ENABLE) != 0 && (this.address & BRIDGE_LOCATION) == 0;
  }
}

function isResetControl(offset: u64, size: u8): bool {
  return offset == 1 && size == 1;
}

function put16(a: StaticArray<u8>, at: i32, v: u16): void {
  a[at] = <u8>v;
  a[at + 1] = <u8>(v >> 8);
}
