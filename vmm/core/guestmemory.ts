// A VM's RAM and the one narrow door through which the hypervisor touches it.
//
// Guest RAM is host frames outside the linear memory, so the hypervisor can
// only reach it through the shim's raw physical access. Every such access goes
// through GuestMemory, which checks that the whole guest-physical range lies
// in this VM's RAM before touching anything: a guest cannot make the
// hypervisor read or write outside the guest.

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

export class RamRegion {
  constructor(public gpa: u64, public hpa: u64, public size: u64) {}
}

export class GuestMemory {
  regions: RamRegion[] = [];

  add(gpa: u64, hpa: u64, size: u64): void {
    this.regions.push(new RamRegion(gpa, hpa, size));
  }

  get size(): u64 {
    let total: u64 = 0;
    for (let i = 0; i < this.regions.length; i++) total += this.regions[i].size;
    return total;
  }

  // Host-physical address of [gpa, gpa + length), or -1 if any of it is not RAM.
  translate(gpa: u64, length: u64): i64 {
    for (let i = 0; i < this.regions.length; i++) {
      const r = this.regions[i];
      if (gpa >= r.gpa && length <= r.size && gpa - r.gpa <= r.size - length) return <i64>(r.hpa + (gpa - r.gpa));
    }
    return -1;
  }

  contains(gpa: u64, length: u64): bool {
    return this.translate(gpa, length) >= 0;
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
  copyFromHost(gpa: u64, hostPhys: u64, length: u64): bool {
    const h = this.translate(gpa, length);
    if (h < 0) return false;
    physCopy(<u64>h, hostPhys, length);
    return true;
  }

  zero(): void {
    for (let i = 0; i < this.regions.length; i++) physZero(this.regions[i].hpa, this.regions[i].size);
  }
}
