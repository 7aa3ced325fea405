// Loading a Linux bzImage through the 32-bit or 64-bit boot protocol.
//
// A bzImage is real-mode setup code ((setup_sects + 1) * 512 bytes, with the
// setup header at 0x1f1) followed by the protected-mode kernel, which goes to
// code32_start (1 MiB). We skip the real-mode setup entirely, as the 32-bit and
// 64-bit boot protocols allow: the loader builds the "zero page" (struct
// boot_params, 4 KiB) itself with the image's setup header copied in, the
// command line, the initrd and an E820 memory map, and enters the kernel with
// RSI/ESI pointing at it. References are to Documentation/arch/x86/boot.rst
// (sections "The Real-Mode Kernel Header", "Details of Header Fields",
// "32-bit Boot Protocol", "64-bit Boot Protocol") and zero-page.rst for the
// offsets in boot_params.

import { GuestMemory } from "../../core/guestmemory";
import { EntryTables } from "./cpu";
import { FOUR_GIB, GuestLayout, LEGACY_START, LOW_START, NOWHERE, writeCString } from "./layout";
import { BootOptions, CpuMode, LoadResult, hex, span, utf8 } from "./loader";
import { ImageSource } from "./source";

// Setup header fields (boot.rst, "The Real-Mode Kernel Header"): file offset
// = offset in boot_params.
const SETUP_SECTS: u64 = 0x1f1;
const SYSSIZE: u64 = 0x1f4;
const BOOT_FLAG: u64 = 0x1fe;
const JUMP: u64 = 0x200;
const HEADER: u64 = 0x202;
const VERSION: u64 = 0x206;
const TYPE_OF_LOADER: u64 = 0x210;
const LOADFLAGS: u64 = 0x211;
const CODE32_START: u64 = 0x214;
const RAMDISK_IMAGE: u64 = 0x218;
const RAMDISK_SIZE: u64 = 0x21c;
const HEAP_END_PTR: u64 = 0x224;
const CMD_LINE_PTR: u64 = 0x228;
const INITRD_ADDR_MAX: u64 = 0x22c;
const KERNEL_ALIGNMENT: u64 = 0x230;
const RELOCATABLE_KERNEL: u64 = 0x234;
const XLOADFLAGS: u64 = 0x236;
const CMDLINE_SIZE: u64 = 0x238;
const PREF_ADDRESS: u64 = 0x258;
const INIT_SIZE: u64 = 0x260;
// zero-page.rst: fields of boot_params outside the setup header.
const ACPI_RSDP_ADDR: u64 = 0x070;
const E820_ENTRIES: u64 = 0x1e8;
const E820_TABLE: u64 = 0x2d0;
const E820_MAX: i32 = 128;
const HEADER_LIMIT: u64 = 0x290; // the field after the setup header in boot_params
const BOOT_PARAMS_SIZE: u64 = 4096;

const HDRS: u32 = 0x53726448; // "HdrS"
const LOADED_HIGH: u8 = 1 << 0;
const CAN_USE_HEAP: u8 = 1 << 7;
const XLF_KERNEL_64: u16 = 1 << 0;
// boot.rst, "Sample Boot Configuration": the heap ends at 0xe000 in the
// setup segment, and heap_end_ptr is that minus 0x200.
const HEAP_END: u16 = 0xe000 - 0x200;

// A kernel's setup header, read from the image with every field checked.
class Header {
  error: string | null = null;
  version: u16 = 0;
  headerEnd: u64 = 0; // file offset just past the setup header
  setupSize: u64 = 0;
  kernelSize: u64 = 0;
  loadAddress: u64 = 0;
  long: bool = false;
  cmdlineSize: u64 = 0;
  initrdMax: u64 = 0;
  runtimeStart: u64 = 0; // where the kernel decompresses to (init_size bytes)
  initSize: u64 = 0;

  fail(reason: string): Header {
    if (this.error === null) this.error = reason;
    return this;
  }
}

