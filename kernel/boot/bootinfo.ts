// What the boot loader told us, independent of which multiboot version it spoke.
//
// multiboot1.ts and multiboot2.ts each read their loader's structure from
// physical memory and fill in one BootInfo. The rest of the kernel only ever
// sees this class. Since AssemblyScript has no exceptions, a parser that finds
// missing or garbled information sets `error` and the caller panics with it.

import { physRead8 } from "../arch/shim";
import { Framebuffer } from "../console/framebuffer";

// Memory map entry types shared by BIOS E820, multiboot 1 and multiboot 2.
export const enum RegionType {
  Usable = 1,
  Reserved = 2,
  AcpiReclaimable = 3,
  AcpiNvs = 4,
  Bad = 5,
}

export class MemoryRegion {
  constructor(public base: u64, public length: u64, public type: u32) {}
  get end(): u64 {
    return this.base + this.length;
  }
}

export class BootModule {
  constructor(public start: u64, public end: u64, public cmdline: string) {}
}

export class BootInfo {
  protocol: string = "";
  loaderName: string = "";
  cmdline: string = "";
  memory: MemoryRegion[] = [];
  modules: BootModule[] = [];
  // Physical address of an RSDP (the loader's copy under multiboot 2), or 0.
  rsdp: u64 = 0;
  framebuffer: Framebuffer | null = null;
  // Started by UEFI firmware (the loader passed its system table): no VGA text mode to fall back on.
  uefi: bool = false;
  // Where the loader's own structure lies, so the frame allocator keeps it.
  infoStart: u64 = 0;
  infoEnd: u64 = 0;
  error: string | null = null;

  fail(reason: string): BootInfo {
    if (this.error === null) this.error = reason;
    return this;
  }
}

const MAX_STRING = 4096;

// A NUL-terminated string in physical memory, or null if it has no terminator
// within `limit` bytes (at most MAX_STRING): a sign of garbled boot information.
export function readCString(addr: u64, limit: u64 = MAX_STRING): string | null {
  let s = "";
  const bound = min<u64>(limit, MAX_STRING);
  for (let i: u64 = 0; i < bound; i++) {
    const c = physRead8(addr + i);
    if (c == 0) return s;
    s += String.fromCharCode(c);
  }
  return null;
}
