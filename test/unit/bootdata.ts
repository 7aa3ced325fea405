// Host-side helpers for the boot information tests: building multiboot 1 and
// 2 structures byte by byte in the fake physical memory, and reading a parsed
// BootInfo back out of the wasm module (test/unit/as/boot.ts).
import type { ASUtil } from "@assemblyscript/loader";
import type { PhysMemory } from "./harness";

export interface BootExports {
  mb1(info: bigint): void;
  mb2(info: bigint): void;
  bootError(): number;
  bootProtocol(): number;
  bootCmdline(): number;
  bootLoaderName(): number;
  bootRsdp(): bigint;
  bootInfoStart(): bigint;
  bootInfoEnd(): bigint;
  regionCount(): number;
  regionBase(i: number): bigint;
  regionLength(i: number): bigint;
  regionType(i: number): number;
  moduleCount(): number;
  moduleStart(i: number): bigint;
  moduleEnd(i: number): bigint;
  moduleCmdline(i: number): number;
  cmdlineParse(text: number): void;
  cmdlineHas(key: number): number;
  cmdlineGet(key: number, fallback: number): number;
  cmdlineGetDefault(key: number): number;
}

export interface Region {
  base: bigint;
  length: bigint;
  type: number;
}
export interface Module {
  start: bigint;
  end: bigint;
  cmdline: string;
}
export interface Boot {
  error: string | null;
  protocol: string;
  cmdline: string;
  loaderName: string;
  rsdp: bigint;
  infoStart: bigint;
  infoEnd: bigint;
  memory: Region[];
  modules: Module[];
}

export function readBoot(e: ASUtil & BootExports): Boot {
  const str = (ptr: number) => e.__getString(ptr >>> 0);
  const memory: Region[] = [];
  for (let i = 0; i < e.regionCount(); i++) {
    memory.push({ base: e.regionBase(i), length: e.regionLength(i), type: e.regionType(i) >>> 0 });
  }
  const modules: Module[] = [];
  for (let i = 0; i < e.moduleCount(); i++) {
    modules.push({ start: e.moduleStart(i), end: e.moduleEnd(i), cmdline: str(e.moduleCmdline(i)) });
  }
  const error = e.bootError();
  return {
    error: error ? str(error) : null,
    protocol: str(e.bootProtocol()),
    cmdline: str(e.bootCmdline()),
    loaderName: str(e.bootLoaderName()),
    rsdp: e.bootRsdp(),
    infoStart: e.bootInfoStart(),
    infoEnd: e.bootInfoEnd(),
    memory,
    modules,
  };
}

// ---------------------------------------------------------------------------
// Multiboot 1 (Multiboot Specification 0.6.96, 3.3 "Boot information format")

export const MB1 = {
  MEMORY: 1 << 0,
  BOOTDEV: 1 << 1,
  CMDLINE: 1 << 2,
  MODS: 1 << 3,
  MMAP: 1 << 6,
  LOADER_NAME: 1 << 9,
};

export interface Mb1Layout {
  info: number; // the 116-byte information structure
  strings: number; // where strings are placed
  mods: number; // module table
  mmap: number; // memory map
}

export const MB1_LAYOUT: Mb1Layout = { info: 0x9000, strings: 0xa000, mods: 0xb000, mmap: 0xc000 };

export class Mb1Builder {
  flags = 0;
  private nextString: number;
  private mmapLength = 0;
  private modCount = 0;
  constructor(private phys: PhysMemory, public layout: Mb1Layout = MB1_LAYOUT) {
    this.nextString = layout.strings;
  }
  private field(offset: number, value: number): void {
    this.phys.write32(this.layout.info + offset, value);
  }
  string(text: string, terminate = true): number {
    const at = this.nextString;
    this.phys.writeString(at, text, terminate);
    this.nextString += (text.length + 1 + 15) & ~15;
    return at;
  }
  memoryBounds(lowerKiB: number, upperKiB: number): this {
    this.flags |= MB1.MEMORY;
    this.field(4, lowerKiB);
    this.field(8, upperKiB);
    return this;
  }
  cmdline(text: string): this {
    this.flags |= MB1.CMDLINE;
    this.field(16, this.string(text));
    return this;
  }
  loaderName(text: string): this {
    this.flags |= MB1.LOADER_NAME;
    this.field(64, this.string(text));
    return this;
  }
  module(start: number, end: number, cmdline: string): this {
    this.flags |= MB1.MODS;
    const entry = this.layout.mods + this.modCount * 16;
    this.phys.write32(entry, start);
    this.phys.write32(entry + 4, end);
    this.phys.write32(entry + 8, this.string(cmdline));
    this.phys.write32(entry + 12, 0);
    this.modCount++;
    this.field(20, this.modCount);
    this.field(24, this.layout.mods);
    return this;
  }
  // One entry: its size field (20 for the standard entry), then base, length, type.
  mmapEntry(base: bigint, length: bigint, type: number, size = 20): this {
    this.flags |= MB1.MMAP;
    const entry = this.layout.mmap + this.mmapLength;
    this.phys.write32(entry, size);
    this.phys.write64(entry + 4, base);
    this.phys.write64(entry + 12, length);
    this.phys.write32(entry + 20, type);
    this.mmapLength += size + 4;
    this.field(44, this.mmapLength);
    this.field(48, this.layout.mmap);
    return this;
  }
  // Writes the flags word; returns the structure's address.
  finish(extraFlags = 0): bigint {
    this.field(0, (this.flags | extraFlags) >>> 0);
    return BigInt(this.layout.info);
  }
}

