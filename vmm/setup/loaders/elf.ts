// Reading ELF executables: the header, the program headers, notes.
//
// Both the PVH loader (ELF64 vmlinux) and the multiboot loader (ELF32 kernels)
// load an ELF image the way a boot loader does: each PT_LOAD segment's
// p_filesz bytes from p_offset go to physical address p_paddr, and the rest of
// p_memsz is zeroed. Everything the headers say is checked against the image
// before use (System V ABI, "ELF Object File Format", chapters 4 "ELF Header"
// and 5 "Program Header"; the gABI's figures give the field offsets below).

import { GuestMemory } from "../../core/guestmemory";
import { GuestLayout } from "./layout";
import { hex, span } from "./loader";
import { ImageSource } from "./source";

export const EM_386: u16 = 3;
export const EM_X86_64: u16 = 62;
const ET_EXEC: u16 = 2;
export const PT_LOAD: u32 = 1;
export const PT_NOTE: u32 = 4;
const MAX_PHNUM: u32 = 256;

export class Segment {
  type: u32 = 0;
  offset: u64 = 0;
  vaddr: u64 = 0;
  paddr: u64 = 0;
  filesz: u64 = 0;
  memsz: u64 = 0;
  align: u64 = 0;
}

export class ElfImage {
  error: string | null = null;
  is64: bool = false;
  entry: u64 = 0;
  segments: Segment[] = [];

  fail(reason: string): ElfImage {
    if (this.error === null) this.error = "ELF: " + reason;
    return this;
  }
}

// "\x7fELF" at offset 0.
export function isElf(image: ImageSource): bool {
  return image.has(0, 4) && image.readU32(0) == 0x464c457f;
}

// The ELF class byte: 1 for 32-bit, 2 for 64-bit (0 if not ELF).
export function elfClass(image: ImageSource): u8 {
  return isElf(image) && image.has(4, 1) ? image.readU8(4) : 0;
}

// Checks the header and reads the program headers of an executable for `machine`.
export function readElf(image: ImageSource, is64: bool, machine: u16): ElfImage {
  const elf = new ElfImage();
  elf.is64 = is64;
  const ehsize: u64 = is64 ? 64 : 52;
  if (!isElf(image)) return elf.fail("not an ELF image (no \\x7fELF magic)");
  if (!image.has(0, ehsize)) {
    return elf.fail("truncated: the image (" + image.size.toString() + " bytes) is shorter than an ELF header");
  }
  const cls = image.readU8(4);
  if (cls != (is64 ? 2 : 1)) {
    const name = cls == 1 ? "32-bit" : cls == 2 ? "64-bit" : "unknown";
    return elf.fail("class " + cls.toString() + " (" + name + "), expected " + (is64 ? "64-bit" : "32-bit"));
  }
  if (image.readU8(5) != 1) return elf.fail("not little-endian (EI_DATA " + image.readU8(5).toString() + ")");
  if (image.readU8(6) != 1) return elf.fail("unknown ELF version " + image.readU8(6).toString());
  const type = image.readU16(16);
  if (type != ET_EXEC) return elf.fail("type " + type.toString() + ", expected an executable (ET_EXEC)");
  const m = image.readU16(18);
  if (m != machine) {
    return elf.fail("machine " + m.toString() + ", expected " + (machine == EM_X86_64 ? "x86-64 (62)" : "i386 (3)"));
  }
  const phoff = is64 ? image.readU64(32) : <u64>image.readU32(28);
  const phentsize = <u64>image.readU16(is64 ? 54 : 42);
  const phnum = <u32>image.readU16(is64 ? 56 : 44);
  elf.entry = is64 ? image.readU64(24) : <u64>image.readU32(24);
  const want: u64 = is64 ? 56 : 32;
  if (phentsize != want) return elf.fail("e_phentsize " + phentsize.toString() + ", expected " + want.toString());
  if (phnum == 0) return elf.fail("no program headers");
  if (phnum > MAX_PHNUM) return elf.fail(phnum.toString() + " program headers (at most " + MAX_PHNUM.toString() + ")");
  if (!image.has(phoff, <u64>phnum * want)) {
    return elf.fail(
      "truncated: program headers at " + hex(phoff) + " run past the end of the image (" + image.size.toString()
        + " bytes)",
    );
  }
  for (let i: u32 = 0; i < phnum; i++) {
    const p = phoff + <u64>i * want;
    const s = new Segment();
    s.type = image.readU32(p);
    if (is64) {
      s.offset = image.readU64(p + 8);
      s.vaddr = image.readU64(p + 16);
      s.paddr = image.readU64(p + 24);
      s.filesz = image.readU64(p + 32);
      s.memsz = image.readU64(p + 40);
      s.align = image.readU64(p + 48);
    } else {
      s.offset = image.readU32(p + 4);
      s.vaddr = image.readU32(p + 8);
      s.paddr = image.readU32(p + 12);
      s.filesz = image.readU32(p + 16);
      s.memsz = image.readU32(p + 20);
      s.align = image.readU32(p + 28);
    }
    if (s.type == PT_LOAD || s.type == PT_NOTE) {
      if (s.type == PT_LOAD && s.filesz > s.memsz) {
        return elf.fail(
          "segment " + i.toString() + ": p_filesz " + hex(s.filesz) + " is larger than p_memsz " + hex(s.memsz),
        );
      }
      if (!image.has(s.offset, s.filesz)) {
        return elf.fail(
          "truncated: segment " + i.toString() + " needs file bytes " + span(s.offset, s.offset + s.filesz)
            + ", the image has " + image.size.toString(),
        );
      }
    }
    elf.segments.push(s);
  }
  if (loadCount(elf) == 0) return elf.fail("no loadable (PT_LOAD) segment");
  return elf;
}

