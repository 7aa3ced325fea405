// Unit-test entry: a VM's RAM made ready lazily (vmm/core/guestmemory.ts).
// The test fills fake physical memory with garbage, then reads and writes
// through GuestMemory, and sees which chunks were zeroed and handed to the
// nested tables (a recording RamMapper).

import { GuestMemory, RamMapper } from "../../../vmm/core/guestmemory";

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
