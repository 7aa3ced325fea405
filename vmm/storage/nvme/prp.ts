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
// command within one list page instead, so it never chains.
//
// The pages need not be contiguous, which is what lets one command name
// several of a request's pieces (../segments.ts): only the first byte may
// lie inside a page, so a piece joins the one before it when that one ends
// on a page boundary and it begins on one. A guest's 4 KiB buffers of a
// 1 MiB O_DIRECT read do; they go as one command up to the controller's
// largest transfer.

import { Segments } from "../segments";
import { Command } from "./command";

export const MEMORY_PAGE: u64 = 4096;
const PAGE_MASK: u64 = MEMORY_PAGE - 1;
const LIST_ENTRIES: u64 = MEMORY_PAGE / 8;
// The most pages one command names: PRP1's and a full list.
const MAX_PAGES: u64 = LIST_ENTRIES + 1;
// The most one command moves whatever the offset of its first byte.
export const MAX_PRP_BYTES: u64 = LIST_ENTRIES * MEMORY_PAGE;

// Whether a buffer at `phys` can be described at all: PRP offsets are
// dword-aligned (4.3, bits 1-0 of an entry are 0).
export function prpAligned(phys: u64): bool {
  return (phys & 3) == 0;
}

// The data pointer of the next command (its PRP1 and PRP2), with the list
// page PRP2 may point at, at linear offset `list` and physical `listPhys`.
export class DataPointer {
  prp1: u64 = 0;
  prp2: u64 = 0;

  constructor(private list: usize, private listPhys: u64) {}

  // Gives command `c` this pointer (dwords 6-9), after its builder.
  apply(c: Command): void {
    c.prp1 = this.prp1;
    c.prp2 = this.prp2;
  }

  // Points at as much of `data`, from its position on, as one command can
  // name: at most `most` bytes, a whole number of `unit`s, and moves the
  // position past them. How many bytes; 0 if not one unit (the position
  // does not move). One walk: pieces joined at page boundaries, within
  // `most` and MAX_PAGES, each page after PRP1's listed as it is reached.
  describe(data: Segments, most: u64, unit: u64): u64 {
    const first = data.phys(data.index) + data.offset, offset = first & PAGE_MASK;
    const room = min(most, MAX_PAGES * MEMORY_PAGE - offset);
    let bytes = min(data.length(data.index) - data.offset, room), end = first + bytes, entries: usize = 0;
    for (let page = first - offset + MEMORY_PAGE; page < end; page += MEMORY_PAGE) {
      store<u64>(this.list + 8 * entries++, page);
    }
    // The walk's last piece, and how far into it the walk went.
    let last = data.index, lastEnd = data.offset + bytes;
    for (let i = last + 1; bytes < room && (end & PAGE_MASK) == 0 && i < data.count; i++) {
      const phys = data.physOf(i); // i < count
      if ((phys & PAGE_MASK) != 0) break;
      const n = min(data.lengthOf(i), room - bytes);
      end = phys + n;
      for (let page = phys; page < end; page += MEMORY_PAGE) store<u64>(this.list + 8 * entries++, page);
      bytes += n;
      last = i;
      lastEnd = n;
    }
    const whole = bytes / unit * unit;
    if (whole == 0) return 0;
    // The pages the whole units span past PRP1's; any listed beyond them go unread.
    const listed = (offset + whole - 1) / MEMORY_PAGE;
    this.prp1 = first;
    this.prp2 = listed == 0 ? 0 : listed == 1 ? load<u64>(this.list) : this.listPhys;
    if (whole == bytes) data.moveTo(last, lastEnd);
    else data.consume(whole);
    return whole;
  }
}
