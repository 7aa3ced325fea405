// Loading a multiboot (version 1) kernel the way QEMU's -kernel does.
//
// The kernel carries a header in its first 8192 bytes (Multiboot
// Specification 0.6.96, 3.1 "OS image format"). With flag 16 its address
// fields say where the image goes (the "a.out kludge"); otherwise the image
// must be ELF32 and its PT_LOAD segments are loaded. Modules follow the kernel,
// each page-aligned. The loader builds the information structure (3.3 "Boot
// information format") and enters the kernel as 3.2 "Machine state" says:
// 32-bit protected mode, paging off, EAX = 0x2BADB002, EBX = the structure.

import { GuestMemory } from "../../core/guestmemory";
import { EntryTables } from "./cpu";
import { EM_386, ElfImage, LoadSpan, claimSegments, copySegments, elfClass, physicalEntry, readElf } from "./elf";
import { FOUR_GIB, GuestLayout, LEGACY_START, LOW_START, NOWHERE, writeCString } from "./layout";
import { BootOptions, CpuMode, LoadResult, hex, span, utf8 } from "./loader";
import { ImageSource } from "./source";

const HEADER_MAGIC: u32 = 0x1badb002;
export const BOOTLOADER_MAGIC: u32 = 0x2badb002;
const SEARCH_LIMIT: u64 = 8192;
// Header flags (3.1.2): bits 0-15 are requirements we must meet or refuse.
const PAGE_ALIGN: u32 = 1 << 0;
const MEMORY_INFO: u32 = 1 << 1;
const VIDEO_MODE: u32 = 1 << 2;
const ADDRESS_FIELDS: u32 = 1 << 16;
// Information structure flags and offsets (3.3).
const INFO_SIZE: u64 = 120;
const HAS_MEMORY: u32 = 1 << 0;
const HAS_CMDLINE: u32 = 1 << 2;
const HAS_MODS: u32 = 1 << 3;
const HAS_MMAP: u32 = 1 << 6;
const HAS_LOADER_NAME: u32 = 1 << 9;
const LOADER_NAME = "typervisor";

// Where the header is: its file offset and flags, or an error.
export class Mb1Header {
  error: string | null = null;
  offset: u64 = 0;
  flags: u32 = 0;
}

// 3.1.1: "The Multiboot header must be contained completely within the first
// 8192 bytes of the OS image, and must be longword (32-bit) aligned."
export function findMultiboot1Header(image: ImageSource): Mb1Header {
  const h = new Mb1Header();
  let badChecksum: i64 = -1;
  for (let off: u64 = 0; off + 12 <= SEARCH_LIMIT && image.has(off, 12); off += 4) {
    if (image.readU32(off) != HEADER_MAGIC) continue;
    const flags = image.readU32(off + 4);
    if (HEADER_MAGIC + flags + image.readU32(off + 8) == 0) {
      h.offset = off;
      h.flags = flags;
      return h;
    }
    if (badChecksum < 0) badChecksum = <i64>off;
  }
  h.error = badChecksum >= 0
    ? "multiboot: the header at " + hex(<u64>badChecksum) + " has a bad checksum (magic + flags + checksum must be 0)"
    : "not a multiboot kernel: no header (magic 0x1badb002) in the first 8192 bytes";
  return h;
}

// Where the kernel image goes, from the address fields (3.1.3) or the ELF headers.
class KernelPlan {
  error: string | null = null;
  elf: ElfImage | null = null;
  fileOffset: u64 = 0; // a.out kludge: load [fileOffset, +loadSize) at loadAddr
  loadAddr: u64 = 0;
  loadSize: u64 = 0;
  memSize: u64 = 0; // loadSize + bss
  entry: u64 = 0;
}

