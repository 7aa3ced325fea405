// The receive descriptor ring of an 8254x controller, in the legacy
// descriptor format (8254x SDM 3.2.3), polled.
//
// The ring and its buffers are pages of the hypervisor's linear memory
// (kernel/mm/linearpages.ts), so the controller reaches them by their
// physical addresses. Each descriptor owns one 2048-byte buffer for good:
// its address is written once, and the controller fills in the length and
// the status. The controller owns the descriptors from its head (RDH) up
// to, not including, the tail (RDT) the driver writes (3.2.6); the driver
// takes them back in order as their DD bit says they are done, clears
// their status and gives them back by moving the tail onto the last one it
// took. One descriptor is therefore always the driver's: a head equal to
// the tail means the controller has none, not all.
//
// The controller writes descriptors behind the compiled code's back, so
// their length and status are read with volatile accesses through their
// physical addresses, and a fence orders the reads of a frame after the
// status that says it is there.

import { memoryFence, physRead32, physWrite32 } from "../../../kernel/arch/shim";
import { allocPages, physOf } from "../../../kernel/mm/linearpages";
import { PAGE_SIZE } from "../../../kernel/mm/range";
import { BAD_FRAME, NO_FRAME } from "../hostnic";
import { BUFFER_ADDRESS_AT, DESCRIPTOR_BYTES, LENGTH_DWORD_AT, STATUS_DD, STATUS_DWORD_AT } from "./descriptor";
import { RX_BUFFER_BYTES } from "./registers";

// Status (3.2.3.1): end of packet, besides DD.
const STATUS_EOP: u32 = 1 << 1;
// Errors (3.2.3.2), the byte after the status: CRC or alignment, symbol,
// sequence, carrier extension, RX data error. The checksum errors (TCPE,
// IPE) are left to the receivers: the frame itself is whole.
const FRAME_ERRORS: u32 = ((1 << 0) | (1 << 1) | (1 << 2) | (1 << 4) | (1 << 7)) << 8;

// 128 descriptors: 2 KiB of ring, 256 KiB of buffers; at a gigabit, what
// arrives in 1.5 ms of full-size frames.
const RECEIVE_ENTRIES: u32 = 128;

export class ReceiveRing {
  private ring: usize = allocPages(1);
  readonly ringPhys: u64 = physOf(this.ring);
  private buffers: usize = allocPages(<i32>((<u64>RECEIVE_ENTRIES * <u64>RX_BUFFER_BYTES) / PAGE_SIZE));
  // The next descriptor the controller fills, and whether any was taken since release().
  private next: u32 = 0;
  private taken: bool = false;

  // `tail`: the physical address of the ring's RDT register.
  constructor(private tail: u64) {
    for (let i: u32 = 0; i < RECEIVE_ENTRIES; i++) {
      store<u64>(this.descriptor(i) + BUFFER_ADDRESS_AT, physOf(this.buffer(i)));
    }
  }

  get ringBytes(): u32 {
    return RECEIVE_ENTRIES * <u32>DESCRIPTOR_BYTES;
  }

  // The tail that gives the controller every descriptor but the last, at start.
  get initialTail(): u32 {
    return RECEIVE_ENTRIES - 1;
  }

  // Copies the next received frame into `into`: its length, NO_FRAME if
  // the controller has filled no more, or BAD_FRAME for one it received
  // with errors, in several buffers (never, with 2048-byte buffers and LPE
  // off) or longer than `into`, which is dropped.
  take(into: Uint8Array): i32 {
    const d = this.descriptor(this.next);
    const status = physRead32(physOf(d) + STATUS_DWORD_AT);
    if ((status & STATUS_DD) == 0) return NO_FRAME;
    memoryFence(); // the frame and its length are read after the status that says they are there
    const length = <i32>(physRead32(physOf(d) + LENGTH_DWORD_AT) & 0xffff);
    const whole = (status & STATUS_EOP) != 0 && (status & FRAME_ERRORS) == 0 && length <= into.length;
    if (whole) memory.copy(into.dataStart, this.buffer(this.next), <usize>length);
    // Cleared, so that a stale DD is never taken for a new frame.
    store<u32>(d + STATUS_DWORD_AT, 0);
    this.next = (this.next + 1) % RECEIVE_ENTRIES;
    this.taken = true;
    return whole ? length : BAD_FRAME;
  }

  // Gives the descriptors taken since the last call back to the
  // controller: the tail moves onto the last one taken.
  release(): void {
    if (!this.taken) return;
    this.taken = false;
    memoryFence(); // the cleared statuses are in memory before the tail hands them over
    physWrite32(this.tail, (this.next + RECEIVE_ENTRIES - 1) % RECEIVE_ENTRIES);
  }

  private descriptor(i: u32): usize {
    return this.ring + <usize>i * DESCRIPTOR_BYTES;
  }
  private buffer(i: u32): usize {
    return this.buffers + <usize>i * RX_BUFFER_BYTES;
  }
}
