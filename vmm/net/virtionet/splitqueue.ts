// One split virtqueue (virtio 1.2, 2.7) from the driver's side, polled,
// whose descriptors each own one buffer for good, as the e1000's rings do
// (../e1000/receivering.ts).
//
// The queue lives in one page of the hypervisor's linear memory
// (kernel/mm/linearpages.ts), the device reaching it by physical address:
// the descriptor table (2.7.5), then the available ring (2.7.6) and the
// used ring (2.7.8), each as aligned as 2.7 asks. Descriptor i always
// points at buffer i; offer() puts a descriptor on the available ring,
// publish() tells the device, and takeUsed() returns the descriptors the
// device has finished with, in the order of the used ring.
//
// The device writes the used ring behind the compiled code's back, so its
// index and entries are read with volatile accesses through their
// physical addresses. What it writes there is checked, never trusted: an
// entry naming a descriptor the device does not hold is a fault, skipped;
// a used index that runs ahead of what was offered makes the queue broken.

import { memoryFence, physRead16, physRead32, physWrite16 } from "../../../kernel/arch/shim";
import { allocPages, physOf } from "../../../kernel/mm/linearpages";
import { PAGE_SIZE } from "../../../kernel/mm/range";
import { AVAIL_F_NO_INTERRUPT, USED_F_NO_NOTIFY } from "../../devices/virtiospec";

// Every buffer: a full-size frame and its virtio_net_hdr, without merging (5.1.6.3.1).
export const BUFFER_BYTES: u32 = 2048;
// The largest queue the driver sets up: its three parts fit in one page.
export const MAX_QUEUE_SIZE: u16 = 128;

// struct virtq_desc (2.7.5): addr, len, flags, next. struct virtq_avail
// (2.7.6): flags (NO_INTERRUPT, since the driver polls), idx, ring[].
// struct virtq_used (2.7.8): flags, idx, ring[] of { id: le32, len: le32 }.
const DESCRIPTOR_BYTES: usize = 16, LENGTH_AT: usize = 8, FLAGS_AT: usize = 12;
const RING_HEADER: usize = 4, USED_ELEMENT_BYTES: usize = 8;

// takeUsed()'s results besides a descriptor's index.
export const NONE: i32 = -1;
export const FAULT: i32 = -2;
export const BROKEN: i32 = -3;

export class SplitQueue {
  private ring: usize = allocPages(1);
  private buffers: usize;
  private availAt: usize;
  private usedAt: usize;
  // Where the driver notifies the device: set once the queue is enabled.
  notifyAt: u64 = 0;
  // The available index the driver has written up to, and the next used entry it reads.
  private availIdx: u16 = 0;
  private usedIdx: u16 = 0;
  private offeredSincePublish: bool = false;
  private withDevice: StaticArray<bool> = new StaticArray<bool>(MAX_QUEUE_SIZE);
  // The length the device wrote with the last descriptor takeUsed() returned.
  usedLength: u32 = 0;

  // `size` descriptors (a power of two, at most MAX_QUEUE_SIZE) with
  // `flags` each: DESC_F_WRITE for a receive queue.
  constructor(readonly index: u16, readonly size: u16, flags: u16) {
    this.buffers = allocPages(<i32>((<u64>size * <u64>BUFFER_BYTES) / PAGE_SIZE));
    // Alignments (2.7): descriptors 16, available ring 2, used ring 4.
    this.availAt = <usize>size * DESCRIPTOR_BYTES;
    this.usedAt = (this.availAt + RING_HEADER + 2 * <usize>size + 2 + 3) & ~3;
    for (let i: u16 = 0; i < size; i++) {
      const d = this.ring + <usize>i * DESCRIPTOR_BYTES;
      store<u64>(d, physOf(this.buffer(i)));
      store<u16>(d + FLAGS_AT, flags);
    }
    store<u16>(this.ring + this.availAt, AVAIL_F_NO_INTERRUPT);
  }

  get descriptorsPhys(): u64 {
    return physOf(this.ring);
  }
  get availPhys(): u64 {
    return physOf(this.ring + this.availAt);
  }
  get usedPhys(): u64 {
    return physOf(this.ring + this.usedAt);
  }

  buffer(id: u16): usize {
    return this.buffers + <usize>id * BUFFER_BYTES;
  }

  // Puts descriptor `id` on the available ring with its first `length` bytes.
  offer(id: u16, length: u32): void {
    store<u32>(this.ring + <usize>id * DESCRIPTOR_BYTES + LENGTH_AT, length);
    const slot = <usize>(this.availIdx % this.size);
    store<u16>(this.ring + this.availAt + RING_HEADER + 2 * slot, id);
    this.availIdx++;
    this.withDevice[id] = true;
    this.offeredSincePublish = true;
  }

  // Makes what offer() put on the ring visible to the device and notifies
  // it, unless it asked not to be (2.7.13.3, 2.7.13.4, 4.1.5.2).
  publish(): void {
    if (!this.offeredSincePublish) return;
    this.offeredSincePublish = false;
    memoryFence(); // the descriptors and ring entries before the index that hands them over
    physWrite16(this.availPhys + 2, this.availIdx);
    memoryFence(); // the index before the read of the device's flags
    if ((physRead16(this.usedPhys) & USED_F_NO_NOTIFY) == 0) physWrite16(this.notifyAt, this.index);
  }

  // The next descriptor the device has used, its length in usedLength;
  // NONE, FAULT (an entry skipped) or BROKEN.
  takeUsed(): i32 {
    const used = physRead16(this.usedPhys + 2);
    if (used == this.usedIdx) return NONE;
    // The device cannot have used more than the driver offered.
    if (<u16>(used - this.usedIdx) > <u16>(this.availIdx - this.usedIdx)) return BROKEN;
    memoryFence(); // the entry is read after the index that says it is there
    const entry = this.usedPhys + RING_HEADER + <u64>(this.usedIdx % this.size) * USED_ELEMENT_BYTES;
    this.usedIdx++;
    const id = physRead32(entry);
    if (id >= <u32>this.size || !this.withDevice[id]) return FAULT;
    this.withDevice[id] = false;
    this.usedLength = physRead32(entry + 4);
    return <i32>id;
  }
}
