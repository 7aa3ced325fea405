// Unit-test entry: the NVMe driver (vmm/storage/nvme/). Its command
// builders and PRP construction on their own; then the whole driver,
// through the host-disk registry (vmm/storage/hostdisks.ts), against the
// fake controller and PCI bus the test puts behind the shim, with a VM's
// RAM in the fake physical memory.

import { physOf, allocPage } from "../../../kernel/mm/linearpages";
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
import { DataPointer } from "../../../vmm/storage/nvme/prp";
import { Segments } from "../../../vmm/storage/segments";

const command = new Command();
const list = allocPage();
const pointer = new DataPointer(list, physOf(list));
const pieces = new Segments(8);

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
// The pointer put into the command, as the controller puts it.
function point(): void {
  pointer.apply(command);
}
export function prp(phys: u64, length: u64): void {
  pointer.describe(pieces.only(phys, length), length, 1);
  point();
}
// A request's pieces at host-physical addresses, for prpNext().
export function prpClear(): void {
  pieces.clear();
}
export function prpAdd(phys: u64, length: u64): void {
  pieces.add(phys, length);
}
// The next command's pointer, from where the last one ended (describe()
// moves the position past what it names): its bytes.
export function prpNext(most: u64, unit: u64): u64 {
  const bytes = pointer.describe(pieces, most, unit);
  point();
  return bytes;
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

export * from "./hostdisks";