function loadCount(elf: ElfImage): i32 {
  let n = 0;
  for (let i = 0; i < elf.segments.length; i++) if (elf.segments[i].type == PT_LOAD && elf.segments[i].memsz > 0) n++;
  return n;
}

// The guest-physical span [start, end) of a kernel's loaded segments.
export class LoadSpan {
  start: u64 = u64.MAX_VALUE;
  end: u64 = 0;
}

// Claims every PT_LOAD segment at p_paddr; stops at the first one outside RAM
// or over another (layout.error says which).
export function claimSegments(elf: ElfImage, layout: GuestLayout): LoadSpan {
  const out = new LoadSpan();
  for (let i = 0; i < elf.segments.length; i++) {
    const s = elf.segments[i];
    if (s.type != PT_LOAD || s.memsz == 0) continue;
    if (!layout.claim(s.paddr, s.memsz, "segment " + i.toString())) return out;
    if (s.paddr < out.start) out.start = s.paddr;
    if (s.paddr + s.memsz > out.end) out.end = s.paddr + s.memsz;
  }
  return out;
}

// Copies the claimed segments into guest RAM and zeroes their tails.
export function copySegments(elf: ElfImage, image: ImageSource, memory: GuestMemory): bool {
  for (let i = 0; i < elf.segments.length; i++) {
    const s = elf.segments[i];
    if (s.type != PT_LOAD || s.memsz == 0) continue;
    if (!image.copyToGuest(memory, s.paddr, s.offset, s.filesz)) return false;
    if (!memory.zeroRange(s.paddr + s.filesz, s.memsz - s.filesz)) return false;
  }
  return true;
}

// The virtual entry point as a physical address: inside the PT_LOAD segment
// whose virtual range holds it, moved by that segment's p_paddr - p_vaddr.
// u64.MAX_VALUE if no segment holds it.
export function physicalEntry(elf: ElfImage): u64 {
  for (let i = 0; i < elf.segments.length; i++) {
    const s = elf.segments[i];
    if (s.type == PT_LOAD && elf.entry >= s.vaddr && elf.entry - s.vaddr < s.memsz) {
      return s.paddr + (elf.entry - s.vaddr);
    }
  }
  return u64.MAX_VALUE;
}

// A note's descriptor, found in a PT_NOTE segment.
export class Note {
  constructor(public offset: u64, public size: u64) {}
}

// The first note with this name and type (gABI 5.6 "Note Section": namesz,
// descsz, type, then name and descriptor, each padded to the segment's
// alignment: 4, or 8 when p_align says so). Null if there is none; a malformed
// note ends the search of its segment.
export function findNote(elf: ElfImage, image: ImageSource, name: string, type: u32): Note | null {
  for (let i = 0; i < elf.segments.length; i++) {
    const s = elf.segments[i];
    if (s.type != PT_NOTE) continue;
    const pad: u64 = s.align == 8 ? 8 : 4;
    let p = s.offset;
    const end = s.offset + s.filesz;
    while (end - p >= 12) {
      const namesz = <u64>image.readU32(p), descsz = <u64>image.readU32(p + 4), t = image.readU32(p + 8);
      const nameAt = p + 12;
      const descAt = nameAt + ((namesz + pad - 1) & ~(pad - 1));
      const next = descAt + ((descsz + pad - 1) & ~(pad - 1));
      if (descAt > end || descsz > end - descAt) break;
      if (t == type && namesz == <u64>name.length + 1 && image.readCString(nameAt, namesz) == name) {
        return new Note(descAt, descsz);
      }
      if (next > end) break;
      p = next;
    }
  }
  return null;
}