function planAddressFields(image: ImageSource, header: u64): KernelPlan {
  const p = new KernelPlan();
  if (!image.has(header, 32)) {
    p.error = "multiboot: truncated: the address fields run past the end of the image";
    return p;
  }
  const headerAddr = <u64>image.readU32(header + 12), loadAddr = <u64>image.readU32(header + 16);
  const loadEnd = <u64>image.readU32(header + 20), bssEnd = <u64>image.readU32(header + 24);
  p.entry = <u64>image.readU32(header + 28);
  p.loadAddr = loadAddr;
  // The header's file offset corresponds to header_addr; load_addr is the
  // address of the first byte to load.
  if (headerAddr < loadAddr || headerAddr - loadAddr > header) {
    p.error = "multiboot: header_addr " + hex(headerAddr) + " and load_addr " + hex(loadAddr)
      + " do not match the header's place in the file (" + hex(header) + ")";
    return p;
  }
  p.fileOffset = header - (headerAddr - loadAddr);
  // load_end_addr 0: load to the end of the file.
  if (loadEnd == 0) {
    p.loadSize = image.size - p.fileOffset;
  } else if (loadEnd < loadAddr) {
    p.error = "multiboot: load_end_addr " + hex(loadEnd) + " is below load_addr " + hex(loadAddr);
    return p;
  } else {
    p.loadSize = loadEnd - loadAddr;
  }
  // QEMU fails here with "fread() failed".
  if (!image.has(p.fileOffset, p.loadSize)) {
    p.error = "multiboot: truncated: load_end_addr asks for " + p.loadSize.toString() + " bytes from file offset "
      + hex(p.fileOffset) + ", the image has " + image.size.toString();
    return p;
  }
  // bss_end_addr 0: no bss.
  p.memSize = p.loadSize;
  if (bssEnd != 0) {
    if (bssEnd < loadAddr + p.loadSize) {
      p.error = "multiboot: bss_end_addr " + hex(bssEnd) + " is below the end of the loaded image "
        + hex(loadAddr + p.loadSize);
      return p;
    }
    p.memSize = bssEnd - loadAddr;
  }
  if (p.entry < loadAddr || p.entry >= loadAddr + p.memSize) {
    p.error = "multiboot: entry_addr " + hex(p.entry) + " is outside the kernel "
      + span(loadAddr, loadAddr + p.memSize);
  }
  return p;
}

function planElf(image: ImageSource): KernelPlan {
  const p = new KernelPlan();
  // QEMU refuses these too: a multiboot kernel is entered in 32-bit mode.
  if (elfClass(image) == 2) {
    p.error = "multiboot: a 64-bit ELF image needs the header's address fields (flag 16)";
    return p;
  }
  const elf = readElf(image, false, EM_386);
  if (elf.error !== null) {
    p.error = "multiboot: " + elf.error!;
    return p;
  }
  p.elf = elf;
  p.entry = physicalEntry(elf);
  if (p.entry == u64.MAX_VALUE) {
    p.error = "multiboot: the ELF entry point " + hex(elf.entry) + " is in no loadable segment";
  }
  return p;
}

