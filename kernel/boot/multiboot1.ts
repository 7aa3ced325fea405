// Reading a Multiboot 1 information structure (QEMU's -kernel, GRUB's "multiboot").
// Multiboot Specification version 0.6.96, section 3.3 "Boot information format".

import { physRead32, physRead64 } from "../arch/shim";
import { BootInfo, BootModule, MemoryRegion, RegionType, readCString } from "./bootinfo";

export const MULTIBOOT1_MAGIC: u32 = 0x2badb002;

// Flag bits of the information structure's first word.
const HAS_MEMORY_BOUNDS: u32 = 1 << 0;
const HAS_CMDLINE: u32 = 1 << 2;
const HAS_MODULES: u32 = 1 << 3;
const HAS_MEMORY_MAP: u32 = 1 << 6;
const HAS_LOADER_NAME: u32 = 1 << 9;
const KNOWN_FLAGS: u32 = (1 << 13) - 1;
const INFO_SIZE: u64 = 120;
const MAX_MODULES: u32 = 256;

export function parseMultiboot1(info: u64): BootInfo {
  const boot = new BootInfo();
  boot.protocol = "multiboot1";
  if (info == 0 || (info & 3) != 0) {
    return boot.fail("garbled boot information: the multiboot info pointer is " + (info == 0 ? "null" : "misaligned"));
  }
  boot.infoStart = info;
  boot.infoEnd = info + INFO_SIZE;
  const flags = physRead32(info);
  if ((flags & ~KNOWN_FLAGS) != 0) {
    return boot.fail("garbled boot information: unknown multiboot flags 0x" + flags.toString(16));
  }

  if (flags & HAS_CMDLINE) {
    const cmdline = readCString(<u64>physRead32(info + 16));
    if (cmdline === null) return boot.fail("garbled boot information: the command line is not terminated");
    boot.cmdline = cmdline;
  }
  if (flags & HAS_LOADER_NAME) {
    const name = readCString(<u64>physRead32(info + 64));
    if (name !== null) boot.loaderName = name;
  }
  if (flags & HAS_MODULES) {
    const count = physRead32(info + 20);
    const table = <u64>physRead32(info + 24);
    if (count > MAX_MODULES) return boot.fail("garbled boot information: " + count.toString() + " modules");
    for (let i: u32 = 0; i < count; i++) {
      const entry = table + <u64>i * 16;
      const start = <u64>physRead32(entry), end = <u64>physRead32(entry + 4);
      const cmdline = readCString(<u64>physRead32(entry + 8));
      if (end < start || cmdline === null) {
        return boot.fail("garbled boot information: module " + i.toString() + " is malformed");
      }
      boot.modules.push(new BootModule(start, end, cmdline));
    }
  }
  if (flags & HAS_MEMORY_MAP) {
    readMemoryMap(boot, <u64>physRead32(info + 48), <u64>physRead32(info + 44));
  } else if (flags & HAS_MEMORY_BOUNDS) {
    // Older loaders: only the sizes of conventional and upper memory, in KiB.
    boot.memory.push(new MemoryRegion(0, <u64>physRead32(info + 4) << 10, RegionType.Usable));
    boot.memory.push(new MemoryRegion(0x100000, <u64>physRead32(info + 8) << 10, RegionType.Usable));
  }
  if (boot.error === null && boot.memory.length == 0) {
    return boot.fail("no memory map: the boot loader gave neither a memory map nor memory bounds");
  }
  return boot;
}

// Each entry is preceded by its own size (not counting the size field
// itself), and must lie entirely within the map's length.
function readMemoryMap(boot: BootInfo, addr: u64, length: u64): void {
  let entry = addr;
  while (entry < addr + length) {
    const size = <u64>physRead32(entry);
    if (size < 20 || size > 256 || entry + 4 + size > addr + length) {
      boot.fail("garbled boot information: memory map entry of " + size.toString() + " bytes");
      return;
    }
    boot.memory.push(new MemoryRegion(physRead64(entry + 4), physRead64(entry + 12), physRead32(entry + 20)));
    entry += size + 4;
  }
}
