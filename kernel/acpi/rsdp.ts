// Finding the ACPI Root System Description Pointer.
//
// Multiboot 2 loaders hand us a copy; under multiboot 1 we search where the
// ACPI specification says a BIOS puts it: the first KiB of the Extended BIOS
// Data Area, then the read-only BIOS area 0xE0000-0xFFFFF, on 16-byte
// boundaries (ACPI 6.5, 5.2.5.1 "Finding the RSDP on IA-PC Systems").

import { physRead8, physRead16, physRead32, physRead64 } from "../arch/shim";

export class Rsdp {
  constructor(
    public address: u64,
    public revision: u8,
    public oemId: string,
    public tableAddress: u64,
    public extended: bool,
  ) {}
}

const SIGNATURE_LOW: u32 = 0x20445352; // "RSD "
const SIGNATURE_HIGH: u32 = 0x20525450; // "PTR "

export function findRsdp(hint: u64): Rsdp | null {
  if (hint != 0) return readRsdp(hint);
  const ebda = <u64>physRead16(0x40e) << 4;
  if (ebda >= 0x80000 && ebda < 0xa0000) {
    const found = scan(ebda, ebda + 1024);
    if (found !== null) return found;
  }
  return scan(0xe0000, 0x100000);
}

function scan(start: u64, end: u64): Rsdp | null {
  for (let a = start; a < end; a += 16) {
    if (physRead32(a) == SIGNATURE_LOW && physRead32(a + 4) == SIGNATURE_HIGH) {
      const rsdp = readRsdp(a);
      if (rsdp !== null) return rsdp;
    }
  }
  return null;
}

// Validates the checksums (20 bytes for ACPI 1.0, `length` bytes for 2.0+).
function readRsdp(a: u64): Rsdp | null {
  if (physRead32(a) != SIGNATURE_LOW || physRead32(a + 4) != SIGNATURE_HIGH) return null;
  if (checksum(a, 20) != 0) return null;
  const revision = physRead8(a + 15);
  let oem = "";
  for (let i: u64 = 0; i < 6; i++) oem += String.fromCharCode(physRead8(a + 9 + i));
  if (revision >= 2) {
    const length = physRead32(a + 20);
    if (length < 36 || length > 4096 || checksum(a, length) != 0) return null;
    return new Rsdp(a, revision, oem.trim(), physRead64(a + 24), true);
  }
  return new Rsdp(a, revision, oem.trim(), <u64>physRead32(a + 16), false);
}

function checksum(a: u64, length: u32): u8 {
  let sum: u8 = 0;
  for (let i: u32 = 0; i < length; i++) sum += physRead8(a + <u64>i);
  return sum;
}
