// The configuration space of one PCI function: the 256 bytes of registers
// a driver reads to learn what the function is and writes to place it.
//
// Every register is kept as bytes, with a mask of the bits software may
// write; the rest are read-only, and a write leaves them alone (PCI Local
// Bus Specification 3.0, 6.1). The functions of a VM are conventional PCI
// (they have no PCI Express capability), so their space is these 256 bytes;
// the extended space that ECAM reaches above them reads as zero, which says
// "no extended capabilities" (PCI Express Base 4.0, 7.6.2).

export const CONFIG_SIZE: u32 = 256;

// Type 0 header (PCI 3.0, 6.1, figure 6-1).
export const VENDOR_ID: u32 = 0x00;
export const DEVICE_ID: u32 = 0x02;
export const COMMAND: u32 = 0x04;
export const STATUS: u32 = 0x06;
export const REVISION_ID: u32 = 0x08;
export const CLASS_CODE: u32 = 0x09; // programming interface, subclass, base class
export const CACHE_LINE_SIZE: u32 = 0x0c;
export const LATENCY_TIMER: u32 = 0x0d;
export const HEADER_TYPE: u32 = 0x0e;
export const BAR0: u32 = 0x10;
export const SUBSYSTEM_VENDOR_ID: u32 = 0x2c;
export const SUBSYSTEM_ID: u32 = 0x2e;
export const CAPABILITIES_POINTER: u32 = 0x34;
export const INTERRUPT_LINE: u32 = 0x3c;
export const INTERRUPT_PIN: u32 = 0x3d;
// Capabilities go after the header, dword aligned (6.7).
export const FIRST_CAPABILITY: u32 = 0x40;

// Command register bits (6.2.2).
export const COMMAND_IO_SPACE: u16 = 1 << 0;
export const COMMAND_MEMORY_SPACE: u16 = 1 << 1;
export const COMMAND_BUS_MASTER: u16 = 1 << 2;
export const COMMAND_PARITY_ERROR_RESPONSE: u16 = 1 << 6;
export const COMMAND_SERR: u16 = 1 << 8;
export const COMMAND_INTX_DISABLE: u16 = 1 << 10;
export const COMMAND_WRITABLE: u16 = COMMAND_IO_SPACE | COMMAND_MEMORY_SPACE | COMMAND_BUS_MASTER
  | COMMAND_PARITY_ERROR_RESPONSE | COMMAND_SERR | COMMAND_INTX_DISABLE;

// Status register bits (6.2.3).
export const STATUS_INTERRUPT: u16 = 1 << 3;
export const STATUS_CAPABILITIES_LIST: u16 = 1 << 4;

// Header type bit 7: the device has functions besides function 0 (6.2.1).
export const MULTI_FUNCTION: u8 = 0x80;

export class ConfigSpace {
  private bytes: StaticArray<u8> = new StaticArray<u8>(CONFIG_SIZE);
  private writable: StaticArray<u8> = new StaticArray<u8>(CONFIG_SIZE);

  // What the driver reads: `size` bytes (1, 2 or 4) from `offset`,
  // little-endian; above the 256 bytes, zero.
  read(offset: u32, size: u8): u32 {
    // Within the space, one load: wasm memory is little-endian. (A device
    // asks too: MSI-X's enable and mask bits at every interrupt.)
    if (offset + <u32>size <= CONFIG_SIZE) {
      const p = changetype<usize>(this.bytes) + <usize>offset;
      if (size == 2) return <u32>load<u16>(p);
      if (size == 4) return load<u32>(p);
    }
    let v: u32 = 0;
    for (let i: u32 = 0; i < <u32>size; i++) {
      const at = offset + i;
      if (at < CONFIG_SIZE) v |= <u32>this.bytes[at] << (i * 8);
    }
    return v;
  }

  // What the driver writes: only the writable bits change.
  write(offset: u32, size: u8, value: u32): void {
    for (let i: u32 = 0; i < <u32>size; i++) {
      const at = offset + i;
      if (at >= CONFIG_SIZE) return;
      const mask = this.writable[at];
      this.bytes[at] = (this.bytes[at] & ~mask) | (<u8>(value >> (i * 8)) & mask);
    }
  }

  // What the function itself sets, whatever the mask says.
  set(offset: u32, size: u8, value: u32): void {
    for (let i: u32 = 0; i < <u32>size; i++) this.bytes[offset + i] = <u8>(value >> (i * 8));
  }

  // Which bits of `size` bytes at `offset` software may write.
  allowWrites(offset: u32, size: u8, mask: u32): void {
    for (let i: u32 = 0; i < <u32>size; i++) this.writable[offset + i] = <u8>(mask >> (i * 8));
  }
}
