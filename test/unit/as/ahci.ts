// Unit-test entry: the AHCI driver (vmm/storage/ahci/). Its FIS and PRDT
// construction and IDENTIFY parsing on their own; then the whole driver,
// through the host-disk registry (hostdisks.ts here), against the fake
// HBA and PCI bus the test puts behind the shim.

import { allocPage, physOf } from "../../../kernel/mm/linearpages";
import {
  AtaCommand,
  flushCacheExt,
  fpdmaQueued,
  identifyDevice,
  readLogExt,
  readWriteDmaExt,
  trim,
} from "../../../vmm/storage/ahci/command";
import { parseIdentify } from "../../../vmm/storage/ahci/identify";
import { PrdTable } from "../../../vmm/storage/ahci/prdt";
import { Segments } from "../../../vmm/storage/segments";

const command = new AtaCommand();
const page = allocPage();
const table = new PrdTable(page);
const pieces = new Segments(8);

export function pagePhys(): u64 {
  return physOf(page);
}
// 0: READ/WRITE DMA EXT, 1: IDENTIFY DEVICE, 2: FLUSH CACHE EXT, 3: TRIM,
// 4: READ/WRITE FPDMA QUEUED with tag 5, 5: READ LOG EXT of log `lba`;
// then the FIS at the page's start, for fisByte().
export function buildFis(kind: i32, write: bool, lba: u64, count: u32): void {
  if (kind == 0) readWriteDmaExt(command, write, lba, count);
  else if (kind == 1) identifyDevice(command);
  else if (kind == 2) flushCacheExt(command);
  else if (kind == 3) trim(command, <u16>count);
  else if (kind == 4) fpdmaQueued(command, write, lba, count, 5);
  else readLogExt(command, lba);
  command.writeFis(page);
}
export function fisByte(i: i32): u8 {
  return load<u8>(page + <usize>i);
}
export function describeCommand(): string {
  return command.toString();
}
// PRD entries for `length` bytes at `phys`, from the page's start: how many.
export function prdt(phys: u64, length: u64): u32 {
  table.describe(pieces.only(phys, length), length, 2);
  return table.entries;
}
export function prdWord(entry: i32, dword: i32): u32 {
  return load<u32>(page + <usize>(entry * 16 + dword * 4));
}
// IDENTIFY data the test wrote at the page's start, parsed.
export function identifyText(): string {
  const bytes = new Uint8Array(512);
  memory.copy(bytes.dataStart, page, 512);
  const id = parseIdentify(bytes);
  return id.model + "|" + id.serial + "|" + id.lba48.toString() + "|" + id.sectors.toString() + "|"
    + id.sectorSize.toString() + "|" + id.trimZeroes.toString() + "|" + id.maxTrimBlocks.toString() + "|"
    + id.queueDepth.toString();
}

export * from "./hostdisks";
