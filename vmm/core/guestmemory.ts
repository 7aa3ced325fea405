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
// tables, and what the frames held before is out of the guest's reach.

import {
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

// The unit in which RAM is made ready: a large page of the nested tables.
export const RAM_CHUNK: u64 = 2 << 20;

export class RamRegion {
  // One byte per RAM_CHUNK: nonzero once it is zeroed and mapped.
  ready: Uint8Array;

  constructor(public gpa: u64, public hpa: u64, public size: u64, lazy: bool) {
    this.ready = new Uint8Array(<i32>((size + RAM_CHUNK - 1) / RAM_CHUNK));
    if (!lazy) this.ready.fill(1);
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

export class GuestMemory {
  regions: RamRegion[] = [];
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
    for (let i = 0; i < this.regions.length; i++) {
      const r = this.regions[i];
      if (gpa < r.gpa || gpa - r.gpa >= r.size) continue;
      const c = <i32>((gpa - r.gpa) / RAM_CHUNK);
      if (r.ready[c] != 0) return false;
      this.makeReady(r, c, true);
      return true;
    }
    return false;
  }

  get size(): u64 {
    let total: u64 = 0;
    for (let i = 0; i < this.regions.length; i++) total += this.regions[i].size;
    return total;
  }

  // Host-physical address of [gpa, gpa + length), or -1 if any of it is not
  // RAM. The range is ready when this returns.
  translate(gpa: u64, length: u64): i64 {
    const r = this.regionOf(gpa, length);
    if (r === null) return -1;
    const offset = gpa - r.gpa, last = length > 0 ? offset + length - 1 : offset;
    for (let c = <i32>(offset / RAM_CHUNK); c <= <i32>(last / RAM_CHUNK); c++) {
      if (unchecked(r.ready[c]) == 0) this.makeReady(r, c, true);
    }
    return <i64>(r.hpa + offset);
  }

  private regionOf(gpa: u64, length: u64): RamRegion | null {
    for (let i = 0; i < this.regions.length; i++) {
      const r = this.regions[i];
      if (gpa >= r.gpa && length <= r.size && gpa - r.gpa <= r.size - length) return r;
    }
    return null;
  }

  // Chunk `c` of `r` is ready, zeroed first unless `zero` is false (the
  // caller has filled it), and mapped.
  private makeReady(r: RamRegion, c: i32, zero: bool): void {
    const offset = <u64>c * RAM_CHUNK, size = r.chunkSize(c);
    if (zero) physZero(r.hpa + offset, size);
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

  // Copies host-physical bytes (a boot module) into guest RAM; false if the
  // destination is not entirely RAM.
  // A chunk the copy fills entirely is not zeroed first: a kernel's
  // segments then cost one pass over their bytes, not two.
  copyFromHost(gpa: u64, hostPhys: u64, length: u64): bool {
    const r = this.regionOf(gpa, length);
    if (r === null) return false;
    if (length == 0) return true;
    const offset = gpa - r.gpa, end = offset + length;
    const first = <i32>(offset / RAM_CHUNK), last = <i32>((end - 1) / RAM_CHUNK);
    for (let c = first; c <= last; c++) {
      const start = <u64>c * RAM_CHUNK;
      const filled = start >= offset && start + r.chunkSize(c) <= end;
      if (r.ready[c] == 0 && !filled) this.makeReady(r, c, true);
    }
    physCopy(r.hpa + offset, hostPhys, length);
    for (let c = first; c <= last; c++) if (r.ready[c] == 0) this.makeReady(r, c, false);
    return true;
  }

  // All of RAM reads as zero from now on: the ready chunks are zeroed (the
  // others will be when they are first touched).
  zero(): void {
    for (let i = 0; i < this.regions.length; i++) {
      const r = this.regions[i];
      for (let c = 0; c < r.ready.length; c++) {
        if (r.ready[c] != 0) physZero(r.hpa + <u64>c * RAM_CHUNK, r.chunkSize(c));
      }
    }
  }
}
