// What stands behind a VM's disk: a RAM disk from a boot module, or a
// partition of a host disk (NVMe, AHCI). A virtual disk device
// (devices/virtio/block.ts) sees only this: a number of 512-byte sectors,
// whether it may write, and transfers between the disk and guest RAM.
//
// Offsets and lengths are in bytes and whole sectors; the device has
// checked that a transfer lies within the disk before it asks.

import { IoBatch } from "./iobatch";
import { Segments } from "./segments";

export const SECTOR_SIZE: u64 = 512;

export abstract class DiskBacking {
  // `sectors` of SECTOR_SIZE bytes; `serial` is what the guest reads as
  // the disk's identity (at most 20 bytes are shown).
  constructor(readonly sectors: u64, readonly readOnly: bool, readonly serial: string) {}

  // What it is, for the log: "RAM", "NVMe partition".
  abstract get kind(): string;

  // Starts moving `data.bytes` of the disk from `offset` on into `data`'s
  // pieces of host memory (a guest's RAM, made ready), or from there to
  // the disk with `write`, as request `tag` (below MAX_TAGS) of `batch`:
  // the controller may still be at work when this returns, and `data` may
  // be used again. False if it failed at once (a piece the controller
  // cannot reach, a write to a read-only disk); what did start is still
  // counted in the batch.
  abstract begin(offset: u64, data: Segments, write: bool, batch: IoBatch, tag: i32): bool;
  // Credits the commands that have ended to their batches, waiting for
  // none: `batch.done` then says whether its owner may give its requests back.
  abstract poll(): void;
  // Waits for `batch`'s commands: bit `tag` set for each request that
  // failed (the medium failed, or the controller did); the batch is
  // empty again, and its memory the controller's no longer.
  abstract finish(batch: IoBatch): u64;
  // Whatever was written is on stable storage when this returns true.
  abstract flush(): bool;
  // The range's contents may be dropped; it reads as zeroes afterwards.
  abstract discard(offset: u64, length: u64): bool;

  // One request, begun and waited for: false on an I/O error.
  transfer(offset: u64, data: Segments, write: bool): bool {
    const own = this.own, started = this.begin(offset, data, write, own, 0);
    return this.finish(own) == 0 && started;
  }

  private own: IoBatch = new IoBatch();
}

// How many requests one batch may hold: IoBatch.failed's bits.
export const MAX_TAGS: i32 = 64;
