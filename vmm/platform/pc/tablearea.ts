// The buffer in which acpitables.ts builds a VM's ACPI tables: the bytes
// of a range of guest-physical addresses, kept in the hypervisor's own
// memory until they are complete and then copied into the VM's RAM at once.
// Tables are written field by field, each field little-endian, at the
// guest-physical addresses the tables will have, so that the addresses
// tables give of each other are the ones they are written at.

import { GuestMemory } from "../../core/guestmemory";
import { writeLittleEndian } from "../../storage/littleendian";

export class TableArea {
  private bytes: Uint8Array;

  // [base, base + size) of guest-physical memory, all zeroes to start.
  constructor(private base: u64, size: u64) {
    this.bytes = new Uint8Array(<i32>size);
  }

  write8(gpa: u64, v: u8): void {
    this.bytes[this.offset(gpa)] = v;
  }
  write16(gpa: u64, v: u16): void {
    writeLittleEndian(this.bytes, this.offset(gpa), 2, v);
  }
  write32(gpa: u64, v: u32): void {
    writeLittleEndian(this.bytes, this.offset(gpa), 4, v);
  }
  write64(gpa: u64, v: u64): void {
    writeLittleEndian(this.bytes, this.offset(gpa), 8, v);
  }

  writeBytes(gpa: u64, bytes: Uint8Array): void {
    this.bytes.set(bytes, this.offset(gpa));
  }

  // One character a byte: the signatures and IDs, all ASCII.
  writeChars(gpa: u64, text: string): void {
    const at = this.offset(gpa);
    for (let i = 0; i < text.length; i++) this.bytes[at + i] = <u8>text.charCodeAt(i);
  }

  // The byte that makes `length` bytes from `gpa` sum to zero (mod 256).
  checksum(gpa: u64, length: u32): u8 {
    const at = this.offset(gpa);
    let sum: u8 = 0;
    for (let i = 0; i < <i32>length; i++) sum += this.bytes[at + i];
    return <u8>(0 - sum);
  }

  // The finished tables into the VM's RAM, over whatever it held there.
  copyInto(memory: GuestMemory): void {
    memory.copyLinear(this.base, this.bytes.dataStart, <u64>this.bytes.length, true);
  }

  // Where `gpa` is in the buffer. A table past the area's end is the VMM's
  // bug, and traps: the typed array checks every index.
  private offset(gpa: u64): i32 {
    return <i32>(gpa - this.base);
  }
}
