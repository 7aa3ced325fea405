// A VM's RAM and the one narrow door through which the hypervisor touches it.
//
// Guest RAM is host frames outside the linear memory, so the hypervisor can
// only reach it through the shim's raw physical access. Every such access goes
// through GuestMemory, which checks that the whole guest-physical range lies
// in this VM's RAM before touching anything: a guest cannot make the
// hypervisor read or write outside the guest.
//
// A new VM's RAM is made ready lazily, a 2 MiB chunk at a time: zeroed when
// first touched, by the hypervisor (translate()) or by the guest (its access
// exits, as to an unmapped address, and prepareForGuest() makes the chunk
// ready and maps it), so that starting a VM does not cost time in
// proportion to its RAM. Until then the chunk is not in the VM's nested page
// tables, and what the frames held before is out of the guest's reach. A
// copy from host memory (a kernel from its boot module) into chunks not yet
// ready is only noted, and made when each chunk is made ready: a VM starts
// without copying its kernel either.

import {
  linearBase,
  physCopy,
  physRead16,
  physRead32,
  physRead64,
  physRead8,
  physWrite16,
  physWrite32,
  physWrite64,
  physWrite8,
  physZero,
} from "../../kernel/arch/shim";
import { FrameAllocator } from "../../kernel/mm/frames";
import { PAGE_SIZE } from "../../kernel/mm/range";

// The unit in which RAM is made ready: a large page of the nested tables.
export const RAM_CHUNK: u64 = 2 << 20;

// A copy from host memory noted for chunks not yet ready: [gpa, gpa + length)
// of the guest gets the bytes at `hostPhys`, which stay put (boot modules do).
class PendingCopy {
  constructor(public gpa: u64, public hostPhys: u64, public length: u64) {}
}

export class RamRegion {
  // One byte per RAM_CHUNK: nonzero once it is zeroed and mapped.
  ready: Uint8Array;
  // Oldest first: a later copy over the same bytes wins, as it would have.
  pending: PendingCopy[] = [];

  constructor(public gpa: u64, public hpa: u64, public size: u64, lazy: bool) {
    this.ready = new Uint8Array(<i32>((size + RAM_CHUNK - 1) / RAM_CHUNK));
    if (!lazy) this.ready.fill(1);
  }

  // Whether all of [gpa, gpa + length) lies in it (overflow-safe).
  @inline
  holds(gpa: u64, length: u64): bool {
    return gpa >= this.gpa && length <= this.size && gpa - this.gpa <= this.size - length;
  }

  // The bytes of chunk `c`: RAM_CHUNK, less at the end of an odd-sized region.
  chunkSize(c: i32): u64 {
    return min(RAM_CHUNK, this.size - <u64>c * RAM_CHUNK);
  }
}

// Puts chunks of RAM into the VM's nested tables as they are made ready (core/vm.ts).
export abstract class RamMapper {
  abstract mapRam(gpa: u64, hpa: u64, size: u64): void;
}

// Whether a copy noted for `r` lands in guest-physical [start, end).
function copiedInto(r: RamRegion, start: u64, end: u64): bool {
  for (let i = 0; i < r.pending.length; i++) {
    const p = r.pending[i];
    if (p.gpa < end && start < p.gpa + p.length) return true;
  }
  return false;
}

export class GuestMemory {
  regions: RamRegion[] = [];
  private lastRegion: RamRegion | null = null;
  // The chunk translate() found last, ready: where it starts, guest- and
  // host-physical, and its size (0 for none). Chunks stay ready.
  private chunkGpa: u64 = 0;
  private chunkHpa: u64 = 0;
  private chunkBytes: u64 = 0;
  private mapper: RamMapper | null = null;

  // RAM at `gpa`: with `lazy`, made ready as it is touched; otherwise its
  // contents are already what the guest must see (the unit tests' RAM).
  add(gpa: u64, hpa: u64, size: u64, lazy: bool = false): void {
    this.regions.push(new RamRegion(gpa, hpa, size, lazy));
  }

  // From now on ready chunks go into `mapper`, and the ready ones go now.
  attach(mapper: RamMapper): void {
    this.mapper = mapper;
    for (let i = 0; i < this.regions.length; i++) {
      const r = this.regions[i];
      for (let c = 0; c < r.ready.length; c++) {
        if (r.ready[c] != 0) mapper.mapRam(r.gpa + <u64>c * RAM_CHUNK, r.hpa + <u64>c * RAM_CHUNK, r.chunkSize(c));
      }
    }
  }

  // A guest access to `gpa` exited: true if it lay in RAM not yet ready,
  // which now is, so that the access can simply be tried again.
  prepareForGuest(gpa: u64): bool {
    const r = this.regionOf(gpa, 1);
    if (r === null) return false;
    const c = <i32>((gpa - r.gpa) / RAM_CHUNK);
    if (r.ready[c] != 0) return false;
    this.makeReady(r, c);
    return true;
  }

  get size(): u64 {
    let total: u64 = 0;
    for (let i = 0; i < this.regions.length; i++) total += this.regions[i].size;
    return total;
  }

