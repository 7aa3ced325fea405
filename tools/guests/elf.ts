// Just enough of ELF64 for a kernel image and its modules: the header, program
// headers, notes, where the file's ELF contents end, and a section's contents
// by name (a module's .modinfo). The PVH entry point is the note
// XEN_ELFNOTE_PHYS32_ENTRY (type 18, name "Xen"): the 32-bit physical address
// a loader jumps to in protected mode, paging off, with %ebx pointing at an
// hvm_start_info (xen/include/public/arch-x86/hvm/start_info.h).

import { failed } from "./errors";

export const XEN_ELFNOTE_PHYS32_ENTRY = 18;
const PT_LOAD = 1;
const PT_NOTE = 4;
const SHT_NOBITS = 8;
const EM_X86_64 = 62;

export interface ProgramHeader {
  type: number;
  flags: number;
  offset: number;
  vaddr: bigint;
  paddr: bigint;
  filesz: number;
  memsz: number;
  align: number;
}

export interface ElfNote {
  name: string;
  type: number;
  desc: Buffer;
}

export interface Elf64 {
  type: number;
  machine: number;
  entry: bigint;
  programHeaders: ProgramHeader[];
  notes: ElfNote[];
  // One past the last byte any header, segment or section uses.
  end: number;
}

export function parseElf64(file: Buffer): Elf64 {
  if (file.length < 64 || file.readUInt32BE(0) !== 0x7f454c46) throw failed("vmlinux: no ELF magic");
  if (file[4] !== 2) throw failed(`vmlinux: ELF class ${file[4]}, expected 2 (ELF64)`);
  if (file[5] !== 1) throw failed("vmlinux: not little-endian");
  const type = file.readUInt16LE(16);
  const machine = file.readUInt16LE(18);
  const entry = file.readBigUInt64LE(24);
  const phoff = Number(file.readBigUInt64LE(32));
  const shoff = Number(file.readBigUInt64LE(40));
  const phentsize = file.readUInt16LE(54);
  const phnum = file.readUInt16LE(56);
  const shentsize = file.readUInt16LE(58);
  const shnum = file.readUInt16LE(60);
  if (phoff + phnum * phentsize > file.length || (shnum && shoff + shnum * shentsize > file.length)) {
    throw failed("vmlinux: ELF headers point past the end of the file (truncated?)");
  }
  let end = Math.max(64, phoff + phnum * phentsize, shnum ? shoff + shnum * shentsize : 0);
  const programHeaders: ProgramHeader[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    const ph: ProgramHeader = {
      type: file.readUInt32LE(o),
      flags: file.readUInt32LE(o + 4),
      offset: Number(file.readBigUInt64LE(o + 8)),
      vaddr: file.readBigUInt64LE(o + 16),
      paddr: file.readBigUInt64LE(o + 24),
      filesz: Number(file.readBigUInt64LE(o + 32)),
      memsz: Number(file.readBigUInt64LE(o + 40)),
      align: Number(file.readBigUInt64LE(o + 48)),
    };
    if (ph.offset + ph.filesz > file.length) {
      throw failed(`vmlinux: segment ${i} extends past the end of the file (truncated?)`);
    }
    end = Math.max(end, ph.offset + ph.filesz);
    programHeaders.push(ph);
  }
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    const shType = file.readUInt32LE(o + 4);
    const offset = Number(file.readBigUInt64LE(o + 24));
    const size = Number(file.readBigUInt64LE(o + 32));
    if (shType !== SHT_NOBITS && shType !== 0) end = Math.max(end, offset + size);
  }
  const notes: ElfNote[] = [];
  for (const ph of programHeaders) {
    if (ph.type === PT_NOTE) notes.push(...parseNotes(file.subarray(ph.offset, ph.offset + ph.filesz)));
  }
  return { type, machine, entry, programHeaders, notes, end };
}

// A note section or segment: namesz, descsz, type, then name and desc, each padded to 4.
export function parseNotes(data: Buffer): ElfNote[] {
  const notes: ElfNote[] = [];
  const pad4 = (n: number) => (n + 3) & ~3;
  let o = 0;
  while (o + 12 <= data.length) {
    const namesz = data.readUInt32LE(o);
    const descsz = data.readUInt32LE(o + 4);
    const type = data.readUInt32LE(o + 8);
    const nameStart = o + 12;
    const descStart = nameStart + pad4(namesz);
    if (descStart + descsz > data.length) break;
    const name = data.toString("latin1", nameStart, nameStart + namesz).replace(/\0+$/, "");
    notes.push({ name, type, desc: Buffer.from(data.subarray(descStart, descStart + descsz)) });
    o = descStart + pad4(descsz);
  }
  return notes;
}

// The PVH entry point (a physical address), or null without the note.
export function pvhEntry(elf: Elf64): bigint | null {
  const note = elf.notes.find((n) => n.name === "Xen" && n.type === XEN_ELFNOTE_PHYS32_ENTRY);
  if (!note) return null;
  if (note.desc.length >= 8) return note.desc.readBigUInt64LE(0);
  if (note.desc.length >= 4) return BigInt(note.desc.readUInt32LE(0));
  return null;
}

export interface KernelElf extends Elf64 {
  pvhEntry: bigint;
}

// Checks a vmlinux is what the hypervisor expects: ELF64, x86-64, with a PVH entry.
export function checkKernelElf(file: Buffer): KernelElf {
  const elf = parseElf64(file);
  if (elf.machine !== EM_X86_64) throw failed(`vmlinux: ELF machine ${elf.machine}, expected ${EM_X86_64} (x86-64)`);
  if (!elf.programHeaders.some((p) => p.type === PT_LOAD)) throw failed("vmlinux: no loadable segment");
  const entry = pvhEntry(elf);
  if (entry === null) {
    throw failed(
      "vmlinux: no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY, \"Xen\", type 18): kernel built without CONFIG_PVH?",
    );
  }
  return { ...elf, pvhEntry: entry };
}

// The contents of the section named `name`, or null if the file has none.
export function sectionByName(file: Buffer, name: string): Buffer | null {
  if (file.length < 64 || file.readUInt32BE(0) !== 0x7f454c46 || file[4] !== 2 || file[5] !== 1) {
    throw failed("not a little-endian ELF64 file");
  }
  const shoff = Number(file.readBigUInt64LE(40));
  const shentsize = file.readUInt16LE(58);
  const shnum = file.readUInt16LE(60);
  const shstrndx = file.readUInt16LE(62);
  if (shnum === 0) return null;
  if (shstrndx >= shnum || shoff + shnum * shentsize > file.length) {
    throw failed("ELF section headers past the end of the file, or no section of names (truncated?)");
  }
  const section = (i: number) => {
    const o = shoff + i * shentsize;
    const offset = Number(file.readBigUInt64LE(o + 24));
    // A SHT_NOBITS section (.bss) takes no room in the file.
    const size = file.readUInt32LE(o + 4) === SHT_NOBITS ? 0 : Number(file.readBigUInt64LE(o + 32));
    if (offset + size > file.length) throw failed(`ELF section ${i} past the end of the file (truncated?)`);
    return { nameOffset: file.readUInt32LE(o), data: file.subarray(offset, offset + size) };
  };
  // Section names are NUL-terminated strings in the section e_shstrndx names.
  const names = section(shstrndx).data;
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    const end = names.indexOf(0, s.nameOffset);
    if (end >= 0 && names.toString("latin1", s.nameOffset, end) === name) return s.data;
  }
  return null;
}

export const hex = (n: bigint | number) => `0x${n.toString(16)}`;
