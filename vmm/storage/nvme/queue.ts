// One NVMe submission queue and its completion queue, polled (NVM Express
// Base Specification 1.4, 4.1 "Submission Queue & Completion Queue
// Definition", 4.6 "Completion Queue Entry").
//
// Both rings are a page each in the linear memory, page-aligned and
// physically contiguous (kernel/mm/linearpages.ts), which is all a queue
// created with PC=1 needs. The driver writes a 64-byte entry at the
// submission queue's tail and writes the new tail to the queue's doorbell;
// the controller fetches it, executes it and posts a 16-byte entry at the
// completion queue's head, with the phase tag inverted from the last pass
// over the ring, so a new entry is told from an old one without any other
// state. The driver then advances the head and writes it to the other
// doorbell, which frees the slot. Its user keeps fewer commands in flight
// than the queue has entries, so the submission queue is never full;
// completions may come in any order, told apart by their identifiers.
//
// The controller writes the completion ring behind the compiled code's
// back, so it is read with volatile accesses through its physical address;
// and fences order the driver's entry before the doorbell that announces
// it, and its reads of the controller's data after the entry that says it
// is there.

import { memoryFence, pause, physRead32, physWrite32, rdtsc } from "../../../kernel/arch/shim";
import { allocPage, physOf } from "../../../kernel/mm/linearpages";
import { Command } from "./command";

// execute()'s results besides a completion's status (0 is success).
export const TIMED_OUT: i32 = -1;
export const STRAY_COMPLETION: i32 = -2;
// poll()'s result while the controller has posted nothing new.
export const NOTHING_YET: i64 = -3;

const SUBMISSION_ENTRY: u32 = 64;
const COMPLETION_ENTRY: u32 = 16;
// The most entries a ring of one page holds, submission entries being the larger.
export const MAX_QUEUE_ENTRIES: u32 = 4096 / SUBMISSION_ENTRY;
// Doorbells start at register offset 1000h, a submission queue's tail and
// its completion queue's head side by side, CAP.DSTRD apart (3.1.24, 3.1.25).
const DOORBELLS: u64 = 0x1000;

export class QueuePair {
  private submissions: usize = allocPage();
  readonly submissionsPhys: u64 = physOf(this.submissions);
  readonly completionsPhys: u64 = physOf(allocPage());
  private tail: u32 = 0;
  private head: u32 = 0;
  private phase: u32 = 1; // the controller's first pass writes 1 (4.6)
  private nextId: u16 = 0;
  private submissionDoorbell: u64;
  private completionDoorbell: u64;

  // Queue `id` (0 is the admin queue) of `entries`, with the controller's
  // registers at `registers` and doorbells `stride` bytes apart.
  constructor(readonly id: u16, readonly entries: u32, registers: u64, stride: u64) {
    this.submissionDoorbell = registers + DOORBELLS + 2 * <u64>id * stride;
    this.completionDoorbell = this.submissionDoorbell + stride;
  }

  // Submits `c` and waits for its completion for at most `timeout` TSC
  // ticks: its status field (status code type in bits 10-8, status code
  // in 7-0; 0 is success), TIMED_OUT or STRAY_COMPLETION.
  execute(c: Command, timeout: u64): i32 {
    const id = this.submit(c);
    const completion = this.reap(timeout);
    if (completion == TIMED_OUT) return TIMED_OUT;
    if (<u16>completion != id) return STRAY_COMPLETION;
    return completionStatus(completion);
  }

  // Puts `c` at the tail with a fresh identifier and rings the doorbell:
  // the identifier. The caller keeps fewer than `entries` commands in
  // flight, so the queue is never full.
  submit(c: Command): u16 {
    const id = this.nextId++;
    c.identifier = id;
    memory.copy(this.submissions + <usize>(this.tail * SUBMISSION_ENTRY), changetype<usize>(c.dwords), 64);
    this.tail = (this.tail + 1) % this.entries;
    memoryFence(); // the entry is in memory before the doorbell says so
    physWrite32(this.submissionDoorbell, this.tail);
    return id;
  }

  // Waits at most `timeout` TSC ticks for the next completion and frees
  // its slot: its dword 3 (command identifier in bits 15-0, status in
  // 31-17), or TIMED_OUT.
  reap(timeout: u64): i64 {
    const deadline = rdtsc() + timeout;
    let completion = this.poll();
    for (; completion == NOTHING_YET; completion = this.poll()) {
      if (rdtsc() > deadline) return TIMED_OUT;
      pause();
    }
    return completion;
  }

  // The next completion, if the controller has posted it, with its slot
  // freed: its dword 3 (command identifier in bits 15-0, phase tag 16,
  // status 31-17); otherwise NOTHING_YET.
  poll(): i64 {
    const dword3 = this.completionsPhys + <u64>(this.head * COMPLETION_ENTRY) + 12;
    if (((physRead32(dword3) >> 16) & 1) != this.phase) return NOTHING_YET;
    memoryFence(); // what the controller wrote is read after the entry that says so
    const completion = physRead32(dword3);
    this.head = (this.head + 1) % this.entries;
    if (this.head == 0) this.phase ^= 1;
    physWrite32(this.completionDoorbell, this.head);
    return <i64>completion;
  }
}

// A completion's status field (4.6.1): 0 is success.
export function completionStatus(completion: i64): i32 {
  return <i32>((completion >> 17) & 0x7ff);
}
