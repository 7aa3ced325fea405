// Unit-test entry: a VM's RAM made ready lazily (vmm/core/guestmemory.ts).
// The test fills fake physical memory with garbage, then reads and writes
// through GuestMemory, and sees which chunks were zeroed and handed to the
// nested tables (a recording RamMapper).

import { GuestMemory, RamMapper } from "../../../vmm/core/guestmemory";
import { PhysImageSource } from "../../../vmm/setup/loaders/source";

class Recorder extends RamMapper {
  gpas: u64[] = [];
  sizes: u64[] = [];
  mapRam(gpa: u64, hpa: u64, size: u64): void {
    this.gpas.push(gpa);
    this.sizes.push(size);
  }
}

let memory = new GuestMemory();
let recorder = new Recorder();

export function reset(gpa: u64, hpa: u64, size: u64, lazy: bool): void {
  memory = new GuestMemory();
  memory.add(gpa, hpa, size, lazy);
  recorder = new Recorder();
}
export function attach(): void {
  memory.attach(recorder);
}
export function translate(gpa: u64, length: u64): i64 {
  return memory.translate(gpa, length);
}
export function prepareForGuest(gpa: u64): bool {
  return memory.prepareForGuest(gpa);
}
export function copyFromHost(gpa: u64, hostPhys: u64, length: u64): bool {
  return memory.copyFromHost(gpa, hostPhys, length);
}
// A loader's copy of `length` bytes of an image at `hostPhys`: a boot
// module (`lasting`) or a buffer read from a disk partition.
export function copyImage(gpa: u64, hostPhys: u64, length: u64, lasting: bool): bool {
  return new PhysImageSource(hostPhys, length, lasting).copyToGuest(memory, gpa, 0, length);
}
export function zero(): void {
  memory.zero();
}
export function mapCount(): i32 {
  return recorder.gpas.length;
}
export function mapGpa(i: i32): u64 {
  return recorder.gpas[i];
}
export function mapSize(i: i32): u64 {
  return recorder.sizes[i];
}
// Bytes first, first + 1, ... from a buffer of the hypervisor's into guest
// RAM; and the sum of `length` bytes copied back out, -1 if refused.
export function copyIn(gpa: u64, length: i32, first: u8): bool {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = first + <u8>i;
  return memory.copyLinear(gpa, bytes.dataStart, <u64>length, true);
}
export function copyOutSum(gpa: u64, length: i32): i32 {
  const bytes = new Uint8Array(length);
  if (!memory.copyLinear(gpa, bytes.dataStart, <u64>length, false)) return -1;
  let sum = 0;
  for (let i = 0; i < length; i++) sum += bytes[i];
  return sum;
}