function readHeader(image: ImageSource): Header {
  const h = new Header();
  if (!image.has(0, HEADER + 4)) {
    return h.fail("not a bzImage: the image (" + image.size.toString() + " bytes) is too short for a setup header");
  }
  if (image.readU32(HEADER) != HDRS) return h.fail("not a bzImage: no \"HdrS\" signature at 0x202");
  if (image.readU16(BOOT_FLAG) != 0xaa55) {
    return h.fail("bzImage: boot_flag at 0x1fe is " + hex(image.readU16(BOOT_FLAG)) + ", expected 0xaa55");
  }
  h.version = image.readU16(VERSION);
  const minor = h.version & 0xff; // 0x020f is "2.15"
  const v = "boot protocol " + (h.version >> 8).toString() + "." + (minor < 10 ? "0" : "") + minor.toString();
  if (h.version < 0x206) return h.fail("bzImage: " + v + " is too old (2.06 or later is needed)");
  // "The end of setup header can be calculated as 0x0202 + byte value at offset 0x0201."
  if (image.readU8(JUMP) != 0xeb) return h.fail("bzImage: no short jump at 0x200 to give the setup header's length");
  h.headerEnd = HEADER + <u64>image.readU8(JUMP + 1);
  if (h.headerEnd < CMDLINE_SIZE + 4) {
    return h.fail("bzImage: the setup header ends at " + hex(h.headerEnd) + ", before the fields of " + v);
  }
  if (h.headerEnd > HEADER_LIMIT) {
    return h.fail(
      "bzImage: the setup header runs to " + hex(h.headerEnd) + ", past its room in boot_params (" + hex(HEADER_LIMIT)
        + ")",
    );
  }
  // "If setup_sects is 0, the real value is 4."
  let sects = <u64>image.readU8(SETUP_SECTS);
  if (sects == 0) sects = 4;
  h.setupSize = (sects + 1) * 512;
  if (!image.has(0, h.setupSize) || image.size == h.setupSize) {
    return h.fail(
      "bzImage: truncated: " + sects.toString() + " setup sectors take " + h.setupSize.toString()
        + " bytes and the kernel follows them, but the image has " + image.size.toString(),
    );
  }
  h.kernelSize = image.size - h.setupSize;
  const syssize = <u64>image.readU32(SYSSIZE) * 16; // in 16-byte paragraphs
  if (syssize > h.kernelSize) {
    return h.fail(
      "bzImage: truncated: syssize says the kernel is " + syssize.toString() + " bytes, only " + h.kernelSize.toString()
        + " follow the setup code",
    );
  }
  if ((image.readU8(LOADFLAGS) & LOADED_HIGH) == 0) {
    return h.fail("bzImage: LOADED_HIGH is clear: a zImage, which loads at 0x10000; only bzImages are supported");
  }
  h.loadAddress = <u64>image.readU32(CODE32_START);
  if (h.loadAddress < 0x100000) return h.fail("bzImage: code32_start " + hex(h.loadAddress) + " is below 1 MiB");
  h.long = h.version >= 0x20c && (image.readU16(XLOADFLAGS) & XLF_KERNEL_64) != 0;
  h.cmdlineSize = <u64>image.readU32(CMDLINE_SIZE);
  h.initrdMax = <u64>image.readU32(INITRD_ADDR_MAX);
  // "Details of Header Fields", init_size: the kernel runs from runtime_start
  // and needs init_size bytes there before it looks at the memory map.
  h.runtimeStart = h.loadAddress;
  h.initSize = h.kernelSize;
  if (h.version >= 0x20a && h.headerEnd >= INIT_SIZE + 4) {
    const pref = image.readU64(PREF_ADDRESS);
    const init = <u64>image.readU32(INIT_SIZE);
    if (image.readU8(RELOCATABLE_KERNEL) != 0) {
      const align = <u64>image.readU32(KERNEL_ALIGNMENT);
      if (align == 0 || (align & (align - 1)) != 0) {
        return h.fail("bzImage: kernel_alignment " + hex(align) + " is not a power of two");
      }
      const start = h.loadAddress < pref ? pref : h.loadAddress;
      h.runtimeStart = (start + align - 1) & ~(align - 1);
      if (h.runtimeStart < start) return h.fail("bzImage: pref_address " + hex(pref) + " is out of range");
    } else {
      h.runtimeStart = pref;
    }
    if (init > 0) h.initSize = init;
    if (h.runtimeStart + h.initSize < h.runtimeStart) {
      return h.fail("bzImage: pref_address " + hex(pref) + " is out of range");
    }
  }
  return h;
}

