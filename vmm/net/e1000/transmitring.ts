// The transmit descriptor ring of an 8254x controller, in the legacy
// descriptor format (8254x SDM 3.3.3).
//
// Like the receive ring (receivering.ts), it lives in pages of the linear
// memory and each descriptor owns one buffer for good. send() copies a
// frame into the buffer of the descriptor at the tail, fills in its length
// and command, and moves the tail (TDT) past it: the controller owns the
// descriptors from its head up to the tail (3.3.6) and sends them in
// order. Every descriptor asks for its status (RS), so the driver learns
// from the DD bit which ones are sent and may be filled again; one
// descriptor always stays empty, since a head equal to the tail means an
// empty ring. When the ring is full the frame is refused, as a NIC's
// queue drops what it has no room for.

import { memoryFence, physRead32, physWrite32 } from "../../../kernel/arch/shim";
import { allocPages, physOf } from "../../../kernel/mm/linearpages";
import { PAGE_SIZE } from "../../../kernel/mm/range";
import { BUFFER_ADDRESS_AT, DESCRIPTOR_BYTES, LENGTH_DWORD_AT, STATUS_DD, STATUS_DWORD_AT } from "./descriptor";
import { RX_BUFFER_BYTES } from "./registers";

// Command (3.3.3.1): end of packet; insert the FCS; report the status.
// DEXT stays 0 (a legacy descriptor), VLE 0 (a tag travels in the frame).
const CMD_EOP: u32 = 1 << 0;
const CMD_IFCS: u32 = 1 << 1;
const CMD_RS: u32 = 1 << 3;
const COMMAND_SHIFT: u32 = 24; // CMD is the last byte of the length dword
// Buffers as large as the receive ring's: any frame the switch forwards fits.
const BUFFER_BYTES: i32 = RX_BUFFER_BYTES;

// 64 descriptors: 1 KiB of ring, 128 KiB of buffers.
const TRANSMIT_ENTRIES: u32 = 64;

export class TransmitRing {
  private ring: usize = allocPages(1);
  readonly ringPhys: u64 = physOf(this.ring);
  private buffers: usize = allocPages(<i32>((<u64>TRANSMIT_ENTRIES * <u64>BUFFER_BYTES) / PAGE_SIZE));
  // The next descriptor to fill, and the oldest one not known to be sent.
  private next: u32 = 0;
  private oldest: u32 = 0;

  // `tail`: the physical address of the ring's TDT register.
  constructor(private tail: u64) {
    for (let i: u32 = 0; i < TRANSMIT_ENTRIES; i++) {
      store<u64>(this.descriptor(i) + BUFFER_ADDRESS_AT, physOf(this.buffer(i)));
    }
  }

  get ringBytes(): u32 {
    return TRANSMIT_ENTRIES * <u32>DESCRIPTOR_BYTES;
  }

  // Queues `length` bytes of `frame` (at most a buffer); false if the ring is full.
  send(frame: Uint8Array, length: i32): bool {
    this.reclaim();
    const after = (this.next + 1) % TRANSMIT_ENTRIES;
    if (after == this.oldest || length > BUFFER_BYTES) return false;
    const d = this.descriptor(this.next);
    memory.copy(this.buffer(this.next), frame.dataStart, <usize>length);
    store<u32>(d + LENGTH_DWORD_AT, <u32>length | ((CMD_EOP | CMD_IFCS | CMD_RS) << COMMAND_SHIFT));
    store<u32>(d + STATUS_DWORD_AT, 0);
    this.next = after;
    memoryFence(); // the descriptor and its frame are in memory before the tail hands them over
    physWrite32(this.tail, this.next);
    return true;
  }

  // Moves `oldest` past the descriptors the controller has sent.
  private reclaim(): void {
    while (this.oldest != this.next) {
      const status = physRead32(physOf(this.descriptor(this.oldest)) + STATUS_DWORD_AT);
      if ((status & STATUS_DD) == 0) return;
      this.oldest = (this.oldest + 1) % TRANSMIT_ENTRIES;
    }
  }

  private descriptor(i: u32): usize {
    return this.ring + <usize>i * DESCRIPTOR_BYTES;
  }
  private buffer(i: u32): usize {
    return this.buffers + <usize>i * BUFFER_BYTES;
  }
}
