// Loading an uncompressed ELF64 vmlinux through its PVH entry point.
//
// Xen's PVH boot ABI lets a VMM skip the bzImage's setup code and
// decompressor: the kernel's ELF file is loaded segment by segment at the
// physical addresses its program headers give, and entered at the 32-bit
// address its ELF note XEN_ELFNOTE_PHYS32_ENTRY (name "Xen", type 18) holds, in
// 32-bit protected mode with paging off and EBX pointing at an hvm_start_info
// structure that gives the command line, the modules (the initrd) and the
// memory map. The layouts are those of xen/include/public/arch-x86/hvm/
// start_info.h (version 1) and the entry state that of docs/misc/pvh.pandoc.

import { GuestMemory } from "../../core/guestmemory";
import { EntryTables } from "./cpu";
import { EM_X86_64, ElfImage, claimSegments, copySegments, findNote, readElf } from "./elf";
import { FOUR_GIB, GuestLayout, LEGACY_START, LOW_START, NOWHERE, writeCString } from "./layout";
import { BootOptions, CpuMode, LoadResult, hex, utf8 } from "./loader";
import { ImageSource } from "./source";

// xen/include/public/elfnote.h
export const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;

// hvm_start_info (start_info.h): offsets of its fields, 56 bytes in version 1.
const XEN_HVM_START_MAGIC_VALUE: u32 = 0x336ec578;
const START_INFO_SIZE: u64 = 56;
const SI_MAGIC: u64 = 0;
const SI_VERSION: u64 = 4;
const SI_NR_MODULES: u64 = 12;
const SI_MODLIST_PADDR: u64 = 16;
const SI_CMDLINE_PADDR: u64 = 24;
const SI_RSDP_PADDR: u64 = 32;
const SI_MEMMAP_PADDR: u64 = 40; // version 1 and later
const SI_MEMMAP_ENTRIES: u64 = 48;
// hvm_modlist_entry: paddr, size, cmdline_paddr, reserved (all u64).
const MODLIST_ENTRY_SIZE: u64 = 32;
// hvm_memmap_table_entry: addr (u64), size (u64), type (u32), reserved (u32).
const MEMMAP_ENTRY_SIZE: u64 = 24;

// The PVH entry point of an ELF64 image, or an error.
export class PvhEntry {
  error: string | null = null;
  entry: u64 = 0;
  elf: ElfImage = new ElfImage();
}

export function findPvhEntry(image: ImageSource): PvhEntry {
  const out = new PvhEntry();
  out.elf = readElf(image, true, EM_X86_64);
  if (out.elf.error !== null) {
    out.error = out.elf.error;
    return out;
  }
  const note = findNote(out.elf, image, "Xen", XEN_ELFNOTE_PHYS32_ENTRY);
  if (note === null) {
    out.error = "PVH: no PVH entry point: the ELF image has no \"Xen\" note of type 18 "
      + "(XEN_ELFNOTE_PHYS32_ENTRY); build the kernel with CONFIG_PVH";
    return out;
  }
  // Linux writes the address as a pointer-sized value: 8 bytes in a 64-bit build.
  if (note.size == 4) out.entry = <u64>image.readU32(note.offset);
  else if (note.size == 8) out.entry = image.readU64(note.offset);
  else {
    out.error = "PVH: the XEN_ELFNOTE_PHYS32_ENTRY note holds " + note.size.toString() + " bytes, expected 4 or 8";
    return out;
  }
  if (out.entry >= FOUR_GIB) out.error = "PVH: the 32-bit entry point " + hex(out.entry) + " is above 4 GiB";
  return out;
}

export function loadPvh(memory: GuestMemory, image: ImageSource, options: BootOptions): LoadResult {
  const result = new LoadResult();
  result.protocol = "pvh";
  const pvh = findPvhEntry(image);
  if (pvh.error !== null) return result.fail(pvh.error!);
  const elf = pvh.elf;
  const layout = new GuestLayout(memory, options.reserved);

  const loaded = claimSegments(elf, layout);
  if (layout.error !== null) return result.fail(layout.error!);
  if (pvh.entry < loaded.start || pvh.entry >= loaded.end) {
    return result.fail("PVH: the entry point " + hex(pvh.entry) + " is outside the loaded kernel");
  }

  const map = layout.memoryMap();
  const cmdline = utf8(options.cmdline);
  const startInfo = layout.place(START_INFO_SIZE, 8, LOW_START, LEGACY_START, false, "hvm_start_info");
  const memmap = layout.place(<u64>map.length * MEMMAP_ENTRY_SIZE, 8, LOW_START, LEGACY_START, false, "the memory map");
  const cmdlineAt = layout.place(<u64>cmdline.length + 1, 8, LOW_START, LEGACY_START, false, "the command line");
  const initrd = options.initrd;
  const modlist = initrd !== null
    ? layout.place(MODLIST_ENTRY_SIZE, 8, LOW_START, LEGACY_START, false, "the module list")
    : 0;
  const tables = new EntryTables(layout, CpuMode.Protected32);
  if (layout.error !== null) return result.fail(layout.error!);
  // Xen places everything below 4 GiB (start_info.h); so do we, initrd high.
  let initrdAt: u64 = 0;
  if (initrd !== null) {
    initrdAt = layout.place(initrd.size, 4096, LEGACY_START, FOUR_GIB, true, "the initrd");
    if (initrdAt == NOWHERE) return result.fail(layout.error!);
  }

  if (!copySegments(elf, image, memory)) return result.fail("PVH: copying the kernel's segments failed");
  memory.zeroRange(startInfo, START_INFO_SIZE);
  memory.write32(startInfo + SI_MAGIC, XEN_HVM_START_MAGIC_VALUE);
  memory.write32(startInfo + SI_VERSION, 1);
  writeCString(memory, cmdlineAt, cmdline);
  memory.write64(startInfo + SI_CMDLINE_PADDR, cmdlineAt);
  memory.write64(startInfo + SI_RSDP_PADDR, options.rsdp);
  if (initrd !== null) {
    if (!initrd.copyToGuest(memory, initrdAt, 0, initrd.size)) return result.fail("PVH: copying the initrd failed");
    memory.zeroRange(modlist, MODLIST_ENTRY_SIZE); // no command line, reserved 0
    memory.write64(modlist, initrdAt);
    memory.write64(modlist + 8, initrd.size);
    memory.write32(startInfo + SI_NR_MODULES, 1);
    memory.write64(startInfo + SI_MODLIST_PADDR, modlist);
  }
  for (let i = 0; i < map.length; i++) {
    const e = memmap + <u64>i * MEMMAP_ENTRY_SIZE;
    memory.write64(e, map[i].base);
    memory.write64(e + 8, map[i].length);
    memory.write32(e + 16, map[i].type); // the E820 types are Xen's XEN_HVM_MEMMAP_TYPE_*
    memory.write32(e + 20, 0);
  }
  memory.write64(startInfo + SI_MEMMAP_PADDR, memmap);
  memory.write32(startInfo + SI_MEMMAP_ENTRIES, <u32>map.length);

  // pvh.pandoc: 32-bit protected mode, paging off, flat CS/DS/ES/SS, EBX = start_info.
  tables.apply(memory, result, pvh.entry);
  result.rbx = startInfo;
  result.kernelStart = loaded.start;
  result.kernelEnd = loaded.end;
  result.bootInfo = startInfo;
  result.cmdlineAddress = cmdlineAt;
  result.initrdStart = initrdAt;
  result.initrdSize = initrd !== null ? initrd.size : 0;
  return result;
}
