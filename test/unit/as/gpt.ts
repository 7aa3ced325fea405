// Unit-test entry: the GPT parser (vmm/storage/gpt.ts) over bytes the test
// made, and its CRC32 and GUID text on their own.

import { crc32, GptPartition, guid, parseGptHeader, parsePartitions } from "../../../vmm/storage/gpt";

export const BYTES_ID = idof<Uint8Array>();

let found: GptPartition[] = [];
let entriesAt: u64 = 0;

export function crc(bytes: Uint8Array): u32 {
  return crc32(bytes);
}

export function guidText(bytes: Uint8Array, at: i32): string {
  return guid(bytes, at);
}

// LBA 1 of a disk of `blocks` blocks, then its entry array: "" if the
// table is good, else the parser's reason.
export function parse(block: Uint8Array, blocks: u64, entries: Uint8Array): string {
  found = [];
  const header = parseGptHeader(block, blocks);
  if (header.problem !== null) return header.problem!;
  entriesAt = header.entriesLba;
  const partitions = parsePartitions(header, entries);
  if (partitions === null) return header.problem!;
  found = partitions;
  return "";
}

export function entriesLba(): u64 {
  return entriesAt;
}
export function count(): i32 {
  return found.length;
}
export function index(i: i32): u32 {
  return found[i].index;
}
export function name(i: i32): string {
  return found[i].name;
}
export function guidOf(i: i32): string {
  return found[i].guid;
}
export function typeOf(i: i32): string {
  return found[i].typeGuid;
}
export function firstLba(i: i32): u64 {
  return found[i].firstLba;
}
export function lastLba(i: i32): u64 {
  return found[i].lastLba;
}
