// The MADT ("APIC" table): which processors this machine has.
// Each enabled processor has a Processor Local APIC entry (type 0) or, with
// APIC IDs above 254, a Processor Local x2APIC entry (type 9). An entry that
// is neither enabled nor "online capable" is a processor that is not there.
// ACPI 6.5, 5.2.12 "Multiple APIC Description Table".

import { physRead8, physRead32 } from "../arch/shim";

const ENTRIES: u64 = 44; // after the header, local APIC address and flags
const LOCAL_APIC: u8 = 0;
const LOCAL_X2APIC: u8 = 9;
const ENABLED: u32 = 1 << 0;

// The APIC IDs of the enabled processors, in table order (firmware lists the
// boot processor first).
export function processorApicIds(madt: u64): u32[] {
  const ids: u32[] = [];
  const end = madt + <u64>physRead32(madt + 4);
  let at = madt + ENTRIES;
  while (at + 2 <= end) {
    const type = physRead8(at), length = <u64>physRead8(at + 1);
    if (length < 2 || at + length > end) break;
    if (type == LOCAL_APIC && length >= 8 && (physRead32(at + 4) & ENABLED) != 0) ids.push(physRead8(at + 3));
    if (type == LOCAL_X2APIC && length >= 16 && (physRead32(at + 8) & ENABLED) != 0) ids.push(physRead32(at + 4));
    at += length;
  }
  return ids;
}
