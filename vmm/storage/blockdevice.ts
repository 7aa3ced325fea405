// A disk of the host as the hypervisor's drivers present it: a run of
// logical blocks of one size, moved by the disk's controller straight to or
// from host-physical memory. An NVMe namespace (nvme/namespace.ts) and a
// SATA disk behind an AHCI port (ahci/disk.ts) are both one; a GPT
// partition (partition.ts) and the scan of the host's disks
// (hostdisks.ts) see only this.
//
// Every transfer is one run of host-contiguous memory: a range of a
// guest's RAM (GuestMemory.translate() makes it one) or the driver's own
// buffer, through which the host reads its own data, such as the
// partition table (readInto()). A controller may not reach every address
// (addressable()): NVMe's PRP entries are dword-aligned, AHCI's data
// blocks word-aligned and, on a controller without 64-bit addressing,
// below 4 GiB.

import * as log from "../../kernel/console/log";

// The driver's own buffer, for identify data and the GPT: 16 KiB, which
// holds the usual partition entry array of 128 entries in one command.
export const BUFFER_BYTES: u64 = 16 << 10;

export abstract class BlockDevice {
  abstract get blocks(): u64;
  abstract get blockSize(): u64;
  // What it is, for a VM's disk: "NVMe", "SATA".
  abstract get kind(): string;
  // Its log line before the size: "nvme 0000:00:04.0: QEMU NVMe Ctrl, serial x, namespace 1: ".
  abstract get title(): string;
  // The unit its block size is given in: "blocks" (NVMe), "sectors" (ATA).
  abstract get unit(): string;
  // The driver's buffer of BUFFER_BYTES: its linear offset and physical address.
  abstract get buffer(): usize;
  abstract get bufferPhys(): u64;

  // Whether the controller can move `length` bytes at host-physical `phys`.
  abstract addressable(phys: u64, length: u64): bool;
  // `length` bytes (whole blocks) from block `lba` to host-physical `phys`
  // (addressable, contiguous), or from there to the disk with `write`;
  // false on an I/O error (logged).
  abstract transfer(lba: u64, phys: u64, length: u64, write: bool): bool;
  // `count` blocks from `lba` read as zeroes from now on; false if the
  // disk cannot promise that, or on an I/O error.
  abstract zero(lba: u64, count: u64): bool;
  // What was written is on non-volatile media when this returns true.
  abstract flush(): bool;

  get bytes(): u64 {
    return this.blocks * this.blockSize;
  }

  // "nvme ...: 64 MiB, 512-byte blocks", the scan's line up to the partition table.
  describe(): string {
    return this.title + log.size(this.bytes) + ", " + this.blockSize.toString() + "-byte " + this.unit;
  }

  // `out.length` bytes (whole blocks) from block `lba`, through the driver's buffer.
  readInto(lba: u64, out: Uint8Array): bool {
    const length = <u64>out.length;
    for (let done: u64 = 0; done < length;) {
      const n = min(BUFFER_BYTES, length - done);
      if (!this.transfer(lba + done / this.blockSize, this.bufferPhys, n, false)) return false;
      memory.copy(out.dataStart + <usize>done, this.buffer, <usize>n);
      done += n;
    }
    return true;
  }
}