export function loadBzImage(memory: GuestMemory, image: ImageSource, options: BootOptions): LoadResult {
  const result = new LoadResult();
  result.protocol = "linux";
  const h = readHeader(image);
  if (h.error !== null) return result.fail(h.error!);
  const layout = new GuestLayout(memory, options.reserved);

  // The kernel: its image at the load address, and the area it decompresses
  // into; one claim covers both (they may overlap each other).
  const kernelEnd = h.loadAddress + h.kernelSize;
  const runtimeEnd = h.runtimeStart + h.initSize;
  const start = h.runtimeStart < h.loadAddress ? h.runtimeStart : h.loadAddress;
  const end = runtimeEnd > kernelEnd ? runtimeEnd : kernelEnd;
  if (!layout.claim(start, end - start, "the kernel (with init_size)")) return result.fail(layout.error!);

  const cmdline = utf8(options.cmdline);
  if (<u64>cmdline.length > h.cmdlineSize) {
    return result.fail(
      "the command line is " + cmdline.length.toString() + " bytes; this kernel takes at most "
        + h.cmdlineSize.toString() + " (cmdline_size)",
    );
  }
  const zeroPage = layout.place(BOOT_PARAMS_SIZE, 4096, LOW_START, LEGACY_START, false, "the zero page");
  const cmdlineAt = layout.place(<u64>cmdline.length + 1, 16, LOW_START, LEGACY_START, false, "the command line");
  const tables = new EntryTables(layout, h.long ? CpuMode.Long64 : CpuMode.Protected32);
  if (layout.error !== null) return result.fail(layout.error!);

  // The initrd as high as it can go: below initrd_addr_max ("the maximum
  // address that may be occupied by the initial ramdisk") and 4 GiB.
  const initrd = options.initrd;
  let initrdAt: u64 = 0, initrdSize: u64 = 0;
  if (initrd !== null) {
    initrdSize = initrd.size;
    const limit = h.initrdMax + 1 < FOUR_GIB ? h.initrdMax + 1 : FOUR_GIB;
    initrdAt = layout.place(initrdSize, 4096, LEGACY_START, limit, true, "the initrd");
    if (initrdAt == NOWHERE) return result.fail(layout.error!);
  }

  const map = layout.memoryMap();
  if (map.length > E820_MAX) {
    return result.fail(
      "the memory map has " + map.length.toString() + " entries; the zero page holds " + E820_MAX.toString(),
    );
  }

  // Everything fits: write it.
  if (!image.copyToGuest(memory, h.loadAddress, h.setupSize, h.kernelSize)) {
    return result.fail("copying the kernel to " + span(h.loadAddress, kernelEnd) + " failed");
  }
  memory.zeroRange(zeroPage, BOOT_PARAMS_SIZE);
  image.copyToGuest(memory, zeroPage + SETUP_SECTS, SETUP_SECTS, h.headerEnd - SETUP_SECTS);
  memory.write8(zeroPage + TYPE_OF_LOADER, 0xff); // "undefined" boot loader
  memory.write8(zeroPage + LOADFLAGS, memory.read8(zeroPage + LOADFLAGS) | CAN_USE_HEAP);
  memory.write8(zeroPage + HEAP_END_PTR, <u8>(HEAP_END & 0xff));
  memory.write8(zeroPage + HEAP_END_PTR + 1, <u8>(HEAP_END >> 8));
  writeCString(memory, cmdlineAt, cmdline);
  memory.write32(zeroPage + CMD_LINE_PTR, <u32>cmdlineAt);
  if (initrd !== null) {
    if (!initrd.copyToGuest(memory, initrdAt, 0, initrdSize)) return result.fail("copying the initrd failed");
    memory.write32(zeroPage + RAMDISK_IMAGE, <u32>initrdAt);
    memory.write32(zeroPage + RAMDISK_SIZE, <u32>initrdSize);
  }
  if (options.rsdp != 0) memory.write64(zeroPage + ACPI_RSDP_ADDR, options.rsdp);
  memory.write8(zeroPage + E820_ENTRIES, <u8>map.length);
  for (let i = 0; i < map.length; i++) {
    const e = zeroPage + E820_TABLE + <u64>i * 20;
    memory.write64(e, map[i].base);
    memory.write64(e + 8, map[i].length);
    memory.write32(e + 16, map[i].type);
  }

  // 64-bit protocol: enter at load address + 0x200 with RSI = boot_params.
  // 32-bit protocol: enter at code32_start with ESI = boot_params (and EBP,
  // EDI, EBX zero, as every register not set here is).
  tables.apply(memory, result, h.long ? h.loadAddress + 0x200 : h.loadAddress);
  result.rsi = zeroPage;
  result.kernelStart = h.loadAddress;
  result.kernelEnd = kernelEnd;
  result.bootInfo = zeroPage;
  result.cmdlineAddress = cmdlineAt;
  result.initrdStart = initrdAt;
  result.initrdSize = initrdSize;
  return result;
}
