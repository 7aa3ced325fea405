// The ACPI tables a VM's firmware would leave for its operating system,
// built by the VMM in the VM's legacy BIOS area.
//
// RSDP -> RSDT and XSDT -> FADT, MADT, HPET and MCFG; the FADT points to
// the DSDT and the FACS. The MADT lists the vCPUs' local APICs, the I/O
// APIC and the 8259 pair; the HPET table gives the event timer block
// (devices/timers/hpet.ts), the FADT the ACPI power-management block
// (devices/timers/acpipm.ts), the 8042's reset and the legacy devices; the
// MCFG the PCI bus's ECAM region (pcimap.ts). The DSDT (dsdt.ts), in AML,
// holds \_S5, the sleep type that powers the VM off, and the PCI host
// bridge with its resources and interrupt routing. The tables are built in
// a TableArea (tablearea.ts) and copied into the VM's RAM at once.
// Sections below are those of ACPI 6.5: RSDP 5.2.5, header 5.2.6, RSDT 5.2.7,
// XSDT 5.2.8, FADT 5.2.9, FACS 5.2.10, DSDT 5.2.11.1, MADT 5.2.12, GAS
// 5.2.3.2; MCFG is in the PCI Firmware Specification 3.2, 4.1.2.

import { GuestMemory } from "../../core/guestmemory";
import { ACPI_PM_BASE, PM1_CNT_OFFSET, PM1_EVT_OFFSET, PM_TMR_OFFSET, SCI_IRQ } from "../../devices/timers/acpipm";
import { HPET_BASE, HPET_CAPABILITIES } from "../../devices/timers/hpet";
import { IOAPIC_BASE } from "../../devices/apic/ioapic";
import { LAPIC_BASE } from "../../devices/apic/lapic";
import { dsdtDefinitionBlock } from "./dsdt";
import { TableArea } from "./tablearea";
import { PIT_IOAPIC_PIN, PIT_IRQ } from "./isalines";
import { ECAM_BASE, ECAM_BUSES } from "./pcimap";

// In the legacy BIOS area, which the guest's memory map reserves
// (setup/loaders/layout.ts), and where a BIOS-style search finds the RSDP
// (16-byte aligned in 0xE0000-0xFFFFF, 5.2.5.1). The size holds the tables
// with a MADT for 255 vCPUs (test/unit/acpitables.test.ts).
export const ACPI_TABLES_BASE: u64 = 0xe0000;
export const ACPI_TABLES_SIZE: u64 = 0x2000;

const HEADER_SIZE: u32 = 36;
const RSDP_SIZE: u32 = 36;
const FADT_SIZE: u32 = 276;
const FACS_SIZE: u32 = 64;
const HPET_TABLE_SIZE: u32 = 56;
const MCFG_ALLOCATION_SIZE: u32 = 16;
const MCFG_SIZE: u32 = HEADER_SIZE + 8 + MCFG_ALLOCATION_SIZE;
const MADT_LAPIC_SIZE: u32 = 8;
// The tables the RSDT and the XSDT list: the FADT, the MADT, the HPET table, the MCFG.
const LISTED_TABLES: u32 = 4;
// Each table starts on this boundary, as the FACS must (5.2.10).
const TABLE_ALIGNMENT: u64 = 64;

const OEM_ID = "TYPVSR";
const OEM_TABLE_ID = "TYPERVIS";
const CREATOR_ID = "TYPV";

// FADT fields (5.2.9, Table 5.9) and flags (Table 5.10, 5.11).
const FADT_FLAGS_WBINVD: u32 = 1 << 0;
const FADT_FLAGS_PROC_C1: u32 = 1 << 2;
// The power button is the fixed one (PWR_BUTTON clear: acpipm.ts); there
// is no sleep button at all, which SLP_BUTTON set says.
const FADT_FLAGS_SLP_BUTTON: u32 = 1 << 5;
const FADT_FLAGS_TMR_VAL_EXT: u32 = 1 << 8;
const FADT_FLAGS_RESET_REG_SUP: u32 = 1 << 10;
const BOOT_ARCH_LEGACY_DEVICES: u16 = 1 << 0;
const BOOT_ARCH_8042: u16 = 1 << 1;
const BOOT_ARCH_VGA_NOT_PRESENT: u16 = 1 << 2;
// C2 and C3 latencies above these say "not supported".
const NO_C2_LATENCY: u16 = 101;
const NO_C3_LATENCY: u16 = 1001;
const GAS_SYSTEM_MEMORY: u8 = 0;
const GAS_SYSTEM_IO: u8 = 1;
// GAS access sizes; ACPI 2.0, whose GAS the HPET table takes, had the byte reserved (0).
const ACCESS_UNDEFINED: u8 = 0;
const ACCESS_BYTE: u8 = 1;
const ACCESS_WORD: u8 = 2;
const ACCESS_DWORD: u8 = 3;
const I8042_COMMAND: u64 = 0x64;
const I8042_RESET_PULSE: u8 = 0xfe;

