// The host's PCI functions: what the firmware found and configured.
//
// scanPci() walks bus 0 and every bus behind a PCI-to-PCI bridge, as the
// bridges' secondary bus numbers say, and lists each function with its
// identity, class and base address registers. The firmware (SeaBIOS, OVMF)
// has already assigned the BARs and bus numbers; the kernel only reads
// them, and changes a function's command register only for a device a
// driver takes over (PCI Local Bus Specification 3.0, 6.1 the header, 6.2.2
// the command register, 6.2.5 BARs; PCI-to-PCI Bridge Architecture 1.2,
// 3.2 the type 1 header).

import * as log from "../console/log";
import { configRead32, configWrite16, configWrite32, PciAddress, pciAddress } from "./config";

const ID: u32 = 0x00, COMMAND: u32 = 0x04, CLASS: u32 = 0x08, HEADER_TYPE_DWORD: u32 = 0x0c;
const BAR0: u32 = 0x10, BUS_NUMBERS: u32 = 0x18, CAPABILITIES_POINTER: u32 = 0x34;
// The status register's (the command dword's upper half) Capabilities List bit (6.2.3).
const HAS_CAPABILITIES: u32 = 1 << (16 + 4);
// A list longer than 256 bytes of 4-byte capabilities can hold is a loop.
const MAX_CAPABILITIES: i32 = 48;
const MULTI_FUNCTION: u8 = 0x80;
const BRIDGE_HEADER: u8 = 1; // type 1: PCI-to-PCI bridge, two BARs
const ABSENT: u16 = 0xffff; // the vendor ID no function has (6.2.1)

// Command register bits (6.2.2).
export const MEMORY_SPACE: u16 = 1 << 1;
export const BUS_MASTER: u16 = 1 << 2;
export const INTX_DISABLE: u16 = 1 << 10;

// BAR bits (6.2.5.1): bit 0 set for I/O; a memory BAR's type in bits 2-1.
const BAR_IO: u32 = 1, BAR_TYPE_64: u32 = 2 << 1, BAR_TYPE_MASK: u32 = 3 << 1;

export class Bar {
  constructor(readonly index: i32, readonly address: u64, readonly io: bool, readonly wide: bool) {}

  toString(): string {
    return "BAR" + this.index.toString() + " " + (this.io ? "io " : this.wide ? "mem64 " : "mem ")
      + log.hex(this.address);
  }
}

export class PciFunction {
  readonly vendor: u16;
  readonly device: u16;
  // Base class, subclass and programming interface: 0x010802 for NVMe.
  readonly classCode: u32;
  readonly headerType: u8;

  constructor(readonly address: PciAddress) {
    const id = configRead32(address, ID);
    this.vendor = <u16>id;
    this.device = <u16>(id >> 16);
    this.classCode = configRead32(address, CLASS) >> 8;
    this.headerType = <u8>(configRead32(address, HEADER_TYPE_DWORD) >> 16);
  }

  // "0000:00:04.0": segment, bus, device, function, as Linux prints them.
  get name(): string {
    const a = this.address;
    return "0000:" + hex2(a >> 8) + ":" + hex2((a >> 3) & 0x1f) + "." + (a & 7).toString();
  }

  get isBridge(): bool {
    return (this.headerType & 0x7f) == BRIDGE_HEADER;
  }

  // The BARs that decode something, a 64-bit one read from its two registers.
  bars(): Bar[] {
    const out: Bar[] = [];
    const count = this.isBridge ? 2 : 6;
    for (let i = 0; i < count; i++) {
      const low = configRead32(this.address, BAR0 + 4 * <u32>i);
      if ((low & BAR_IO) != 0) {
        if ((low & ~3) != 0) out.push(new Bar(i, <u64>(low & ~3), true, false));
        continue;
      }
      const wide = (low & BAR_TYPE_MASK) == BAR_TYPE_64 && i + 1 < count;
      const high = wide ? configRead32(this.address, BAR0 + 4 * <u32>(i + 1)) : 0;
      const address = (<u64>high << 32) | <u64>(low & ~0xf);
      if (address != 0) out.push(new Bar(i, address, false, wide));
      if (wide) i++;
    }
    return out;
  }

