// Unit-test helpers shared by the host disk drivers' entries (nvme.ts,
// ahci.ts): the host-disk registry (vmm/storage/hostdisks.ts) after a scan
// of the fake controller the test puts behind the shim, and one claimed
// partition as a VM's disk, with the VM's RAM in the fake physical memory.

import { initConsole } from "../../../kernel/console/console";
import { setTscPerMillisecond } from "../../../kernel/time/tsc";
import { GuestMemory } from "../../../vmm/core/guestmemory";
import { DiskBacking } from "../../../vmm/storage/backing";
import { claimError, claimPartition, scanHostDisks } from "../../../vmm/storage/hostdisks";
import { scanPci } from "../../../kernel/pci/functions";

const guest = new GuestMemory();
let disk: DiskBacking | null = null;

export function scan(guestHpa: u64, guestSize: u64): void {
  initConsole();
  guest.add(0, guestHpa, guestSize);
  // As at boot, where the timer's calibration comes first (vmm/vmm.ts): the
  // harness's TSC moves 1000 ticks a read, so at 100 a millisecond a
  // driver's waits end after a few reads.
  setTscPerMillisecond(100);
  scanHostDisks(scanPci());
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
