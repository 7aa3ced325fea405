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
    memory.fill(changetype<usize>(this.used), 0xff, <usize>words * 8); // none available until the map says so
    // The ranges are disjoint (memmap.ts), so each frees exactly its frames.
    for (let i = 0; i < usable.length; i++) {
      const first = usable[i].start / PAGE_SIZE, last = usable[i].end / PAGE_SIZE;
      this.fill(first, last, false);
      this.available += last - first;
    }
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
      const clash = this.highestUsed(first, first + count);
      if (clash < 0) {
        this.fill(first, first + count, true); // all of them were free
        this.available -= count;
        return first * PAGE_SIZE;
      }
      if (<u64>clash < count) return 0;
      first = alignDown(<u64>clash - count, step);
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

  // A word of the bitmap at a time, not a frame: boot marks gigabytes, and
  // a VM's RAM is hundreds of thousands of frames. Only the first and the
  // last word may be partly in the range.
  private setRange(start: u64, end: u64, used: bool): void {
    const first = start / PAGE_SIZE, last = min(end / PAGE_SIZE, this.frames);
    if (!used) this.hint = 0;
    if (first >= last) return;
    const firstWord = <i32>(first / 64), lastWord = <i32>((last - 1) / 64);
    for (let w = firstWord; w <= lastWord; w++) {
      let mask = ~(<u64>0);
      if (w == firstWord) mask &= ~(<u64>0) << (first % 64);
      if (w == lastWord) mask &= ~(<u64>0) >> (63 - (last - 1) % 64);
      const word = unchecked(this.used[w]); // w <= lastWord < used.length, as last <= frames
      if (used) {
        this.available -= popcnt(~word & mask);
        unchecked(this.used[w] = word | mask);
      } else {
        this.available += popcnt(word & mask);
        unchecked(this.used[w] = word & ~mask);
      }
    }
  }

  // Marks frames [first, last) used or free without counting them (the
  // caller knows what they were): the whole words in between are one
  // memory.fill, the processor's string instructions (linker/runtime.c).
  private fill(first: u64, last: u64, used: bool): void {
    if (first >= last) return;
    const firstWord = <i32>(first / 64), lastWord = <i32>((last - 1) / 64);
    const head = ~(<u64>0) << (first % 64), tail = ~(<u64>0) >> (63 - (last - 1) % 64);
    if (firstWord == lastWord) {
      this.mark(firstWord, head & tail, used);
      return;
    }
    this.mark(firstWord, head, used);
    const middle = changetype<usize>(this.used) + ((<usize>firstWord + 1) << 3);
    memory.fill(middle, used ? 0xff : 0, <usize>(lastWord - firstWord - 1) << 3);
    this.mark(lastWord, tail, used);
  }

  private mark(word: i32, mask: u64, used: bool): void {
    if (used) this.used[word] |= mask;
    else this.used[word] &= ~mask;
  }

  // The highest frame in [from, to) not available, or -1 if none is. A VM's
  // RAM spans thousands of words, so an empty word costs one compare.
  private highestUsed(from: u64, to: u64): i64 {
    if (from >= to) return -1;
    const firstWord = <i32>(from / 64), lastWord = <i32>((to - 1) / 64);
    for (let w = lastWord; w >= firstWord; w--) {
      let word = unchecked(this.used[w]); // to <= frames, so lastWord < used.length
      if (word == 0) continue;
      if (w == lastWord) word &= ~(<u64>0) >> (63 - (to - 1) % 64);
      if (w == firstWord) word &= ~(<u64>0) << (from % 64);
      if (word != 0) return <i64>w * 64 + 63 - <i64>clz(word);
    }
    return -1;
  }
}
