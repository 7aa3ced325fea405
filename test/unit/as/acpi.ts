// Unit-test entry: finding the ACPI RSDP (kernel/acpi/rsdp.ts).

import { Rsdp, findRsdp } from "../../../kernel/acpi/rsdp";

let found: Rsdp | null = null;

export function rsdpFind(hint: u64): bool {
  found = findRsdp(hint);
  return found !== null;
}
export function rsdpAddress(): u64 {
  return found!.address;
}
export function rsdpRevision(): u8 {
  return found!.revision;
}
export function rsdpOemId(): string {
  return found!.oemId;
}
export function rsdpTableAddress(): u64 {
  return found!.tableAddress;
}
export function rsdpExtended(): bool {
  return found!.extended;
}
