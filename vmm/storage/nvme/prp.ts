// Physical Region Page entries: how an NVMe command tells the controller
// where its data lies in host memory (NVM Express Base Specification 1.4,
// 4.3 "Physical Region Page Entry and List").
//
// Memory is cut into pages of the size CC.MPS chose (4 KiB here). PRP1
// holds the address of the first byte, at any dword-aligned offset in its
// page; every later page is named by its page-aligned address. If the
// data touches two pages, PRP2 is the second page; if more, PRP2 points at
// a PRP list: a page of 8-byte entries, one per remaining page. A list
// page's last entry would chain to another list; this driver keeps each
// command within one list page instead (MAX_PRP_BYTES), so it never
// chains. The data here is always one run of host-contiguous memory (a
// range of a guest's RAM, or a buffer of the driver's), so page i of it
// is simply the first page plus i.

import { Command } from "./command";

export const MEMORY_PAGE: u64 = 4096;
const LIST_ENTRIES: u64 = MEMORY_PAGE / 8;
// The most one command moves: PRP1's page and a full list of 512 pages,
// whatever the offset of the first byte.
export const MAX_PRP_BYTES: u64 = LIST_ENTRIES * MEMORY_PAGE;

// Whether a buffer at `phys` can be described at all: PRP offsets are
// dword-aligned (4.3, bits 1-0 of an entry are 0).
export function prpAligned(phys: u64): bool {
  return (phys & 3) == 0;
}

// Points `c` at the `length` bytes (1 to MAX_PRP_BYTES) at host-physical
// `phys` (dword-aligned), writing list entries into the page at linear
// offset `list`, whose physical address is `listPhys`, when it needs one.
export function setDataPointer(c: Command, phys: u64, length: u64, list: usize, listPhys: u64): void {
  const first = phys & ~(MEMORY_PAGE - 1);
  const pages = (phys - first + length + MEMORY_PAGE - 1) / MEMORY_PAGE;
  c.prp1 = phys;
  if (pages == 1) c.prp2 = 0;
  else if (pages == 2) c.prp2 = first + MEMORY_PAGE;
  else {
    for (let i: u64 = 1; i < pages; i++) store<u64>(list + <usize>((i - 1) * 8), first + i * MEMORY_PAGE);
    c.prp2 = listPhys;
  }
}
