// Where a loader reads a kernel, initrd or module image from.
//
// An image is a run of bytes the boot loader left in host-physical memory (a
// boot module). Loaders never touch it directly: they go through an
// ImageSource, which knows its size, reads little-endian integers at an
// offset and returns 0 for any byte outside the image, so a loader that forgets
// a bounds check reads zeros instead of the host's memory. Loaders still check
// every offset they use with has() first, so that a truncated image becomes a
// clear error rather than a kernel built from zeros. Copies into the guest go
// through GuestMemory, which checks the destination.

import { physRead8, physRead16, physRead32, physRead64 } from "../../../kernel/arch/shim";
import { BootModule } from "../../../kernel/boot/bootinfo";
import { GuestMemory } from "../../core/guestmemory";

export abstract class ImageSource {
  constructor(public size: u64) {}

  // True if [offset, offset + length) lies inside the image (overflow-safe).
  has(offset: u64, length: u64): bool {
    return offset <= this.size && length <= this.size - offset;
  }

  abstract readU8(offset: u64): u8;
  abstract readU16(offset: u64): u16;
  abstract readU32(offset: u64): u32;
  abstract readU64(offset: u64): u64;

  // Copies image bytes [offset, offset + length) to guest-physical `gpa`;
  // false if the bytes are not all in the image or the destination is not RAM.
  abstract copyToGuest(memory: GuestMemory, gpa: u64, offset: u64, length: u64): bool;

  // The NUL-terminated ASCII string at `offset` (at most `max` bytes), or
  // null if it is not terminated inside the image within `max` bytes.
  readCString(offset: u64, max: u64): string | null {
    let s = "";
    for (let i: u64 = 0; i < max; i++) {
      if (!this.has(offset + i, 1) || offset + i < offset) return null;
      const c = this.readU8(offset + i);
      if (c == 0) return s;
      s += String.fromCharCode(c);
    }
    return null;
  }
}

// An image in host-physical memory [start, start + size): a boot module,
// which stays put, or a buffer read from a disk, which goes back to the
// frame allocator once the loader is done (`lasting` false).
export class PhysImageSource extends ImageSource {
  constructor(public start: u64, size: u64, private lasting: bool = true) {
    super(size);
  }

  readU8(offset: u64): u8 {
    return this.has(offset, 1) ? physRead8(this.start + offset) : 0;
  }
  readU16(offset: u64): u16 {
    return this.has(offset, 2) ? physRead16(this.start + offset) : 0;
  }
  readU32(offset: u64): u32 {
    return this.has(offset, 4) ? physRead32(this.start + offset) : 0;
  }
  readU64(offset: u64): u64 {
    return this.has(offset, 8) ? physRead64(this.start + offset) : 0;
  }

  // RAM not yet touched only notes a copy from a lasting image, to be made
  // when the guest first touches it; a buffer's bytes must move now.
  copyToGuest(memory: GuestMemory, gpa: u64, offset: u64, length: u64): bool {
    if (!this.has(offset, length)) return false;
    if (this.lasting) return memory.copyFromHost(gpa, this.start + offset, length);
    return memory.dma(gpa, this.start + offset, length, true);
  }
}

// The image of a boot module.
export function moduleSource(module: BootModule): ImageSource {
  return new PhysImageSource(module.start, module.end >= module.start ? module.end - module.start : 0);
}

// An image with the command line it is passed with (multiboot modules).
export class ModuleImage {
  constructor(public source: ImageSource, public cmdline: string) {}
}
