// Proportional sharing of one host disk among the VMs that use its
// partitions: over any time in which several of them keep the disk busy,
// each is served in proportion to its weight (diskshare.ts), and what an
// idle VM leaves goes to the others.
//
// Start-time fair queueing. A request costs its bytes plus OPERATION_BYTES
// (the cost is known before it starts, unlike the disk time it takes, and
// does not count the host's preemptions or the hypervisor lock's waits),
// and moves its VM's virtual time on by cost / weight. A request may start
// when its VM's virtual time is not ahead of any other busy VM's; one that
// is ahead waits, held by its device, until the others catch up (their
// requests end: finished() wakes it at once, on the CPU that served them)
// or stop being busy (its device's resume comes due: wakeAt()). A VM is
// busy while a request of its waits, while one is at the disk (its device
// gives a batch back once the disk has ended it all, while the guest runs
// on: devices/virtio/block.ts) up to IDLE_MS after it started, and for
// IDLE_MS after its last one
// started or ended if it usually asks again within THINK_MS: a guest
// reading flat out issues its next request a moment after the last one
// completes, and must not lose its place in between. One that asks less
// often is not kept busy in between: a VM ahead would wait for it to catch
// up, which it never does, and could go no faster than it. A VM that
// comes back from idle starts at the disk's virtual time, the latest start
// tag admitted, so idleness banks no credit. (Not at the least virtual time
// of the busy VMs: when none is busy, a VM back first would keep its old
// tag, and one back a moment later would wait for it to catch up.)
//
// Requests are let go one at a time under the hypervisor's lock, so the
// arbiter needs no queue of its own: each VM holds at most its one request
// in hand, and the order of service is the order in which they are let go.

import { DiskShare } from "./diskshare";

// An operation costs as much as moving this many bytes: a flash disk's
// fixed cost of a command is about the time it streams that much (a SATA
// SSD: some 90,000 operations or 550 MB a second).
export const OPERATION_BYTES: u64 = 8192;
// How long a VM stays busy after its last request: long enough to cover
// the pause between one request's completion and the next, which for a
// guest under emulation on a loaded host runs to tens of milliseconds;
// it is also the longest a VM ahead waits for one that has stopped.
export const IDLE_MS: u64 = 100;
// The longest average pause between requests of a VM kept busy in between.
export const THINK_MS: u64 = 25;
// The weight of a new pause in the average think time.
const THINK_WEIGHT: f64 = 0.125;

export class DiskArbiter {
  private shares: DiskShare[] = [];
  // The latest start tag admitted.
  private virtualTime: f64 = 0;
  // A round of wakes runs; finished() within it asks for another round.
  private waking: bool = false;
  private again: bool = false;

  join(weight: u32): DiskShare {
    const share = new DiskShare(weight);
    this.shares.push(share);
    return share;
  }

  // `share`'s VM is gone (destroyed): the others divide the disk.
  leave(share: DiskShare, now: u64, tscPerMs: u64): void {
    const at = this.shares.indexOf(share);
    if (at >= 0) this.shares.splice(at, 1);
    this.wakeReady(now, tscPerMs);
  }

  // Whether `share`'s request of `bytes` may start at `now` (TSC, at
  // `tscPerMs` ticks a millisecond); if so it is charged, and otherwise
  // it waits for its turn.
  admit(share: DiskShare, bytes: u64, now: u64, tscPerMs: u64): bool {
    if (recentlyActive(share, now, tscPerMs) && !share.waiting) {
      share.think += (<f64>(now - share.lastActive) - share.think) * THINK_WEIGHT;
    }
    if (!this.busy(share, now, tscPerMs)) share.virtualTime = max(share.virtualTime, this.virtualTime);
    share.waiting = this.aheadOfOthers(share, now, tscPerMs);
    if (share.waiting) return false;
    this.virtualTime = max(this.virtualTime, share.virtualTime);
    share.virtualTime += <f64>(bytes + OPERATION_BYTES) / <f64>share.weight;
    share.lastActive = now;
    share.inFlight++;
    return true;
  }

  // `share`'s request ended at `now`: those it held back may go.
  finished(share: DiskShare, now: u64, tscPerMs: u64): void {
    share.lastActive = now;
    if (share.inFlight > 0) share.inFlight--;
    this.wakeReady(now, tscPerMs);
  }

  // `share` has no request for the disk: its budget holds it, or its
  // device was reset or its VM stopped. It is idle from now on.
  pause(share: DiskShare, now: u64, tscPerMs: u64): void {
    share.waiting = false;
    share.inFlight = 0;
    share.lastActive = 0;
    this.wakeReady(now, tscPerMs);
  }

  // When `share`'s waiting request may go even if no other request ends:
  // when the last of the VMs ahead of it stops being busy.
  wakeAt(share: DiskShare, tscPerMs: u64): u64 {
    let at: u64 = 0;
    for (let i = 0; i < this.shares.length; i++) {
      const other = this.shares[i];
      if (other === share || other.virtualTime >= share.virtualTime) continue;
      // One that waits too goes only after a request ends, which wakes this one then.
      if (other.waiting) return u64.MAX_VALUE;
      if (other.lastActive != 0) at = max(at, other.lastActive + IDLE_MS * tscPerMs);
    }
    return at;
  }

  // Requests at the disk keep a VM busy only for IDLE_MS too: a VM that
  // is paused or stopped while they run gives them back only when it
  // runs again, and must not hold the others meanwhile.
  private busy(share: DiskShare, now: u64, tscPerMs: u64): bool {
    if (share.waiting) return true;
    return recentlyActive(share, now, tscPerMs) && (share.inFlight > 0 || share.think < <f64>(THINK_MS * tscPerMs));
  }

  // Whether another busy VM is behind `share` in virtual time.
  private aheadOfOthers(share: DiskShare, now: u64, tscPerMs: u64): bool {
    for (let i = 0; i < this.shares.length; i++) {
      const other = this.shares[i];
      if (other !== share && other.virtualTime < share.virtualTime && this.busy(other, now, tscPerMs)) return true;
    }
    return false;
  }

  // Runs the resume of every waiting VM whose turn has come; the requests
  // it serves may let others go, in rounds until none does.
  private wakeReady(now: u64, tscPerMs: u64): void {
    if (this.waking) {
      this.again = true;
      return;
    }
    this.waking = true;
    do {
      this.again = false;
      for (let i = 0; i < this.shares.length; i++) {
        const share = this.shares[i];
        if (share.waiting && share.resume !== null && !this.aheadOfOthers(share, now, tscPerMs)) share.resume!.run();
      }
    } while (this.again);
    this.waking = false;
  }
}

// Whether `share` started or ended a request less than IDLE_MS before `now`.
function recentlyActive(share: DiskShare, now: u64, tscPerMs: u64): bool {
  return share.lastActive != 0 && now - share.lastActive < IDLE_MS * tscPerMs;
}
