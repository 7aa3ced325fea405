// The GUID Partition Table of a disk, read from its bytes (UEFI
// Specification 2.10, 5.3 "GUID Partition Table (GPT) Disk Layout").
//
// The primary header sits in LBA 1: the signature "EFI PART", its own size
// and CRC32, where it is (MyLBA), the usable LBAs, and where the array of
// partition entries lies, with that array's CRC32. Each entry of the array
// gives a partition's type and unique GUIDs, its first and last LBA
// (inclusive) and a name of up to 36 UTF-16LE code units; an entry whose
// type GUID is zero is unused. Both steps are pure functions over bytes,
// for the unit tests: parseGptHeader() over LBA 1, then parsePartitions()
// over the entry array it locates. A table that fails any check is not
// used at all, and says why; the backup table at the disk's end is not
// read (a disk whose primary table is damaged needs repair first).

import { readLittleEndian } from "./littleendian";

const SIGNATURE = "EFI PART";
const HEADER_MIN: u32 = 92; // the header's defined fields (5.3.2)
const ENTRY_MIN: u32 = 128; // an entry is 128 x 2^n bytes (5.3.2)
const NAME_UNITS: i32 = 36;
// The most entry array bytes accepted: 32 times the usual 16 KiB.
export const MAX_ENTRY_ARRAY: u64 = 512 << 10;

export class GptPartition {
  constructor(
    readonly index: u32, // 1-based position in the entry array
    readonly name: string,
    readonly typeGuid: string,
    readonly guid: string,
    readonly firstLba: u64,
    readonly lastLba: u64, // inclusive
  ) {}

  get blocks(): u64 {
    return this.lastLba - this.firstLba + 1;
  }
}

export class GptHeader {
  problem: string | null = null;
  firstUsable: u64 = 0;
  lastUsable: u64 = 0;
  entriesLba: u64 = 0;
  entryCount: u32 = 0;
  entrySize: u32 = 0;
  entriesCrc: u32 = 0;

  // The bytes of the entry array, to read from entriesLba.
  get entryBytes(): u64 {
    return <u64>this.entryCount * this.entrySize;
  }
}

// Checks the header in `block`, LBA 1 of a disk of `blocks` blocks of
// `block.length` bytes; `problem` says why it is not a usable GPT.
export function parseGptHeader(block: Uint8Array, blocks: u64): GptHeader {
  const h = new GptHeader();
  h.problem = headerProblem(h, block, blocks);
  return h;
}

function headerProblem(h: GptHeader, b: Uint8Array, blocks: u64): string | null {
  for (let i = 0; i < SIGNATURE.length; i++) {
    if (b[i] != <u8>SIGNATURE.charCodeAt(i)) return "no GPT (no \"EFI PART\" signature in LBA 1)";
  }
  const size = <u32>readLittleEndian(b, 12, 4);
  if (size < HEADER_MIN || size > <u32>b.length) return "GPT header size " + size.toString() + " is invalid";
  // HeaderCRC32 covers HeaderSize bytes, itself counted as zero.
  const copy = b.slice(0, <i32>size);
  copy.fill(0, 16, 20);
  if (crc32(copy) != <u32>readLittleEndian(b, 16, 4)) return "GPT header CRC32 does not match";
  if (readLittleEndian(b, 24, 8) != 1) {
    return "GPT header in LBA 1 says it is at LBA " + readLittleEndian(b, 24, 8).toString();
  }
  h.firstUsable = readLittleEndian(b, 40, 8);
  h.lastUsable = readLittleEndian(b, 48, 8);
  h.entriesLba = readLittleEndian(b, 72, 8);
  h.entryCount = <u32>readLittleEndian(b, 80, 4);
  h.entrySize = <u32>readLittleEndian(b, 84, 4);
  h.entriesCrc = <u32>readLittleEndian(b, 88, 4);
  if (h.firstUsable > h.lastUsable || h.lastUsable >= blocks) return "GPT usable LBAs lie outside the disk";
  if (h.entrySize < ENTRY_MIN || !isPowerOf2(h.entrySize)) {
    return "GPT partition entry size " + h.entrySize.toString() + " is invalid";
  }
  if (h.entryBytes > MAX_ENTRY_ARRAY) {
    return "GPT partition entry array of " + h.entryBytes.toString() + " bytes is too large";
  }
  const arrayBlocks = (h.entryBytes + <u64>b.length - 1) / <u64>b.length;
  if (h.entriesLba < 2 || h.entriesLba >= blocks || arrayBlocks > blocks - h.entriesLba) {
    return "GPT partition entry array lies outside the disk";
  }
  return null;
}