const MADT_PCAT_COMPAT: u32 = 1 << 0;
const MADT_LOCAL_APIC: u8 = 0;
const MADT_IO_APIC: u8 = 1;
const MADT_SOURCE_OVERRIDE: u8 = 2;
const MADT_LOCAL_APIC_NMI: u8 = 4;
const ALL_PROCESSORS: u8 = 0xff;
const LINT1: u8 = 1;
const LAPIC_ENABLED: u32 = 1 << 0;
const IOAPIC_ID: u8 = 0;
// MPS INTI flags (Table 5.50): polarity in bits 1:0, trigger mode in 3:2.
const ACTIVE_HIGH_LEVEL: u16 = 0x1 | (0x3 << 2);

// HPET table: the shortest period, in main counter ticks, that periodic mode
// keeps without lost interrupts: 100 us, since several matches between two
// looks of the VMM (an exit under emulation takes tens of microseconds) make
// one interrupt. The block is alone in its 4 KiB page.
const HPET_MIN_TICK: u16 = 1000;
const HPET_PAGE_PROTECTION_4K: u8 = 1;

// Writes the tables for a VM of `cpus` vCPUs; returns the RSDP's address.
// Each table follows the one before; the MADT comes last, as it grows with
// the vCPUs. They are built in the hypervisor's own memory and copied into
// the VM's RAM at once: each access to guest RAM looks up its region.
export function buildAcpiTables(memory: GuestMemory, cpus: u32): u64 {
  const area = new TableArea(ACPI_TABLES_BASE, ACPI_TABLES_SIZE);
  const dsdtAml = dsdtDefinitionBlock();
  const rsdp = ACPI_TABLES_BASE;
  const rsdt = after(rsdp, RSDP_SIZE);
  const xsdt = after(rsdt, HEADER_SIZE + LISTED_TABLES * 4);
  const facs = after(xsdt, HEADER_SIZE + LISTED_TABLES * 8);
  const fadt = after(facs, FACS_SIZE);
  const hpet = after(fadt, FADT_SIZE);
  const mcfg = after(hpet, HPET_TABLE_SIZE);
  const dsdt = after(mcfg, MCFG_SIZE);
  const madt = after(dsdt, HEADER_SIZE + <u32>dsdtAml.length);
  writeFacs(area, facs);
  writeFadt(area, fadt, facs, dsdt);
  writeHpet(area, hpet);
  writeMcfg(area, mcfg);
  writeDsdt(area, dsdt, dsdtAml);
  writeMadt(area, madt, cpus);
  const tables: u64[] = [fadt, madt, hpet, mcfg];
  writeRootTable(area, rsdt, "RSDT", 4, tables);
  writeRootTable(area, xsdt, "XSDT", 8, tables);
  writeRsdp(area, rsdp, rsdt, xsdt);
  area.copyInto(memory);
  return rsdp;
}

// Where the table after a `length`-byte one at `at` goes.
function after(at: u64, length: u32): u64 {
  return (at + <u64>length + TABLE_ALIGNMENT - 1) & ~(TABLE_ALIGNMENT - 1);
}

function writeRsdp(area: TableArea, at: u64, rsdt: u64, xsdt: u64): void {
  area.writeChars(at, "RSD PTR ");
  area.writeChars(at + 9, OEM_ID);
  area.write8(at + 15, 2); // ACPI 2.0 and later: the XSDT is there
  area.write32(at + 16, <u32>rsdt);
  area.write32(at + 20, RSDP_SIZE);
  area.write64(at + 24, xsdt);
  // The first checksum covers the ACPI 1.0 part, the extended one all 36 bytes.
  area.write8(at + 8, area.checksum(at, 20));
  area.write8(at + 32, area.checksum(at, RSDP_SIZE));
}

