// What the Identify command returns, read from its 4 KiB of bytes (NVM
// Express Base Specification 1.4, 5.15.2.1 "Identify Controller data
// structure", 5.15.2.2 "Identify Namespace data structure" in 5.15). Pure
// functions over bytes, so unit tests can feed them made-up structures.

import { asciiField } from "../ascii";
import { readLittleEndian } from "../littleendian";

export class ControllerIdentity {
  constructor(
    readonly model: string,
    readonly serial: string,
    // The largest transfer, in memory pages as a power of two; 0: no limit (MDTS).
    readonly maxTransferLog2: u8,
    // The smallest submission and completion queue entries it takes, as powers of two (SQES, CQES bits 3-0).
    readonly submissionEntryLog2: u8,
    readonly completionEntryLog2: u8,
    readonly namespaceCount: u32,
    // Whether it has the Write Zeroes command (ONCS bit 3).
    readonly writeZeroes: bool,
  ) {}
}

export function parseController(b: Uint8Array): ControllerIdentity {
  return new ControllerIdentity(
    asciiField(b, 24, 40),
    asciiField(b, 4, 20),
    b[77],
    b[512] & 0xf,
    b[513] & 0xf,
    <u32>readLittleEndian(b, 516, 4),
    (b[520] & (1 << 3)) != 0,
  );
}

export class NamespaceFormat {
  constructor(
    readonly blocks: u64, // NSZE
    readonly blockSize: u32, // 2^LBADS of the format in use
    readonly metadataBytes: u32, // MS of that format
    // A deallocated block reads as zeroes and Write Zeroes may deallocate (DLFEAT = 1001b).
    readonly zeroesDeallocate: bool,
  ) {}
}

export function parseNamespace(b: Uint8Array): NamespaceFormat {
  // FLBAS bits 3-0 pick one of the 16 LBA formats, 4 bytes each from byte 128.
  const format = 128 + 4 * <i32>(b[26] & 0xf);
  const lbads = b[format + 2];
  return new NamespaceFormat(
    readLittleEndian(b, 0, 8),
    lbads < 32 ? <u32>1 << lbads : 0,
    <u32>readLittleEndian(b, format, 2),
    (b[33] & 0xf) == 0b1001,
  );
}

// The namespace IDs of an active namespace list (CNS 02h): ascending, 0 ends it.
export function parseNamespaceList(b: Uint8Array): u32[] {
  const ids: u32[] = [];
  for (let at = 0; at + 4 <= b.length; at += 4) {
    const id = <u32>readLittleEndian(b, at, 4);
    if (id == 0) break;
    ids.push(id);
  }
  return ids;
}