  // Host-physical address of [gpa, gpa + length), or -1 if any of it is not
  // RAM. The range is ready when this returns. Inline for the usual cases:
  // the range within the chunk found last, as a virtqueue's buffers, carved
  // from the same few pages, ask one after another; else the region found
  // last holding it in one chunk long ready, as the walk of an emulated
  // instruction's page tables asks four times per exit.
  @inline
  translate(gpa: u64, length: u64): i64 {
    const offset = gpa - this.chunkGpa, bytes = this.chunkBytes;
    if (offset < bytes && length <= bytes - offset) return <i64>(this.chunkHpa + offset);
    const r = this.lastRegion;
    if (r !== null && r.holds(gpa, length)) {
      const inRegion = gpa - r.gpa, chunk = inRegion / RAM_CHUNK;
      // A range of length 0 wraps `last` around and takes the long way.
      const last = inRegion + length - 1;
      if (last / RAM_CHUNK == chunk && unchecked(r.ready[<i32>chunk]) != 0) {
        this.remember(r, <i32>chunk);
        return <i64>(r.hpa + inRegion);
      }
    }
    return this.translateAny(gpa, length);
  }

  // Chunk `c` of `r`, ready, is the one translate() tries first.
  @inline
  private remember(r: RamRegion, c: i32): void {
    const start = <u64>c * RAM_CHUNK;
    this.chunkGpa = r.gpa + start;
    this.chunkHpa = r.hpa + start;
    this.chunkBytes = r.chunkSize(c);
  }

  // translate() for any range: the region looked up, its chunks made ready,
  // the chunk remembered if the range lies in one.
  private translateAny(gpa: u64, length: u64): i64 {
    const r = this.regionOf(gpa, length);
    if (r === null) return -1;
    const offset = gpa - r.gpa, last = length > 0 ? offset + length - 1 : offset;
    const first = <i32>(offset / RAM_CHUNK), final = <i32>(last / RAM_CHUNK);
    for (let c = first; c <= final; c++) {
      if (unchecked(r.ready[c]) == 0) this.makeReady(r, c);
    }
    if (first == final) this.remember(r, first);
    return <i64>(r.hpa + offset);
  }

  // The region holding all of [gpa, gpa + length), or null. The last one
  // found is tried first: an emulated instruction's fetch, page walk and
  // operand mostly fall in one region.
  private regionOf(gpa: u64, length: u64): RamRegion | null {
    const last = this.lastRegion;
    if (last !== null && last.holds(gpa, length)) return last;
    for (let i = 0; i < this.regions.length; i++) {
      const r = unchecked(this.regions[i]);
      if (!r.holds(gpa, length)) continue;
      this.lastRegion = r;
      return r;
    }
    return null;
  }

  // Chunk `c` of `r` is ready: zeroed, the copies noted for it made, and mapped.
  private makeReady(r: RamRegion, c: i32): void {
    const offset = <u64>c * RAM_CHUNK, size = r.chunkSize(c);
    physZero(r.hpa + offset, size);
    const start = r.gpa + offset, end = start + size;
    for (let i = 0; i < r.pending.length; i++) {
      const p = r.pending[i];
      const from = max(p.gpa, start), to = min(p.gpa + p.length, end);
      if (from < to) physCopy(r.hpa + (from - r.gpa), p.hostPhys + (from - p.gpa), to - from);
    }
    r.ready[c] = 1;
    const mapper = this.mapper;
    if (mapper !== null) mapper.mapRam(r.gpa + offset, r.hpa + offset, size);
  }

  // Whether [gpa, gpa + length) is all RAM: a question, so nothing is made ready.
  contains(gpa: u64, length: u64): bool {
    return this.regionOf(gpa, length) !== null;
  }

  // Reads return 0 and writes do nothing outside RAM; callers that must
  // distinguish check contains() first.
  read8(gpa: u64): u8 {
    const h = this.translate(gpa, 1);
    return h < 0 ? 0 : physRead8(<u64>h);
  }
  read32(gpa: u64): u32 {
    const h = this.translate(gpa, 4);
    return h < 0 ? 0 : physRead32(<u64>h);
  }
  read64(gpa: u64): u64 {
    const h = this.translate(gpa, 8);
    return h < 0 ? 0 : physRead64(<u64>h);
  }
  write8(gpa: u64, v: u8): void {
    const h = this.translate(gpa, 1);
    if (h >= 0) physWrite8(<u64>h, v);
  }
  write32(gpa: u64, v: u32): void {
    const h = this.translate(gpa, 4);
    if (h >= 0) physWrite32(<u64>h, v);
  }
  write64(gpa: u64, v: u64): void {
    const h = this.translate(gpa, 8);
    if (h >= 0) physWrite64(<u64>h, v);
  }

