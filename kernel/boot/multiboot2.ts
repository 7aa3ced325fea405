// Reading a Multiboot 2 information structure (GRUB's "multiboot2", BIOS and UEFI).
// Multiboot2 Specification version 2.0, section 3.6 "Boot information format":
// a size header, then 8-byte-aligned tags, each (type, size, payload), ending
// with a tag of type 0.

import { physRead8, physRead32, physRead64 } from "../arch/shim";
import { Framebuffer, FramebufferKind } from "../console/framebuffer";
import { BootInfo, BootModule, MemoryRegion, readCString } from "./bootinfo";

export const MULTIBOOT2_MAGIC: u32 = 0x36d76289;

const TAG_END: u32 = 0;
const TAG_CMDLINE: u32 = 1;
const TAG_LOADER_NAME: u32 = 2;
const TAG_MODULE: u32 = 3;
const TAG_MEMORY_MAP: u32 = 6;
const TAG_FRAMEBUFFER: u32 = 8;
const TAG_EFI32_SYSTEM_TABLE: u32 = 11;
const TAG_EFI64_SYSTEM_TABLE: u32 = 12;
const TAG_ACPI_OLD_RSDP: u32 = 14;
const TAG_ACPI_NEW_RSDP: u32 = 15;
const RGB_TAG_SIZE: u64 = 38;
const MAX_INFO_SIZE: u32 = 1 << 20;

export function parseMultiboot2(info: u64): BootInfo {
  const boot = new BootInfo();
  boot.protocol = "multiboot2";
  if (info == 0 || (info & 7) != 0) {
    return boot.fail("garbled boot information: the multiboot2 info pointer is " + (info == 0 ? "null" : "misaligned"));
  }
  const total = physRead32(info);
  if (total < 16 || total > MAX_INFO_SIZE) {
    return boot.fail("garbled boot information: multiboot2 info claims " + total.toString() + " bytes");
  }
  boot.infoStart = info;
  boot.infoEnd = info + <u64>total;

  let tag = info + 8;
  let sawEnd = false;
  while (tag + 8 <= boot.infoEnd) {
    const type = physRead32(tag), size = <u64>physRead32(tag + 4);
    if (size < 8 || tag + size > boot.infoEnd) {
      return boot.fail(
        "garbled boot information: tag " + type.toString() + " of " + size.toString() + " bytes overruns the structure",
      );
    }
    if (type == TAG_END) {
      sawEnd = true;
      break;
    }
    readTag(boot, type, tag, size);
    if (boot.error !== null) return boot;
    tag += (size + 7) & ~7;
  }
  if (!sawEnd) return boot.fail("garbled boot information: no end tag");
  if (boot.memory.length == 0) return boot.fail("no memory map: the boot loader gave no memory map tag");
  return boot;
}

// Smallest valid size of each tag we read: header plus fixed fields (plus
// at least a NUL for strings; an RSDP copy is at least 20 bytes).
function minimumSize(type: u32): u64 {
  if (type == TAG_CMDLINE || type == TAG_LOADER_NAME) return 9;
  if (type == TAG_MODULE) return 17;
  if (type == TAG_MEMORY_MAP) return 16;
  if (type == TAG_FRAMEBUFFER) return 32; // EGA text has no colour fields
  if (type == TAG_ACPI_OLD_RSDP || type == TAG_ACPI_NEW_RSDP) return 28;
  return 8;
}

// Strings end within their own tag; fixed fields must fit in it.
function readTag(boot: BootInfo, type: u32, tag: u64, size: u64): void {
  if (size < minimumSize(type)) {
    boot.fail("garbled boot information: tag " + type.toString() + " of " + size.toString() + " bytes is too short");
    return;
  }
  if (type == TAG_CMDLINE || type == TAG_LOADER_NAME) {
    const text = readCString(tag + 8, size - 8);
    if (text === null) {
      boot.fail("garbled boot information: unterminated string in tag " + type.toString());
      return;
    }
    if (type == TAG_CMDLINE) boot.cmdline = text;
    else boot.loaderName = text;
  } else if (type == TAG_MODULE) {
    const start = <u64>physRead32(tag + 8), end = <u64>physRead32(tag + 12);
    const cmdline = readCString(tag + 16, size - 16);
    if (end < start || cmdline === null) {
      boot.fail("garbled boot information: module " + boot.modules.length.toString() + " is malformed");
      return;
    }
    boot.modules.push(new BootModule(start, end, cmdline));
  } else if (type == TAG_MEMORY_MAP) {
    const entrySize = <u64>physRead32(tag + 8);
    if (entrySize < 24) {
      boot.fail("garbled boot information: memory map entries of " + entrySize.toString() + " bytes");
      return;
    }
    for (let entry = tag + 16; entry + entrySize <= tag + size; entry += entrySize) {
      boot.memory.push(new MemoryRegion(physRead64(entry), physRead64(entry + 8), physRead32(entry + 16)));
    }
  } else if (type == TAG_FRAMEBUFFER) {
    const fb = readFramebuffer(tag);
    if (fb.kind == FramebufferKind.Rgb && size < RGB_TAG_SIZE) {
      boot.fail("garbled boot information: an RGB framebuffer tag of " + size.toString() + " bytes");
      return;
    }
    boot.framebuffer = fb;
  } else if (type == TAG_EFI32_SYSTEM_TABLE || type == TAG_EFI64_SYSTEM_TABLE) {
    boot.uefi = true;
  } else if (type == TAG_ACPI_NEW_RSDP || (type == TAG_ACPI_OLD_RSDP && boot.rsdp == 0)) {
    boot.rsdp = tag + 8; // the tag holds a copy of the RSDP itself
  }
}

// The framebuffer info tag (3.6.12): address, pitch, width, height, bits
// per pixel, type, a reserved word, then for RGB the position and size of
// the red, green and blue fields.
function readFramebuffer(tag: u64): Framebuffer {
  const fb = new Framebuffer();
  fb.address = physRead64(tag + 8);
  fb.pitch = physRead32(tag + 16);
  fb.width = physRead32(tag + 20);
  fb.height = physRead32(tag + 24);
  fb.bitsPerPixel = physRead8(tag + 28);
  fb.kind = <FramebufferKind>physRead8(tag + 29);
  fb.redShift = physRead8(tag + 32);
  fb.redBits = physRead8(tag + 33);
  fb.greenShift = physRead8(tag + 34);
  fb.greenBits = physRead8(tag + 35);
  fb.blueShift = physRead8(tag + 36);
  fb.blueBits = physRead8(tag + 37);
  return fb;
}
