// The physical frame allocator: one bit per 4 KiB frame of RAM.
//
// It covers every usable frame the memory map reports, from 0 to the top of
// usable RAM. A set bit means "not available": used, reserved (image, boot
// modules, boot information, the first megabyte) or not RAM at all. Frame 0
// is never handed out, so 0 can mean "no frame".

import { Range, PAGE_SIZE, alignDown, alignUp } from "./range";

export class FrameAllocator {
  private used: StaticArray<u64>;
  readonly frames: u64;
  private available: u64 = 0;
  private hint: i32 = 0; // first bitmap word that may have a free bit

  constructor(usable: Range[]) {
    const top = usable.length > 0 ? usable[usable.length - 1].end : 0;
    const frames = top / PAGE_SIZE;
    const words = <i32>((frames + 63) / 64);
    this.frames = frames;
    this.used = new StaticArray<u64>(words);
    for (let i = 0; i < words; i++) this.used[i] = ~(<u64>0);
    for (let i = 0; i < usable.length; i++) this.setRange(usable[i].start, usable[i].end, false);
    this.reserve(0, PAGE_SIZE);
  }

  get freeFrames(): u64 {
    return this.available;
  }
  get freeBytes(): u64 {
    return this.available * PAGE_SIZE;
  }

  // Takes [start, end) out of circulation (rounded outward to whole frames).
  reserve(start: u64, end: u64): void {
    this.setRange(alignDown(start, PAGE_SIZE), alignUp(end, PAGE_SIZE), true);
  }

  isFree(phys: u64): bool {
    const frame = phys / PAGE_SIZE;
    return frame < this.frames && !this.bit(frame);
  }

  // One frame, or 0 if RAM is exhausted.
  alloc(): u64 {
    for (let w = this.hint; w < this.used.length; w++) {
      const word = this.used[w];
      if (word == ~(<u64>0)) continue;
      this.hint = w;
      const frame = <u64>w * 64 + ctz(~word);
      this.set(frame, true);
      return frame * PAGE_SIZE;
    }
    return 0;
  }

  // `count` contiguous frames whose first address is a multiple of `align`
  // bytes, highest such block first (low memory is precious for devices and
  // the AP trampoline); 0 if there is none.
  allocContiguous(count: u64, align: u64): u64 {
    const step = align / PAGE_SIZE;
    if (count == 0 || count > this.frames) return 0;
    let first = alignDown(this.frames - count, step);
    while (true) {
      let clash: u64 = 0, found = true;
      for (let f = first + count; f > first; f--) {
        if (this.bit(f - 1)) {
          clash = f - 1;
          found = false;
          break;
        }
      }
      if (found) {
        this.setRange(first * PAGE_SIZE, (first + count) * PAGE_SIZE, true);
        return first * PAGE_SIZE;
      }
      if (clash < count) return 0;
      first = alignDown(clash - count, step);
      if (first == 0) return 0;
    }
  }

  free(phys: u64): void {
    const frame = phys / PAGE_SIZE;
    if (frame == 0 || frame >= this.frames || !this.bit(frame)) return;
    this.set(frame, false);
    const w = <i32>(frame / 64);
    if (w < this.hint) this.hint = w;
  }

  private bit(frame: u64): bool {
    return ((this.used[<i32>(frame / 64)] >> (frame % 64)) & 1) != 0;
  }

  private set(frame: u64, used: bool): void {
    const w = <i32>(frame / 64), mask = <u64>1 << (frame % 64);
    const was = (this.used[w] & mask) != 0;
    if (was == used) return;
    if (used) {
      this.used[w] |= mask;
      this.available--;
    } else {
      this.used[w] &= ~mask;
      this.available++;
    }
  }

  private setRange(start: u64, end: u64, used: bool): void {
    const last = end / PAGE_SIZE < this.frames ? end / PAGE_SIZE : this.frames;
    for (let f = start / PAGE_SIZE; f < last; f++) this.set(f, used);
    if (!used) this.hint = 0;
  }
}
