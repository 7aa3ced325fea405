// Unit-test entry: the NVMe driver (vmm/storage/nvme/). Its command
// builders and PRP construction on their own; then the whole driver,
// through the host-disk registry (vmm/storage/hostdisks.ts), against the
// fake controller and PCI bus the test puts behind the shim, with a VM's
// RAM in the fake physical memory.

import { initConsole } from "../../../kernel/console/console";
import { physOf, allocPage } from "../../../kernel/mm/linearpages";
import { GuestMemory } from "../../../vmm/core/guestmemory";
import { DiskBacking } from "../../../vmm/storage/backing";
import { claimError, claimPartition, scanHostDisks } from "../../../vmm/storage/hostdisks";
import {
  Command,
  createCompletionQueue,
  createSubmissionQueue,
  flush,
  identify,
  IdentifyWhat,
  readWrite,
  setQueueCount,
  writeZeroes,
} from "../../../vmm/storage/nvme/command";
import { setDataPointer } from "../../../vmm/storage/nvme/prp";
import { calibrateTsc } from "../../../kernel/time/tsc";

const command = new Command();
const list = allocPage();

export function dword(i: i32): u32 {
  return command.dwords[i];
}
export function buildReadWrite(write: bool, nsid: u32, lba: u64, blocks: u32): void {
  readWrite(command, write, nsid, lba, blocks);
}
export function buildIdentify(what: IdentifyWhat, nsid: u32): void {
  identify(command, what, nsid);
}
export function buildCompletionQueue(id: u16, entries: u32, phys: u64): void {
  createCompletionQueue(command, id, entries, phys);
}
export function buildSubmissionQueue(id: u16, entries: u32, phys: u64, cq: u16): void {
  createSubmissionQueue(command, id, entries, phys, cq);
}
export function buildWriteZeroes(nsid: u32, lba: u64, blocks: u32, deallocate: bool): void {
  writeZeroes(command, nsid, lba, blocks, deallocate);
}
export function buildFlush(nsid: u32): void {
  flush(command, nsid);
}
export function buildQueueCount(pairs: u32): void {
  setQueueCount(command, pairs);
}

export function listPhys(): u64 {
  return physOf(list);
}
export function prp(phys: u64, length: u64): void {
  setDataPointer(command, phys, length, list, physOf(list));
}
export function prp1(): u64 {
  return command.prp1;
}
export function prp2(): u64 {
  return command.prp2;
}
export function listEntry(i: i32): u64 {
  return load<u64>(list + <usize>i * 8);
}

const guest = new GuestMemory();
let disk: DiskBacking | null = null;

export function scan(guestHpa: u64, guestSize: u64): void {
  initConsole();
  guest.add(0, guestHpa, guestSize);
  // As at boot, where the timer's calibration comes first (vmm/vmm.ts).
  calibrateTsc();
  scanHostDisks();
}
// The partition as the disk of "vm test"; false, with openError(), if it cannot be had.
export function open(nameOrGuid: string, readOnly: bool): bool {
  disk = claimPartition(nameOrGuid, readOnly, "vm test");
  return disk !== null;
}
export function openError(): string {
  return claimError;
}
export function sectors(): u64 {
  return disk!.sectors;
}
export function describe(): string {
  return disk!.kind + " " + disk!.serial;
}
export function read(offset: u64, gpa: u64, length: u64): bool {
  return disk!.read(offset, guest, gpa, length);
}
export function write(offset: u64, gpa: u64, length: u64): bool {
  return disk!.write(offset, guest, gpa, length);
}
export function discard(offset: u64, length: u64): bool {
  return disk!.discard(offset, length);
}
export function flushDisk(): bool {
  return disk!.flush();
}
