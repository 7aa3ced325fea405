// The Physical Region Descriptor Table: how an AHCI command tells the HBA
// where its data lies in host memory (AHCI 1.3.1, 4.2.3 "Command Table").
// Each 16-byte entry names one block of memory: its address (DBA, DBAU;
// bit 0 reserved, so word-aligned) and its byte count less one (DBC, 22
// bits, so at most 4 MiB; bit 0 always 1, so the count is even). Unlike
// NVMe's PRPs, entries need no page alignment: each of a request's pieces
// (../segments.ts) is an entry, or several if it exceeds 4 MiB, and a
// sector may begin in one entry and end in the next.

import { Segments } from "../segments";

export const PRD_ENTRY_BYTES: usize = 16;
export const PRD_MAX_BYTES: u64 = 4 << 20;
// The entries of a command table, which fit in what slot 0's leaves of
// the port's page (port.ts): enough for a 1 MiB request of 4 KiB pieces and more.
export const PRD_ENTRIES: u32 = 160;

// Whether a buffer at `phys` of `length` bytes can be described at all:
// word-aligned and an even count; below 4 GiB unless the HBA has 64-bit
// addresses (CAP.S64A).
export function prdAddressable(phys: u64, length: u64, wide: bool): bool {
  return (phys & 1) == 0 && (length & 1) == 0 && (wide || phys + length <= <u64>1 << 32);
}

// The table of one command slot, at linear offset `table`.
export class PrdTable {
  // How many entries describe() wrote.
  entries: u32 = 0;

  constructor(private table: usize) {}

  // Names as much of `data`, from its position on, as the table holds: at
  // most `most` bytes, a whole number of `unit`s, and moves the position
  // past them. How many bytes; 0 if not one unit (the position does not
  // move).
  describe(data: Segments, most: u64, unit: u64): u64 {
    const bytes = this.extent(data, most) / unit * unit;
    this.entries = 0;
    let i = data.index, skip = data.offset;
    for (let left = bytes; left > 0; i++, skip = 0) {
      const n = min(data.length(i) - skip, left), phys = data.phys(i) + skip;
      for (let done: u64 = 0; done < n;) {
        const part = min(PRD_MAX_BYTES, n - done), at = this.table + <usize>this.entries * PRD_ENTRY_BYTES;
        store<u64>(at, phys + done); // DBA and DBAU
        store<u32>(at + 8, 0);
        store<u32>(at + 12, <u32>(part - 1)); // DBC, 0-based; I (bit 31) clear: no interrupt
        this.entries++;
        done += part;
      }
      left -= n;
    }
    data.consume(bytes);
    return bytes;
  }

  // How many bytes from `data`'s position PRD_ENTRIES entries could name,
  // within `most`, before they are cut to whole units.
  private extent(data: Segments, most: u64): u64 {
    let bytes: u64 = 0, entries: u64 = 0, skip = data.offset;
    for (let i = data.index; i < data.count && bytes < most && entries < <u64>PRD_ENTRIES; i++, skip = 0) {
      const rest = data.length(i) - skip;
      const n = min(rest, min(most - bytes, (<u64>PRD_ENTRIES - entries) * PRD_MAX_BYTES));
      bytes += n;
      entries += (n + PRD_MAX_BYTES - 1) / PRD_MAX_BYTES;
      if (n < rest) break;
    }
    return bytes;
  }
}