// ---------------------------------------------------------------------------
// Multiboot 2 (Multiboot2 Specification 2.0, 3.6 "Boot information format")

export const TAG = {
  END: 0,
  CMDLINE: 1,
  LOADER_NAME: 2,
  MODULE: 3,
  BASIC_MEMINFO: 4,
  BOOTDEV: 5,
  MMAP: 6,
  ACPI_OLD: 14,
  ACPI_NEW: 15,
  LOAD_BASE: 21,
};

export interface Tag {
  type: number;
  payload: ArrayLike<number>;
  size?: number; /* override the size field */
}

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const le64 = (v: bigint) => [...le32(Number(v & 0xffffffffn)), ...le32(Number((v >> 32n) & 0xffffffffn))];
const ascii = (text: string, terminate = true) => [...text].map((c) => c.charCodeAt(0)).concat(terminate ? [0] : []);

export const tags = {
  cmdline: (text: string, terminate = true): Tag => ({ type: TAG.CMDLINE, payload: ascii(text, terminate) }),
  loaderName: (text: string): Tag => ({ type: TAG.LOADER_NAME, payload: ascii(text) }),
  module: (start: number, end: number, cmdline: string): Tag => ({
    type: TAG.MODULE,
    payload: [...le32(start), ...le32(end), ...ascii(cmdline)],
  }),
  basicMeminfo: (lowerKiB: number, upperKiB: number): Tag => ({
    type: TAG.BASIC_MEMINFO,
    payload: [...le32(lowerKiB), ...le32(upperKiB)],
  }),
  loadBase: (addr: number): Tag => ({ type: TAG.LOAD_BASE, payload: le32(addr) }),
  // entry_size, entry_version, then entries of base (8), length (8), type (4), reserved (4), padded to entrySize.
  mmap: (entries: Array<[bigint, bigint, number]>, entrySize = 24): Tag => {
    const payload = [...le32(entrySize), ...le32(0)];
    for (const [base, length, type] of entries) {
      const entry = [...le64(base), ...le64(length), ...le32(type), ...le32(0)];
      while (entry.length < entrySize) entry.push(0);
      payload.push(...entry.slice(0, Math.max(entrySize, 0)));
    }
    return { type: TAG.MMAP, payload };
  },
  rsdp: (type: number, bytes: ArrayLike<number>): Tag => ({ type, payload: bytes }),
  raw: (type: number, payload: ArrayLike<number>, size?: number): Tag => ({ type, payload, size }),
  end: (): Tag => ({ type: TAG.END, payload: [] }),
};

export interface Mb2Options {
  totalSize?: number; // override total_size
  pad?: number; // byte to fill the padding between tags with (default 0)
}

// Lays out the structure at `at` (header, tags each 8-aligned); the end tag is
// not added automatically. Returns the tags' addresses and the total size.
export function writeMb2(
  phys: PhysMemory,
  at: number,
  list: Tag[],
  opts: Mb2Options = {},
): { total: number; tagAt: number[] } {
  const bytes: number[] = [0, 0, 0, 0, 0, 0, 0, 0];
  const tagAt: number[] = [];
  for (const t of list) {
    tagAt.push(at + bytes.length);
    const size = t.size ?? 8 + t.payload.length;
    bytes.push(...le32(t.type), ...le32(size), ...Array.from(t.payload));
    while (bytes.length % 8) bytes.push(opts.pad ?? 0);
  }
  const total = bytes.length;
  bytes.splice(0, 4, ...le32(opts.totalSize ?? total));
  phys.writeBytes(at, bytes);
  return { total, tagAt };
}

// A valid ACPI 1.0 (20 bytes) or 2.0+ (36 bytes) RSDP with correct checksums.
export function rsdpBytes(
  opts: {
    revision: number;
    oemId?: string;
    rsdt?: number;
    xsdt?: bigint;
    breakChecksum?: boolean;
    breakExtended?: boolean;
  },
): number[] {
  const b = ascii("RSD PTR ", false);
  b.push(0); // checksum
  b.push(...ascii((opts.oemId ?? "BOCHS ").padEnd(6, " ").slice(0, 6), false));
  b.push(opts.revision);
  b.push(...le32(opts.rsdt ?? 0x7fe1_4a0f));
  if (opts.revision >= 2) {
    b.push(...le32(36), ...le64(opts.xsdt ?? 0x7fe1_5000n), 0, 0, 0, 0);
  }
  const sum = (from: number, to: number) => b.slice(from, to).reduce((s, x) => s + x, 0) & 0xff;
  b[8] = (256 - sum(0, 20)) & 0xff;
  if (opts.revision >= 2) b[32] = (256 - sum(0, 36)) & 0xff;
  if (opts.breakChecksum) b[8] ^= 0x01;
  if (opts.breakExtended) b[32] ^= 0x01;
  return b;
}
