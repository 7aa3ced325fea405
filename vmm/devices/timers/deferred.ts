// Work a device has put off until a time of its own: a disk over its I/O
// budget serves its next request when the budget allows. The platform's
// clock (platform/pc/pcinterrupts.ts) runs it once the TSC passes `dueAt`,
// and counts it among its next events, so a VM halted waiting for the
// request wakes in time for it.

export const NOT_DUE: u64 = u64.MAX_VALUE;

export abstract class Deferred {
  // The TSC at which to run, or NOT_DUE.
  abstract get dueAt(): u64;
  abstract run(): void;
}