  // The bytes memory BAR `bar` decodes, found as 6.2.5.1 says: with
  // decoding off, write all ones and read back the address bits that
  // stick; then the BAR and the command register are restored.
  memoryBarSize(bar: Bar): u64 {
    const a = this.address, reg = BAR0 + 4 * <u32>bar.index;
    const command = <u16>configRead32(a, COMMAND);
    configWrite16(a, COMMAND, command & ~MEMORY_SPACE);
    const low = configRead32(a, reg), high = bar.wide ? configRead32(a, reg + 4) : 0;
    configWrite32(a, reg, 0xffff_ffff);
    if (bar.wide) configWrite32(a, reg + 4, 0xffff_ffff);
    const upper: u64 = bar.wide ? configRead32(a, reg + 4) : 0xffff_ffff;
    const mask = (upper << 32) | <u64>(configRead32(a, reg) & ~0xf);
    configWrite32(a, reg, low);
    if (bar.wide) configWrite32(a, reg + 4, high);
    configWrite16(a, COMMAND, command);
    return ~mask + 1;
  }

  // The configuration dword at `reg`.
  read32(reg: u32): u32 {
    return configRead32(this.address, reg);
  }

  // Where the capabilities with ID `id` start, in list order (6.7): each
  // holds its ID in its first byte and the next one's offset in the second,
  // the first one's offset at 34h; an offset below 40h ends the list.
  capabilities(id: u8): u32[] {
    const out: u32[] = [];
    if ((configRead32(this.address, COMMAND) & HAS_CAPABILITIES) == 0) return out;
    let at = configRead32(this.address, CAPABILITIES_POINTER) & 0xfc;
    for (let n = 0; n < MAX_CAPABILITIES && at >= 0x40; n++) {
      const header = configRead32(this.address, at);
      if (<u8>header == id) out.push(at);
      at = (header >> 8) & 0xfc;
    }
    return out;
  }

  // Sets the command register's bits `set` and clears `clear`.
  command(set: u16, clear: u16): void {
    const now = <u16>configRead32(this.address, COMMAND);
    configWrite16(this.address, COMMAND, (now & ~clear) | set);
  }

  describe(): string {
    let text = "pci " + this.name + ": " + hex4(this.vendor) + ":" + hex4(this.device) + " class "
      + this.classCode.toString(16).padStart(6, "0");
    const bars = this.bars();
    for (let i = 0; i < bars.length; i++) text += ", " + bars[i].toString();
    return text;
  }
}

// Every function on bus 0 and behind its bridges, each logged at debug level.
export function scanPci(): PciFunction[] {
  const found: PciFunction[] = [];
  const seen = new StaticArray<bool>(256);
  scanBus(0, found, seen);
  return found;
}

function scanBus(bus: u32, found: PciFunction[], seen: StaticArray<bool>): void {
  // A bus number reached twice (a firmware's mistake) is walked once.
  if (seen[bus]) return;
  seen[bus] = true;
  for (let device: u32 = 0; device < 32; device++) {
    for (let fn: u32 = 0; fn < 8; fn++) {
      const at = pciAddress(bus, device, fn);
      if (<u16>configRead32(at, ID) == ABSENT) {
        if (fn == 0) break;
        continue;
      }
      const f = new PciFunction(at);
      found.push(f);
      log.debug(f.describe());
      if (f.isBridge) scanBus((configRead32(at, BUS_NUMBERS) >> 8) & 0xff, found, seen);
      // Functions 1-7 exist only in a multi-function device (6.2.1).
      if (fn == 0 && (f.headerType & MULTI_FUNCTION) == 0) break;
    }
  }
}

function hex2(v: u32): string {
  return (v & 0xff).toString(16).padStart(2, "0");
}

function hex4(v: u16): string {
  return v.toString(16).padStart(4, "0");
}
