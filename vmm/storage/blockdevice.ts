// A disk of the host as the hypervisor's drivers present it: a run of
// logical blocks of one size, moved by the disk's controller straight to or
// from host-physical memory. An NVMe namespace (nvme/namespace.ts) and a
// SATA disk behind an AHCI port (ahci/disk.ts) are both one; a GPT
// partition (partition.ts) and the scan of the host's disks
// (hostdisks.ts) see only this.
//
// A transfer moves a list of pieces of host-contiguous memory
// (segments.ts): a guest's buffers (GuestMemory.translate() makes each one
// run) or the driver's own buffer, through which the host reads its own
// data, such as the partition table (readInto()). transfer() cuts the list
// into commands, each as long as the controller lets one command be: the
// driver says how much of the list its next command can name (cover()),
// starts it (start()), and, once it has no room for another, waits for
// those it started (finish()). A controller may not reach every
// address (addressable()): NVMe's PRP entries are dword-aligned, AHCI's
// data blocks word-aligned and, on a controller without 64-bit
// addressing, below 4 GiB.

import * as log from "../../kernel/console/log";
import { Segments } from "./segments";

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
  // Whether another command may start before those started finish.
  protected abstract get hasRoom(): bool;
  // Points the next read or write at as much of `data`, from its position
  // on, as one command can name, in whole blocks: how many bytes (0 if not
  // one whole block can be named from there).
  protected abstract cover(data: Segments): u64;
  // Starts a read or write of `blocks` from block `lba`, through what
  // cover() named; false on an I/O error (logged).
  protected abstract start(lba: u64, blocks: u64, write: bool): bool;
  // Waits for every command started: false if any failed (logged).
  protected abstract finish(): bool;
  // `count` blocks from `lba` read as zeroes from now on; false if the
  // disk cannot promise that, or on an I/O error.
  abstract zero(lba: u64, count: u64): bool;
  // What was written is on non-volatile media when this returns true.
  abstract flush(): bool;

  // A list of one piece, for transfers of the hypervisor's own memory.
  readonly single: Segments = new Segments(1);

  // `data.bytes` (whole blocks) from block `lba` on into `data`'s pieces
  // (each addressable), or from them to the disk with `write`; false on an
  // I/O error (logged), or if the pieces cannot be cut into commands of
  // whole blocks (a piece that is not, where a command must end after it).
  // Whatever fails, every command started is waited for: the controller
  // must be done with the memory before anyone may use it again.
  transfer(lba: u64, data: Segments, write: bool): bool {
    data.rewind();
    let at = lba, ok = true;
    while (ok && !data.finished) {
      if (!this.hasRoom && !this.finish()) return false;
      const n = this.cover(data), blocks = n / this.blockSize;
      ok = n != 0 && this.start(at, blocks, write);
      data.consume(n);
      at += blocks;
    }
    return this.finish() && ok;
  }

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
      if (!this.transfer(lba + done / this.blockSize, this.single.only(this.bufferPhys, n), false)) return false;
      memory.copy(out.dataStart + <usize>done, this.buffer, <usize>n);
      done += n;
    }
    return true;
  }
}
