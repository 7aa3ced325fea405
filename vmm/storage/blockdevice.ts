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
// data, such as the partition table (readInto()). begin() cuts the list
// into commands, each as long as the controller lets one command be: the
// driver says how much of the list its next command can name (cover()) and
// starts it (start()); once it has no room for another, it collects those
// that ended (reap()). Commands run on after begin() returns: each belongs
// to a batch (iobatch.ts), whose owner asks poll() to collect what ended
// or finish() to wait for the rest. A controller may not reach every
// address (addressable()): NVMe's PRP entries are dword-aligned, AHCI's
// data blocks word-aligned and, on a controller without 64-bit
// addressing, below 4 GiB.

import * as log from "../../kernel/console/log";
import { IoBatch } from "./iobatch";
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
  // on, as one command can name, in whole blocks, and moves the position
  // past them: how many bytes (0 if not one whole block can be named from
  // there).
  protected abstract cover(data: Segments): u64;
  // Starts a read or write of `blocks` from block `lba`, through what
  // cover() named, for request `tag` of `batch` (counted there if it
  // starts); false on an I/O error (logged).
  protected abstract start(lba: u64, blocks: u64, write: bool, batch: IoBatch, tag: i32): bool;
  // Credits every command that has ended to its batch (a failed one
  // logged); with `wait`, waits for one first if none has and any is in
  // flight. A controller that fails ends all of them, failed.
  protected abstract reap(wait: bool): void;
  // `count` blocks from `lba` read as zeroes from now on; false if the
  // disk cannot promise that, or on an I/O error.
  abstract zero(lba: u64, count: u64): bool;
  // What was written is on non-volatile media when this returns true.
  abstract flush(): bool;

  // A list of one piece, for transfers of the hypervisor's own memory,
  // and the batch of the commands it waits for itself.
  readonly single: Segments = new Segments(1);
  protected readonly own: IoBatch = new IoBatch();

  // Starts request `tag` of `batch`: `data.bytes` (whole blocks) from
  // block `lba` on into `data`'s pieces (each addressable), or from them
  // to the disk with `write`. Its commands may still run when this
  // returns; `data` is done with. False if it failed at once: an I/O error
  // (logged), or pieces that cannot be cut into commands of whole blocks
  // (a piece that is not, where a command must end after it).
  begin(lba: u64, data: Segments, write: bool, batch: IoBatch, tag: i32): bool {
    data.rewind();
    for (let at = lba; !data.finished;) {
      if (!this.hasRoom) {
        this.reap(true);
        if (batch.hasFailed(tag)) return false; // no more of a request that failed
      }
      const n = this.cover(data), blocks = n / this.blockSize;
      if (n == 0 || !this.start(at, blocks, write, batch, tag)) return false;
      at += blocks;
    }
    return true;
  }

  // Credits the commands that have ended to their batches, waiting for none.
  poll(): void {
    this.reap(false);
  }

  // Waits for `batch`'s commands in flight: bit `tag` set for each of its
  // requests that failed; the batch is empty again. Whatever failed, the
  // controller is done with the batch's memory when this returns, which
  // nobody may use again before.
  finish(batch: IoBatch): u64 {
    while (!batch.done) this.reap(true);
    return batch.take();
  }

  // One request, begun and waited for: false on an I/O error.
  transfer(lba: u64, data: Segments, write: bool): bool {
    const started = this.begin(lba, data, write, this.own, 0);
    return this.finish(this.own) == 0 && started;
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
