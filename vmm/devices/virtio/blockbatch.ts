// The requests a virtio-blk device has taken from one of its queues and
// not yet given back (block.ts): what it must remember of each to finish
// it once the disk is done, so that the reads and writes of a whole kick
// can be at the disk together (storage/backing.ts begin()) rather than one
// after the other, while the guest runs on. A driver that queues 32
// requests and kicks once has them on the host disk as 32 commands in
// flight, counted in the batch's IoBatch until the disk has ended them
// all; when the device looks whether it has is the batch's LookSchedule.
// Each queue has a batch of its own, so a queue need not wait for
// another's to come back.
//
// Each request is known by its tag, its place here. Its outcome is either
// known when it is taken (an I/O error found before anything moved, or a
// request served at once: a flush, a discard, the device ID) or pending
// until the disk's batch ends. Nothing is allocated after construction.

import { MAX_TAGS } from "../../storage/backing";
import { IoBatch } from "../../storage/iobatch";
import { LookSchedule } from "./lookschedule";

// A pending request's status until the batch ends (5.2.6's are 0 to 2).
export const PENDING: u8 = 0xff;

export class BlockRequest {
  head: u16 = 0;
  // Where its status byte lies, guest-physical.
  statusAt: u64 = 0;
  type: u32 = 0;
  // The bytes of data it moves, and those it wrote into the guest's buffers.
  data: u64 = 0;
  written: u64 = 0;
  status: u8 = PENDING;
}

export class BlockBatch {
  count: i32 = 0;
  private requests: StaticArray<BlockRequest> = newRequests();
  // Its commands on the host disk, and the looks at them while they are there.
  readonly commands: IoBatch = new IoBatch();
  readonly looks: LookSchedule = new LookSchedule();

  get full(): bool {
    return this.count == MAX_TAGS;
  }

  // The record of the next request, to fill; its tag is count - 1 after.
  take(): BlockRequest {
    return this.requests[this.count++];
  }

  at(tag: i32): BlockRequest {
    return this.requests[tag];
  }

  clear(): void {
    this.count = 0;
  }
}

function newRequests(): StaticArray<BlockRequest> {
  const requests = new StaticArray<BlockRequest>(MAX_TAGS);
  for (let i = 0; i < MAX_TAGS; i++) requests[i] = new BlockRequest();
  return requests;
}
