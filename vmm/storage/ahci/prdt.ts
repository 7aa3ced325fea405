// The Physical Region Descriptor Table: how an AHCI command tells the HBA
// where its data lies in host memory (AHCI 1.3.1, 4.2.3 "Command Table").
// Each 16-byte entry names one block of memory: its address (DBA, DBAU;
// bit 0 reserved, so word-aligned) and its byte count less one (DBC, 22
// bits, so at most 4 MiB; bit 0 always 1, so the count is even). The data
// here is always one run of host-contiguous memory (a range of a guest's
// RAM, or the driver's buffer), so the entries are simply its successive
// 4 MiB pieces.

export const PRD_ENTRY_BYTES: usize = 16;
export const PRD_MAX_BYTES: u64 = 4 << 20;
// The table's entries in the port's command table: 32 MiB, what 65536
// sectors of 512 bytes are.
export const PRD_ENTRIES: u32 = 8;
export const MAX_PRDT_BYTES: u64 = <u64>PRD_ENTRIES * PRD_MAX_BYTES;

// Whether a buffer at `phys` of `length` bytes can be described at all:
// word-aligned and an even count; below 4 GiB unless the HBA has 64-bit
// addresses (CAP.S64A).
export function prdAddressable(phys: u64, length: u64, wide: bool): bool {
  return (phys & 1) == 0 && (length & 1) == 0 && (wide || phys + length <= <u64>1 << 32);
}

// Writes the entries for `length` bytes (2 to MAX_PRDT_BYTES, even) at
// host-physical `phys` into the table at linear offset `table`: how many.
export function fillPrdt(table: usize, phys: u64, length: u64): u32 {
  let entries: u32 = 0;
  for (let done: u64 = 0; done < length; entries++) {
    const n = min(PRD_MAX_BYTES, length - done), at = table + <usize>entries * PRD_ENTRY_BYTES;
    store<u64>(at, phys + done); // DBA and DBAU
    store<u32>(at + 8, 0);
    store<u32>(at + 12, <u32>(n - 1)); // DBC, 0-based; I (bit 31) clear: no interrupt
    done += n;
  }
  return entries;
}
