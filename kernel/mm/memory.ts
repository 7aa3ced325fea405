// Bringing up physical memory: from the memory map to a frame allocator, a
// grown-up linear memory and the host's own page tables.
//
// Order matters. The kernel starts on the 2 MiB of linear memory that live in
// the image. From the memory map we pick a contiguous pool for the linear
// memory to grow into and grant it to the runtime *before* building anything
// large (the frame bitmap itself may need more than 2 MiB on a big machine).

import { imageStart, imageEnd, linearGrant } from "../arch/shim";
import { BootInfo } from "../boot/bootinfo";
import * as log from "../console/log";
import { panic } from "../console/panic";
import { FrameAllocator } from "./frames";
import { buildHostPageTable, activate } from "./hostpaging";
import { PageTable } from "./pagetable";
import { usableRanges, subtract, totalSize } from "./memmap";
import { Range, LARGE_PAGE_SIZE, PAGE_SIZE, alignDown, alignUp } from "./range";

// Below this much usable RAM the hypervisor refuses to start: its image and
// linear memory need about 16 MiB, and guests need the rest.
export const MINIMUM_RAM: u64 = 48 << 20;
const LOW_MEMORY: u64 = 1 << 20; // legacy area: BIOS data, EBDA, ROMs, AP trampoline
const POOL_MIN: u64 = 8 << 20;
const POOL_MAX: u64 = 256 << 20; // the runtime maps at most 256 MiB of linear memory

export class Memory {
  constructor(public frames: FrameAllocator, public hostTable: PageTable, public usable: u64, public linearPool: u64) {}
}

// The garbage collector (the "minimal" runtime) only sees objects reachable
// from globals when it runs; the machine's memory state must outlive boot().
export let hostMemory: Memory | null = null;

export function initMemory(boot: BootInfo, hugePages: bool): Memory {
  const usable = usableRanges(boot.memory);
  const usableBytes = totalSize(usable);
  if (usableBytes < MINIMUM_RAM) {
    panic(
      "not enough memory: " + log.size(usableBytes) + " usable RAM, Typervisor needs at least " + log.size(MINIMUM_RAM),
    );
  }

  // Everything that must survive: low memory, our image, the loader's data.
  const keep: Range[] = [new Range(0, LOW_MEMORY), new Range(imageStart(), imageEnd())];
  if (boot.infoEnd > boot.infoStart) keep.push(new Range(alignDown(boot.infoStart, 4096), alignUp(boot.infoEnd, 4096)));
  for (let i = 0; i < boot.modules.length; i++) {
    keep.push(new Range(alignDown(boot.modules[i].start, 4096), alignUp(boot.modules[i].end, 4096)));
  }
  let free = usable;
  for (let i = 0; i < keep.length; i++) free = subtract(free, keep[i].start, keep[i].end);

  const poolSize = alignDown(min<u64>(POOL_MAX, max<u64>(POOL_MIN, usableBytes / 4)), LARGE_PAGE_SIZE);
  const pool = findPool(free, poolSize);
  if (pool == 0) panic("not enough memory: no contiguous " + log.size(poolSize) + " for the hypervisor's own memory");
  linearGrant(pool, poolSize);

  const frames = new FrameAllocator(usable);
  for (let i = 0; i < keep.length; i++) frames.reserve(keep[i].start, keep[i].end);
  frames.reserve(pool, pool + poolSize);

  const hostTable = buildHostPageTable(boot.memory, hugePages, framebufferPages(boot));
  activate(hostTable);
  const memory = new Memory(frames, hostTable, usableBytes, poolSize);
  hostMemory = memory;
  return memory;
}

// The pages of the loader's framebuffer, to be mapped write-combining; null
// if there is none the screen can draw on.
function framebufferPages(boot: BootInfo): Range | null {
  const fb = boot.framebuffer;
  if (fb === null || !fb.drawable) return null;
  return new Range(alignDown(fb.address, PAGE_SIZE), alignUp(fb.end, PAGE_SIZE));
}

// The highest 2 MiB-aligned block of `size` bytes inside one free range.
function findPool(free: Range[], size: u64): u64 {
  for (let i = free.length - 1; i >= 0; i--) {
    const r = free[i];
    if (r.size < size) continue;
    const start = alignDown(r.end - size, LARGE_PAGE_SIZE);
    if (start >= r.start) return start;
  }
  return 0;
}
