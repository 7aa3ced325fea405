// Finding ACPI tables: the RSDT/XSDT that the RSDP points to lists every
// other table by physical address; each starts with the common 36-byte
// header (signature, length, ..., checksum over `length` bytes).
// ACPI 6.5, 5.2.7 (RSDT) and 5.2.8 (XSDT).

import { physRead8, physRead32, physRead64 } from "../arch/shim";
import { Rsdp } from "./rsdp";

const HEADER_SIZE: u64 = 36;
const MAX_TABLE: u32 = 1 << 20;

// Physical address of the first valid table with this signature (e.g. "APIC"), or 0.
export function findTable(rsdp: Rsdp, signature: string): u64 {
  const root = rsdp.tableAddress;
  if (!valid(root)) return 0;
  const entrySize: u64 = rsdp.extended ? 8 : 4;
  const count = (<u64>physRead32(root + 4) - HEADER_SIZE) / entrySize;
  const wanted = signatureValue(signature);
  for (let i: u64 = 0; i < count; i++) {
    const at = root + HEADER_SIZE + i * entrySize;
    const table = rsdp.extended ? physRead64(at) : <u64>physRead32(at);
    if (table != 0 && physRead32(table) == wanted && valid(table)) return table;
  }
  return 0;
}

// The table's length is sane and its bytes sum to zero.
function valid(table: u64): bool {
  if (table == 0) return false;
  const length = physRead32(table + 4);
  if (<u64>length < HEADER_SIZE || length > MAX_TABLE) return false;
  let sum: u8 = 0;
  for (let i: u32 = 0; i < length; i++) sum += physRead8(table + <u64>i);
  return sum == 0;
}

function signatureValue(s: string): u32 {
  let v: u32 = 0;
  for (let i = 3; i >= 0; i--) v = (v << 8) | (<u32>s.charCodeAt(i) & 0xff);
  return v;
}
