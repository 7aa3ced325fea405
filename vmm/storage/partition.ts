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
// buffers are moved by the controller itself, straight to or from the
// guest's RAM: each is one run of host-contiguous memory
// (GuestMemory.translate() checks it and makes it ready), and the
// controller's descriptors (NVMe's PRP entries, AHCI's PRDT) name several
// of them in one command (segments.ts).

import { DiskBacking, SECTOR_SIZE } from "./backing";
import { BlockDevice } from "./blockdevice";
import { DiskArbiter } from "./diskarbiter";
import { GptPartition } from "./gpt";
import { IoBatch } from "./iobatch";
import { Segments } from "./segments";

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

  begin(offset: u64, data: Segments, write: bool, batch: IoBatch, tag: i32): bool {
    return !(write && this.readOnly) && this.move(offset, data, write, batch, tag);
  }

  poll(): void {
    this.device.poll();
  }

  finish(batch: IoBatch): u64 {
    return this.device.finish(batch);
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
    return this.transfer(offset, this.device.single.only(phys, length), false);
  }

  // Starts request `tag` of `batch` between the partition from `offset` on and `data`'s pieces.
  private move(offset: u64, data: Segments, write: bool, batch: IoBatch, tag: i32): bool {
    if (!this.inside(offset, data.bytes)) return false;
    for (let i = 0; i < data.count; i++) {
      if (!this.device.addressable(data.physOf(i), data.lengthOf(i))) return false;
    }
    return data.bytes == 0
      || this.device.begin(this.partition.firstLba + offset / this.device.blockSize, data, write, batch, tag);
  }

  // Whether [offset, offset + length) is whole blocks inside the partition.
  private inside(offset: u64, length: u64): bool {
    const size = this.device.blockSize, bytes = this.partition.blocks * size;
    return offset % size == 0 && length % size == 0 && offset <= bytes && length <= bytes - offset;
  }
}