  // A `size`-byte (1, 2, 4 or 8) little-endian value, as an instruction
  // would load or store it; 0 and nothing outside RAM.
  load(gpa: u64, size: u8): u64 {
    const h = this.translate(gpa, size);
    if (h < 0) return 0;
    return size == 1
      ? physRead8(<u64>h)
      : size == 2
      ? physRead16(<u64>h)
      : size == 4
      ? physRead32(<u64>h)
      : physRead64(<u64>h);
  }
  store(gpa: u64, size: u8, v: u64): void {
    const h = this.translate(gpa, size);
    if (h < 0) return;
    if (size == 1) physWrite8(<u64>h, <u8>v);
    else if (size == 2) physWrite16(<u64>h, <u16>v);
    else if (size == 4) physWrite32(<u64>h, <u32>v);
    else physWrite64(<u64>h, v);
  }

  // [gpa, gpa + length) reads as zero from now on; false if it is not all
  // RAM. A chunk not ready does already, unless a copy noted for it lands
  // there: then it is made ready first, so that the zeroes come after.
  zeroRange(gpa: u64, length: u64): bool {
    const r = this.regionOf(gpa, length);
    if (r === null) return false;
    if (length == 0) return true;
    const offset = gpa - r.gpa, end = offset + length;
    for (let c = <i32>(offset / RAM_CHUNK); c <= <i32>((end - 1) / RAM_CHUNK); c++) {
      const from = max(offset, <u64>c * RAM_CHUNK), to = min(end, <u64>c * RAM_CHUNK + r.chunkSize(c));
      if (r.ready[c] == 0 && copiedInto(r, r.gpa + from, r.gpa + to)) this.makeReady(r, c);
      if (r.ready[c] != 0) physZero(r.hpa + from, to - from);
    }
    return true;
  }

  // Copies host-physical bytes that will not change (a boot module) into
  // guest RAM; false if the destination is not entirely RAM. Copied now
  // into the chunks that are ready, noted for the others.
  copyFromHost(gpa: u64, hostPhys: u64, length: u64): bool {
    const r = this.regionOf(gpa, length);
    if (r === null) return false;
    if (length == 0) return true;
    const offset = gpa - r.gpa, end = offset + length;
    let noted = false;
    for (let c = <i32>(offset / RAM_CHUNK); c <= <i32>((end - 1) / RAM_CHUNK); c++) {
      const from = max(offset, <u64>c * RAM_CHUNK), to = min(end, <u64>c * RAM_CHUNK + r.chunkSize(c));
      if (r.ready[c] != 0) physCopy(r.hpa + from, hostPhys + (from - offset), to - from);
      else noted = true;
    }
    if (noted) r.pending.push(new PendingCopy(gpa, hostPhys, length));
    return true;
  }

  // A device's memory access (its DMA), made now: `length` bytes from
  // host-physical `hostPhys` into guest RAM at `gpa` (toGuest), or from
  // there to `hostPhys`; false, and nothing moved, if the guest range is
  // not all RAM. Regions are contiguous in host memory, so it is one copy.
  dma(gpa: u64, hostPhys: u64, length: u64, toGuest: bool): bool {
    const h = this.translate(gpa, length);
    if (h < 0) return false;
    if (toGuest) physCopy(<u64>h, hostPhys, length);
    else physCopy(hostPhys, <u64>h, length);
    return true;
  }

  // `length` bytes between guest RAM at `gpa` and the hypervisor's linear
  // memory at `linear` (a buffer's dataStart): into the guest (toGuest) or
  // out of it; false, and nothing moved, if the guest range is not all RAM.
  // One string copy, since the linear memory is mapped at linearBase(): a
  // loop of 8-byte loads and stores here took ten instructions where it
  // takes one (docs/net-bench.md).
  copyLinear(gpa: u64, linear: usize, length: u64, toGuest: bool): bool {
    const h = this.translate(gpa, length);
    if (h < 0) return false;
    copyHostLinear(<u64>h, linear, length, toGuest);
    return true;
  }

  // The frames go back to `frames` (a VM never started, or destroyed):
  // whoever gets them next finds them zeroed, since they start lazy.
  giveBack(frames: FrameAllocator): void {
    for (let i = 0; i < this.regions.length; i++) {
      const r = this.regions[i];
      for (let off: u64 = 0; off < r.size; off += PAGE_SIZE) frames.free(r.hpa + off);
    }
    this.regions = [];
    this.lastRegion = null;
    this.chunkBytes = 0;
  }

  // All of RAM reads as zero from now on: the ready chunks are zeroed (the
  // others will be when they are first touched), and noted copies forgotten.
  zero(): void {
    for (let i = 0; i < this.regions.length; i++) {
      const r = this.regions[i];
      r.pending = [];
      for (let c = 0; c < r.ready.length; c++) {
        if (r.ready[c] != 0) physZero(r.hpa + <u64>c * RAM_CHUNK, r.chunkSize(c));
      }
    }
  }
}

// copyLinear() for guest RAM already found: `length` bytes between
// host-physical `host` and the linear memory at `linear`, into the guest
// (toGuest) or out of it.
export function copyHostLinear(host: u64, linear: usize, length: u64, toGuest: bool): void {
  const mapped = linearBase() + <u64>linear;
  if (toGuest) physCopy(host, mapped, length);
  else physCopy(mapped, host, length);
}
