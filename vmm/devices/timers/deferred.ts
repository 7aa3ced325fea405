// Work a device has put off until a time of its own: a disk over its I/O
// budget serves its next request when the budget allows, and one whose
// batch is at the host disk looks whether it has ended. The platform's
// clock (platform/pc/pcinterrupts.ts) runs it once the TSC passes `dueAt`,
// and counts it among its next events, so a VM halted waiting for the
// request wakes in time for it.

export const NOT_DUE: u64 = u64.MAX_VALUE;

// Who must hear that a Deferred came due sooner than its clock last looked
// (platform/pc/platform.ts: the clock forgets the deadline it kept, and the
// CPU of the VM's boot vCPU looks again, and sets its alarm for it).
export abstract class Waker {
  abstract wake(): void;
}

export abstract class Deferred {
  waker: Waker | null = null;
  // The TSC at which to run, or NOT_DUE.
  abstract get dueAt(): u64;
  abstract run(): void;

  // A vCPU of the VM halts: work that waits on something outside the VM
  // may look at it now, ahead of dueAt, where a look costs no exit of its
  // own (a disk's completions are in memory), so that what has ended
  // wakes the vCPU at once instead of after an idle period. Nothing by
  // default.
  lookOnHalt(): void {}

  // dueAt moved earlier than when the clock last asked.
  movedEarlier(): void {
    const w = this.waker;
    if (w !== null) w.wake();
  }
}
