// Unit-test entry: the ACPI tables a VM is given (vmm/platform/pc/acpitables.ts), read
// back with the hypervisor's own ACPI code (kernel/acpi/), the PCI numbers
// they describe (vmm/platform/pc/pcimap.ts), and the PM block
// (vmm/devices/timers/acpipm.ts). The VM's RAM is the first MiB of the
// harness's physical memory at guest-physical 0, so guest-physical
// addresses in the tables are the addresses the kernel's parsers read.

import { physRead32 } from "../../../kernel/arch/shim";
import { findRsdp, Rsdp } from "../../../kernel/acpi/rsdp";
import { findTable } from "../../../kernel/acpi/tables";
import { processorApicIds } from "../../../kernel/acpi/madt";
import { ACPI_TABLES_BASE, ACPI_TABLES_SIZE, buildAcpiTables } from "../../../vmm/platform/pc/acpitables";
import * as pcimap from "../../../vmm/platform/pc/pcimap";
import { AcpiPm } from "../../../vmm/devices/timers/acpipm";
import { InterruptLines } from "../../../vmm/devices/irq";
import { RecordingMachine } from "./fakemachine";
import { GuestMemory } from "../../../vmm/core/guestmemory";

let rsdp: Rsdp | null = null;

export function build(cpus: u32): u64 {
  const memory = new GuestMemory();
  memory.add(0, 0, 1 << 20);
  return buildAcpiTables(memory, cpus);
}
export function tablesEnd(): u64 {
  return ACPI_TABLES_BASE + ACPI_TABLES_SIZE;
}
// The RSDP as the hypervisor finds a PC firmware's: by scanning 0xE0000-0xFFFFF.
export function scanForRsdp(): u64 {
  rsdp = findRsdp(0);
  return rsdp === null ? 0 : rsdp!.address;
}
export function rsdpRevision(): u8 {
  return rsdp!.revision;
}
export function rsdpOemId(): string {
  return rsdp!.oemId;
}
// A table through the XSDT, or through the RSDT as an ACPI 1.0 OS would
// look (RsdtAddress, RSDP offset 16); 0 if absent or its checksum fails.
export function table(signature: string, throughXsdt: bool): u64 {
  const r = rsdp!;
  const root = throughXsdt ? r : new Rsdp(r.address, 1, r.oemId, <u64>physRead32(r.address + 16), false);
  return findTable(root, signature);
}
export function madtApicIds(madt: u64): string {
  const ids = processorApicIds(madt);
  let s = "";
  for (let i = 0; i < ids.length; i++) s += (i > 0 ? "," : "") + ids[i].toString();
  return s;
}

export function ecamBase(): u64 {
  return pcimap.ECAM_BASE;
}
export function ecamBuses(): u32 {
  return pcimap.ECAM_BUSES;
}
export function ecamSize(): u64 {
  return pcimap.ECAM_SIZE;
}
export function pciMemoryBase(): u64 {
  return pcimap.PCI_MEMORY_BASE;
}
export function pciMemoryEnd(): u64 {
  return pcimap.PCI_MEMORY_END;
}
export function pciIoEnd(): u32 {
  return pcimap.PCI_IO_END;
}
export function pciSlots(): u32 {
  return pcimap.PCI_SLOTS;
}
export function intxGsi(slot: u32, pin: u32): u32 {
  return pcimap.intxGsi(slot, pin);
}

// Keeps each line's level: the SCI's, here.
class Levels extends InterruptLines {
  readonly high: StaticArray<bool> = new StaticArray<bool>(16);
  setLevel(line: u32, high: bool): void {
    this.high[line] = high;
  }
}

const power = new RecordingMachine();
const sci = new Levels();
const pm = new AcpiPm(power, sci);
export function pressPowerButton(): void {
  pm.pressPowerButton();
}
export function irqLevel(line: u32): bool {
  return sci.high[line];
}
export function pmRead(offset: u64, size: u8): u64 {
  return pm.read(offset, size);
}
export function pmWrite(offset: u64, size: u8, value: u64): void {
  pm.write(offset, size, value);
}
export function pmAdvance(ns: u64): void {
  pm.advance(ns);
}
export function powerOffs(): i32 {
  return power.powerOffs;
}
