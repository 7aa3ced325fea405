// Unit-test helpers shared by the host disk drivers' entries (nvme.ts,
// ahci.ts): the host-disk registry (vmm/storage/hostdisks.ts) after a scan
// of the fake controller the test puts behind the shim, one claimed
// partition as a VM's disk, with the VM's RAM in the fake physical memory,
// and partitions as VMs' kernels.

import { initConsole } from "../../../kernel/console/console";
import { setTscPerMillisecond } from "../../../kernel/time/tsc";
import { GuestMemory } from "../../../vmm/core/guestmemory";
import { DiskBacking } from "../../../vmm/storage/backing";
import { IoBatch } from "../../../vmm/storage/iobatch";
import { Segments } from "../../../vmm/storage/segments";
import { claimError, claimPartition, scanHostDisks } from "../../../vmm/storage/hostdisks";
import { scanPci } from "../../../kernel/pci/functions";
import { FrameAllocator } from "../../../kernel/mm/frames";
import { Range } from "../../../kernel/mm/range";
import { imageError, VmBootImages, vmBootImages } from "../../../vmm/setup/bootimages";
import { OWN_SOURCE } from "../../../vmm/core/bootoverride";
import { BootSourceConfig } from "../../../vmm/setup/config/bootsources";
import { VmConfig } from "../../../vmm/setup/config/config";
import { ImageSource } from "../../../vmm/setup/loaders/source";

const guest = new GuestMemory();
let disk: DiskBacking | null = null;
const pieces = new Segments(64);
const batch = new IoBatch();

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
// A request's data as the virtio-blk device hands it on: pieces of the
// VM's RAM, in order (vmm/storage/segments.ts).
export function clearPieces(): void {
  pieces.clear();
}
// False if the range is not all RAM.
export function addPiece(gpa: u64, length: u64): bool {
  const hpa = guest.translate(gpa, length);
  return hpa >= 0 && pieces.add(<u64>hpa, length);
}
export function transferPieces(offset: u64, write: bool): bool {
  return disk!.transfer(offset, pieces, write);
}
// The pieces as request `tag` of the test's batch, left in flight.
export function beginPieces(offset: u64, write: bool, tag: i32): bool {
  return disk!.begin(offset, pieces, write, batch, tag);
}
// The batch's commands still in flight after a look at the controller.
export function pollBatch(): i32 {
  disk!.poll();
  return batch.commands;
}
export function finishBatch(): u64 {
  return disk!.finish(batch);
}
export function read(offset: u64, gpa: u64, length: u64): bool {
  clearPieces();
  return addPiece(gpa, length) && transferPieces(offset, false);
}
export function write(offset: u64, gpa: u64, length: u64): bool {
  clearPieces();
  return addPiece(gpa, length) && transferPieces(offset, true);
}
export function discard(offset: u64, length: u64): bool {
  return disk!.discard(offset, length);
}
export function flushDisk(): bool {
  return disk!.flush();
}

// Kernel images on partitions (vmm/setup/bootimages.ts): the kernel of
// `owner`'s VM claimed from a partition, read into frames of the range
// bootFrames() gives.
let frames = new FrameAllocator([]);
const owners: string[] = [];
const claims: VmBootImages[] = [];
let image: ImageSource | null = null;

export function bootFrames(start: u64, end: u64): void {
  frames = new FrameAllocator([new Range(start, end)]);
}
export function freeFrames(): u64 {
  return frames.freeFrames;
}
// The partition as the kernel of "vm OWNER", `size` bytes of it (0: as its header says); false, with bootError().
export function bootClaim(partition: string, size: u32, owner: string): bool {
  const c = new VmConfig();
  c.sources.push(new BootSourceConfig(OWN_SOURCE));
  c.own.kernel.partition = partition;
  c.own.kernel.size = size;
  const images = vmBootImages(c, [], "vm " + owner);
  if (images === null) return false;
  owners.push(owner);
  claims.push(images[0]);
  return true;
}
export function bootError(): string {
  return imageError;
}
// The last claim's kernel, read for a VM of `limit` bytes of RAM: its
// length, or -1 with bootReadError().
export function bootRead(limit: u64): i64 {
  image = claims[claims.length - 1].kernel.open(frames, limit);
  return image !== null ? <i64>image!.size : -1;
}
export function bootReadError(): string {
  return claims[claims.length - 1].kernel.error;
}
export function bootByte(offset: u64): u8 {
  return image!.readU8(offset);
}
export function bootClose(): void {
  claims[claims.length - 1].kernel.close(frames);
  image = null;
}
// `owner`'s VM is destroyed: its kernel's partition is free of it.
export function bootRelease(owner: string): void {
  const i = owners.indexOf(owner);
  claims[i].release();
  owners.splice(i, 1);
  claims.splice(i, 1);
}