// The RSDT (4-byte entries) or XSDT (8-byte entries) listing `tables`.
function writeRootTable(area: TableArea, at: u64, signature: string, entrySize: u32, tables: u64[]): void {
  for (let i = 0; i < tables.length; i++) {
    const entry = at + <u64>HEADER_SIZE + <u64>(i * entrySize);
    if (entrySize == 4) area.write32(entry, <u32>tables[i]);
    else area.write64(entry, tables[i]);
  }
  finishTable(area, at, signature, 1, HEADER_SIZE + <u32>tables.length * entrySize);
}

function writeFacs(area: TableArea, at: u64): void {
  area.writeChars(at, "FACS");
  area.write32(at + 4, FACS_SIZE);
  area.write8(at + 32, 2); // version; the waking vector and global lock stay 0
}

// The PM1a event and control registers and the PM timer, with the SCI on
// IRQ 9; the reset register (the 8042's 0xFE pulse); the legacy devices. No
// SMI command port: the VM is in ACPI mode from the start (4.8.2.1).
// IAPC_BOOT_ARCH leaves MSI_NOT_SUPPORTED and PCIE_ASPM_CONTROLS clear:
// the guest may use MSI and manage ASPM.
function writeFadt(area: TableArea, at: u64, facs: u64, dsdt: u64): void {
  area.write32(at + 36, <u32>facs);
  area.write32(at + 40, <u32>dsdt);
  area.write16(at + 46, SCI_IRQ);
  area.write32(at + 56, <u32>(ACPI_PM_BASE + PM1_EVT_OFFSET));
  area.write32(at + 64, <u32>(ACPI_PM_BASE + PM1_CNT_OFFSET));
  area.write32(at + 76, <u32>(ACPI_PM_BASE + PM_TMR_OFFSET));
  area.write8(at + 88, 4); // PM1_EVT_LEN: status and enable, 2 bytes each
  area.write8(at + 89, 2); // PM1_CNT_LEN
  area.write8(at + 91, 4); // PM_TMR_LEN
  area.write16(at + 96, NO_C2_LATENCY);
  area.write16(at + 98, NO_C3_LATENCY);
  area.write16(at + 109, BOOT_ARCH_LEGACY_DEVICES | BOOT_ARCH_8042 | BOOT_ARCH_VGA_NOT_PRESENT);
  const flags = FADT_FLAGS_WBINVD | FADT_FLAGS_PROC_C1 | FADT_FLAGS_SLP_BUTTON | FADT_FLAGS_TMR_VAL_EXT;
  area.write32(at + 112, flags | FADT_FLAGS_RESET_REG_SUP);
  writeGas(area, at + 116, GAS_SYSTEM_IO, 8, ACCESS_BYTE, I8042_COMMAND);
  area.write8(at + 128, I8042_RESET_PULSE);
  area.write8(at + 131, 4); // FADT minor version: 6.4
  area.write64(at + 132, facs);
  area.write64(at + 140, dsdt);
  writeGas(area, at + 148, GAS_SYSTEM_IO, 32, ACCESS_DWORD, ACPI_PM_BASE + PM1_EVT_OFFSET);
  writeGas(area, at + 172, GAS_SYSTEM_IO, 16, ACCESS_WORD, ACPI_PM_BASE + PM1_CNT_OFFSET);
  writeGas(area, at + 208, GAS_SYSTEM_IO, 32, ACCESS_DWORD, ACPI_PM_BASE + PM_TMR_OFFSET);
  finishTable(area, at, "FACP", 6, FADT_SIZE);
}

function writeDsdt(area: TableArea, at: u64, aml: Uint8Array): void {
  area.writeBytes(at + HEADER_SIZE, aml);
  finishTable(area, at, "DSDT", 2, HEADER_SIZE + <u32>aml.length); // revision 2: 64-bit AML integers
}

// After the header and 8 reserved bytes, one allocation: the ECAM region's
// base, its segment (0), its first and last bus, 4 reserved bytes.
function writeMcfg(area: TableArea, at: u64): void {
  const allocation = at + HEADER_SIZE + 8;
  area.write64(allocation, ECAM_BASE);
  area.write16(allocation + 8, 0);
  area.write8(allocation + 10, 0);
  area.write8(allocation + 11, <u8>(ECAM_BUSES - 1));
  finishTable(area, at, "MCFG", 1, MCFG_SIZE);
}