export function loadMultiboot1(memory: GuestMemory, image: ImageSource, options: BootOptions): LoadResult {
  const result = new LoadResult();
  result.protocol = "multiboot1";
  const header = findMultiboot1Header(image);
  if (header.error !== null) return result.fail(header.error!);
  const unmet = header.flags & 0xffff & ~(PAGE_ALIGN | MEMORY_INFO);
  if (unmet & VIDEO_MODE) {
    return result.fail(
      "multiboot: the kernel requires video mode information (flag 2), which typervisor does not provide",
    );
  }
  if (unmet != 0) {
    return result.fail("multiboot: the kernel requires features typervisor does not know (flags " + hex(unmet) + ")");
  }

  const plan = (header.flags & ADDRESS_FIELDS) != 0 ? planAddressFields(image, header.offset) : planElf(image);
  if (plan.error !== null) return result.fail(plan.error!);
  const layout = new GuestLayout(memory, options.reserved);
  let loaded = new LoadSpan();
  const elf = plan.elf;
  if (elf !== null) loaded = claimSegments(elf, layout);
  else if (layout.claim(plan.loadAddr, plan.memSize, "the kernel")) {
    loaded.start = plan.loadAddr;
    loaded.end = plan.loadAddr + plan.memSize;
  }
  if (layout.error !== null) return result.fail(layout.error!);

  // Modules, page-aligned after the kernel (always, whether or not flag 0 asks).
  const modules = options.modules;
  const moduleAt: u64[] = [];
  let next = (loaded.end + 4095) & ~<u64>4095;
  for (let i = 0; i < modules.length; i++) {
    const at = layout.place(modules[i].source.size, 4096, next, FOUR_GIB, false, "module " + i.toString());
    if (at == NOWHERE) return result.fail(layout.error!);
    moduleAt.push(at);
    next = at + modules[i].source.size;
  }

  // The information structure and what it points to, in low memory.
  const map = layout.memoryMap();
  const cmdline = utf8(options.cmdline), name = utf8(LOADER_NAME);
  const info = layout.place(INFO_SIZE, 8, LOW_START, LEGACY_START, false, "the multiboot information");
  const mmap = layout.place(<u64>map.length * 24, 8, LOW_START, LEGACY_START, false, "the memory map");
  const cmdlineAt = layout.place(<u64>cmdline.length + 1, 1, LOW_START, LEGACY_START, false, "the command line");
  const nameAt = layout.place(<u64>name.length + 1, 1, LOW_START, LEGACY_START, false, "the boot loader name");
  const mods = modules.length > 0
    ? layout.place(<u64>modules.length * 16, 8, LOW_START, LEGACY_START, false, "the module list")
    : 0;
  const moduleCmdlines: Uint8Array[] = [];
  const moduleCmdlineAt: u64[] = [];
  for (let i = 0; i < modules.length; i++) {
    moduleCmdlines.push(utf8(modules[i].cmdline));
    moduleCmdlineAt.push(
      layout.place(
        <u64>moduleCmdlines[i].length + 1,
        1,
        LOW_START,
        LEGACY_START,
        false,
        "module " + i.toString() + "'s command line",
      ),
    );
  }
  const tables = new EntryTables(layout, CpuMode.Protected32);
  if (layout.error !== null) return result.fail(layout.error!);

  if (elf !== null) {
    if (!copySegments(elf, image, memory)) return result.fail("multiboot: copying the kernel's segments failed");
  } else {
    image.copyToGuest(memory, plan.loadAddr, plan.fileOffset, plan.loadSize);
    memory.zeroRange(plan.loadAddr + plan.loadSize, plan.memSize - plan.loadSize);
  }
  for (let i = 0; i < modules.length; i++) {
    const m = modules[i].source;
    if (!m.copyToGuest(memory, moduleAt[i], 0, m.size)) {
      return result.fail("multiboot: copying module " + i.toString() + " failed");
    }
    writeCString(memory, moduleCmdlineAt[i], moduleCmdlines[i]);
    const e = mods + <u64>i * 16; // mod_start, mod_end, string, reserved
    memory.write32(e, <u32>moduleAt[i]);
    memory.write32(e + 4, <u32>(moduleAt[i] + m.size));
    memory.write32(e + 8, <u32>moduleCmdlineAt[i]);
    memory.write32(e + 12, 0);
  }
  // mem_lower: KiB of RAM from 0; mem_upper: KiB of RAM from 1 MiB to the first hole.
  let lowerKib: u64 = 0, upperKib: u64 = 0;
  for (let i = 0; i < map.length; i++) {
    const e = mmap + <u64>i * 24; // size (of the rest: 20), base_addr, length, type
    memory.write32(e, 20);
    memory.write64(e + 4, map[i].base);
    memory.write64(e + 12, map[i].length);
    memory.write32(e + 20, map[i].type);
    if (map[i].type == 1 && map[i].base == 0) lowerKib = map[i].length >> 10;
    if (map[i].type == 1 && map[i].base == 0x100000) upperKib = map[i].length >> 10;
  }
  writeCString(memory, cmdlineAt, cmdline);
  writeCString(memory, nameAt, name);
  memory.zeroRange(info, INFO_SIZE);
  let flags = HAS_MEMORY | HAS_CMDLINE | HAS_MMAP | HAS_LOADER_NAME;
  if (modules.length > 0) flags |= HAS_MODS;
  memory.write32(info, flags);
  memory.write32(info + 4, <u32>lowerKib);
  memory.write32(info + 8, <u32>(upperKib > 0xffffffff ? 0xffffffff : upperKib));
  memory.write32(info + 16, <u32>cmdlineAt);
  memory.write32(info + 20, <u32>modules.length);
  memory.write32(info + 24, <u32>mods);
  memory.write32(info + 44, <u32>(<u64>map.length * 24));
  memory.write32(info + 48, <u32>mmap);
  memory.write32(info + 64, <u32>nameAt);

  tables.apply(memory, result, plan.entry);
  result.rax = BOOTLOADER_MAGIC;
  result.rbx = info;
  result.kernelStart = loaded.start;
  result.kernelEnd = loaded.end;
  result.bootInfo = info;
  result.cmdlineAddress = cmdlineAt;
  result.moduleStarts = moduleAt;
  return result;
}
