// One VM's place on a host disk it shares with other VMs (diskarbiter.ts):
// its weight, its virtual time, and how the arbiter wakes the request it
// holds back. A VM has one for each partition of a host disk it uses.

import { Deferred } from "../devices/timers/deferred";

export const DEFAULT_WEIGHT: u32 = 100;

export class DiskShare {
  // The start tag of its next request: the cost of what it was served,
  // divided by its weight, counted on from the disk's virtual time when it
  // last came back from idle (DiskArbiter.admit()).
  virtualTime: f64 = 0;
  // The TSC of its last request's start or end; 0 once it went idle.
  lastActive: u64 = 0;
  // How long it takes to ask again after a request ends, on average (TSC
  // ticks): its think time (DiskArbiter.busy()).
  think: f64 = 0;
  // A request of its waits for its turn.
  waiting: bool = false;
  // Its requests let go and not yet ended: at the disk, or about to be.
  inFlight: i32 = 0;
  // What the arbiter runs when that turn comes: its disk device's resume
  // (devices/virtio/block.ts), the same that a budget's hold ends with.
  resume: Deferred | null = null;

  constructor(readonly weight: u32) {}
}
