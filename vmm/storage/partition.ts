// A GPT partition of a host disk as a VM's disk: 512-byte sectors on the
// outside, the disk's blocks from the partition's first LBA on the inside.
// The disk is any BlockDevice: an NVMe namespace or a SATA disk; the VMs
// using its partitions share it through its arbiter (diskarbiter.ts).
//
// The virtual disk device has checked that a request lies within the disk;
// it is checked again here, since this is the last place that knows where
// the partition ends and the next one (another VM's) begins. On a disk of
// 4096-byte blocks a request must be whole blocks, at a block boundary:
// anything else fails (the guest sees an I/O error) rather than
// read-modify-write a block that the guest only partly named. The guest's
// buffer is moved by the controller itself, straight to or from the
// guest's RAM: a guest range is one run of host-contiguous memory
// (GuestMemory.translate() checks it and makes it ready), which the
// controller's descriptors (NVMe's PRP entries, AHCI's PRDT) describe.

import { GuestMemory } from "../core/guestmemory";
import { DiskBacking, SECTOR_SIZE } from "./backing";
import { BlockDevice } from "./blockdevice";
import { DiskArbiter } from "./diskarbiter";
import { GptPartition } from "./gpt";

export class PartitionDisk extends DiskBacking {
  constructor(
    readonly device: BlockDevice,
    readonly partition: GptPartition,
    readOnly: bool,
    readonly arbiter: DiskArbiter,
  ) {
    super((partition.blocks * device.blockSize) / SECTOR_SIZE, readOnly, partition.name);
  }

  get kind(): string {
    return this.device.kind + " partition";
  }

  read(offset: u64, memory: GuestMemory, gpa: u64, length: u64): bool {
    return this.transfer(offset, memory, gpa, length, false);
  }

  write(offset: u64, memory: GuestMemory, gpa: u64, length: u64): bool {
    return !this.readOnly && this.transfer(offset, memory, gpa, length, true);
  }

  flush(): bool {
    return this.readOnly || this.device.flush();
  }

  discard(offset: u64, length: u64): bool {
    if (this.readOnly || !this.inside(offset, length)) return false;
    const size = this.device.blockSize;
    return this.device.zero(this.partition.firstLba + offset / size, length / size);
  }

  // `out.length` bytes (whole blocks) at `offset`, through the driver's buffer.
  readBytes(offset: u64, out: Uint8Array): bool {
    const size = this.device.blockSize;
    return this.inside(offset, <u64>out.length) && this.device.readInto(this.partition.firstLba + offset / size, out);
  }

  // `length` bytes (whole blocks) at `offset` into the hypervisor's own
  // memory at host-physical `phys`: a kernel or initrd image read from the
  // partition (setup/bootimages.ts).
  readToHost(offset: u64, phys: u64, length: u64): bool {
    return this.move(offset, phys, length, false);
  }

  private transfer(offset: u64, memory: GuestMemory, gpa: u64, length: u64, write: bool): bool {
    if (length == 0) return this.inside(offset, length);
    const hpa = memory.translate(gpa, length);
    return hpa >= 0 && this.move(offset, <u64>hpa, length, write);
  }

  // Between the partition at `offset` and host-contiguous memory at `phys`.
  private move(offset: u64, phys: u64, length: u64, write: bool): bool {
    if (!this.inside(offset, length) || !this.device.addressable(phys, length)) return false;
    if (length == 0) return true;
    const lba = this.partition.firstLba + offset / this.device.blockSize;
    return this.device.transfer(lba, phys, length, write);
  }

  // Whether [offset, offset + length) is whole blocks inside the partition.
  private inside(offset: u64, length: u64): bool {
    const size = this.device.blockSize, bytes = this.partition.blocks * size;
    return offset % size == 0 && length % size == 0 && offset <= bytes && length <= bytes - offset;
  }
}