// One processor-local APIC per vCPU, the I/O APIC with the PIT's IRQ 0 on
// its input 2 (isalines.ts), the NMI line on every LINT1 (core/vmapics.ts),
// and PCAT_COMPAT: the VM has a pair of 8259s too.
function writeMadt(area: TableArea, at: u64, cpus: u32): void {
  area.write32(at + 36, <u32>LAPIC_BASE);
  area.write32(at + 40, MADT_PCAT_COMPAT);
  let entry = at + 44;
  for (let id: u32 = 0; id < cpus; id++) {
    area.write8(entry, MADT_LOCAL_APIC);
    area.write8(entry + 1, <u8>MADT_LAPIC_SIZE);
    area.write8(entry + 2, <u8>id); // ACPI processor UID
    area.write8(entry + 3, <u8>id); // APIC ID: the vCPU's index (vm.ts)
    area.write32(entry + 4, LAPIC_ENABLED);
    entry += MADT_LAPIC_SIZE;
  }
  // The I/O APIC, its inputs from global system interrupt 0 (5.2.12.3).
  area.write8(entry, MADT_IO_APIC);
  area.write8(entry + 1, 12);
  area.write8(entry + 2, IOAPIC_ID);
  area.write32(entry + 4, <u32>IOAPIC_BASE);
  area.write32(entry + 8, 0);
  entry += 12;
  // The PIT's IRQ 0 is input 2, edge, active high as the bus is; the SCI,
  // IRQ 9, is level-triggered and here active high (5.2.12.5).
  entry = writeSourceOverride(area, entry, <u8>PIT_IRQ, PIT_IOAPIC_PIN, 0);
  entry = writeSourceOverride(area, entry, <u8>SCI_IRQ, SCI_IRQ, ACTIVE_HIGH_LEVEL);
  // Every processor's LINT1 is the NMI line, edge-triggered and active high
  // as the bus is (flags 0, 5.2.12.7).
  area.write8(entry, MADT_LOCAL_APIC_NMI);
  area.write8(entry + 1, 6);
  area.write8(entry + 2, ALL_PROCESSORS);
  area.write16(entry + 3, 0);
  area.write8(entry + 5, LINT1);
  entry += 6;
  finishTable(area, at, "APIC", 5, <u32>(entry - at));
}

// IA-PC HPET Specification 1.0a, 3.2.4: the Event Timer Block ID is the
// low half of the General Capabilities and ID register; HPET number 0.
function writeHpet(area: TableArea, at: u64): void {
  area.write32(at + 36, <u32>HPET_CAPABILITIES);
  writeGas(area, at + 40, GAS_SYSTEM_MEMORY, 64, ACCESS_UNDEFINED, HPET_BASE);
  area.write8(at + 52, 0);
  area.write16(at + 53, HPET_MIN_TICK);
  area.write8(at + 55, HPET_PAGE_PROTECTION_4K);
  finishTable(area, at, "HPET", 1, HPET_TABLE_SIZE);
}

// An ISA interrupt's input on the I/O APIC, and its polarity and trigger
// mode where they differ from ISA's (bus 0 is ISA); returns the next entry.
function writeSourceOverride(area: TableArea, entry: u64, irq: u8, gsi: u32, flags: u16): u64 {
  area.write8(entry, MADT_SOURCE_OVERRIDE);
  area.write8(entry + 1, 10);
  area.write8(entry + 2, 0);
  area.write8(entry + 3, irq);
  area.write32(entry + 4, gsi);
  area.write16(entry + 8, flags);
  return entry + 10;
}

// The common header (5.2.6), then the checksum over the whole table.
function finishTable(area: TableArea, at: u64, signature: string, revision: u8, length: u32): void {
  area.writeChars(at, signature);
  area.write32(at + 4, length);
  area.write8(at + 8, revision);
  area.writeChars(at + 10, OEM_ID);
  area.writeChars(at + 16, OEM_TABLE_ID);
  area.write32(at + 24, 1); // OEM revision
  area.writeChars(at + 28, CREATOR_ID);
  area.write32(at + 32, 1); // creator revision
  area.write8(at + 9, 0);
  area.write8(at + 9, area.checksum(at, length));
}

// A Generic Address Structure for a register of `bits` bits in I/O or
// memory space (5.2.3.2).
function writeGas(area: TableArea, at: u64, space: u8, bits: u8, accessSize: u8, address: u64): void {
  area.write8(at, space);
  area.write8(at + 1, bits);
  area.write8(at + 2, 0);
  area.write8(at + 3, accessSize);
  area.write64(at + 4, address);
}