// The partitions of `entries` (the array `h` locates, at least
// h.entryBytes long), or null with h.problem saying why there are none.
export function parsePartitions(h: GptHeader, entries: Uint8Array): GptPartition[] | null {
  if (crc32(entries.subarray(0, <i32>h.entryBytes)) != h.entriesCrc) {
    h.problem = "GPT partition entry array CRC32 does not match";
    return null;
  }
  const found: GptPartition[] = [];
  for (let i: u32 = 0; i < h.entryCount; i++) {
    const at = <i32>(i * h.entrySize);
    if (isZero(entries, at, 16)) continue;
    const first = readLittleEndian(entries, at + 32, 8), last = readLittleEndian(entries, at + 40, 8);
    const p = new GptPartition(i + 1, name(entries, at + 56), guid(entries, at), guid(entries, at + 16), first, last);
    h.problem = partitionProblem(h, p, found);
    if (h.problem !== null) return null;
    found.push(p);
  }
  return found;
}

// Partitions lie within the usable LBAs and never overlap (5.3.3).
function partitionProblem(h: GptHeader, p: GptPartition, before: GptPartition[]): string | null {
  const what = "GPT partition " + p.index.toString();
  if (p.firstLba > p.lastLba || p.firstLba < h.firstUsable || p.lastLba > h.lastUsable) {
    return what + " lies outside the usable LBAs";
  }
  for (let i = 0; i < before.length; i++) {
    const q = before[i];
    if (p.firstLba <= q.lastLba && q.firstLba <= p.lastLba) return what + " overlaps partition " + q.index.toString();
  }
  return null;
}

// CRC32 of IEEE 802.3, as UEFI uses it: the reflected polynomial
// 0xEDB88320, starting from all ones, the result inverted.
export function crc32(bytes: Uint8Array): u32 {
  let crc: u32 = 0xffff_ffff;
  for (let i = 0; i < bytes.length; i++) {
    crc ^= bytes[i];
    for (let bit = 0; bit < 8; bit++) crc = (crc >>> 1) ^ (0xedb8_8320 & (0 - (crc & 1)));
  }
  return ~crc;
}

// A GUID in its text form (UEFI Appendix A): the first three fields are
// stored little-endian, the last two as bytes in order.
// "0FC63DAF-8483-4772-8E79-3D69D8477DE4".
export function guid(b: Uint8Array, at: i32): string {
  return hex(<u32>readLittleEndian(b, at, 4), 8) + "-" + hex(<u32>readLittleEndian(b, at + 4, 4) & 0xffff, 4) + "-"
    + hex(<u32>readLittleEndian(b, at + 6, 4) & 0xffff, 4) + "-"
    + bytesHex(b, at + 8, 2) + "-" + bytesHex(b, at + 10, 6);
}

// The partition name: UTF-16LE code units up to the first NUL.
function name(b: Uint8Array, at: i32): string {
  let text = "";
  for (let i = 0; i < NAME_UNITS; i++) {
    const unit = <i32>b[at + 2 * i] | (<i32>b[at + 2 * i + 1] << 8);
    if (unit == 0) break;
    text += String.fromCharCode(unit);
  }
  return text;
}

function hex(v: u32, digits: i32): string {
  return v.toString(16).toUpperCase().padStart(digits, "0");
}

function bytesHex(b: Uint8Array, at: i32, count: i32): string {
  let text = "";
  for (let i = 0; i < count; i++) text += hex(b[at + i], 2);
  return text;
}

function isZero(b: Uint8Array, at: i32, count: i32): bool {
  for (let i = 0; i < count; i++) if (b[at + i] != 0) return false;
  return true;
}

function isPowerOf2(v: u32): bool {
  return (v & (v - 1)) == 0;
}
