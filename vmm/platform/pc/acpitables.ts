// The ACPI tables a VM's firmware would leave for its operating system,
// built by the VMM in the VM's legacy BIOS area.
//
// RSDP -> RSDT and XSDT -> FADT, MADT and HPET; the FADT points to the DSDT
// and the FACS. The MADT lists the vCPUs' local APICs, the I/O APIC and the
// 8259 pair; the HPET table gives the event timer block
// (devices/timers/hpet.ts), the FADT the ACPI power-management block
// (devices/timers/acpipm.ts), the 8042's reset and the legacy devices; the
// DSDT holds one object, \_S5, the sleep type that powers the VM off.
// Sections below are those of ACPI 6.5: RSDP 5.2.5, header 5.2.6, RSDT 5.2.7,
// XSDT 5.2.8, FADT 5.2.9, FACS 5.2.10, DSDT 5.2.11.1, MADT 5.2.12, GAS
// 5.2.3.2, AML 20.2.

import { GuestMemory } from "../../core/guestmemory";
import {
  ACPI_PM_BASE,
  PM1_CNT_OFFSET,
  PM1_EVT_OFFSET,
  PM_TMR_OFFSET,
  SCI_IRQ,
  SLP_TYP_S5,
} from "../../devices/timers/acpipm";
import { HPET_BASE, HPET_CAPABILITIES } from "../../devices/timers/hpet";
import { IOAPIC_BASE } from "../../devices/apic/ioapic";
import { LAPIC_BASE } from "../../devices/apic/lapic";
import { PIT_IOAPIC_PIN, PIT_IRQ } from "./isalines";

// In the legacy BIOS area, which the guest's memory map reserves
// (setup/loaders/layout.ts), and where a BIOS-style search finds the RSDP
// (16-byte aligned in 0xE0000-0xFFFFF, 5.2.5.1).
export const ACPI_TABLES_BASE: u64 = 0xe0000;
export const ACPI_TABLES_SIZE: u64 = 0x1000;

const HEADER_SIZE: u32 = 36;
const RSDP_SIZE: u32 = 36;
const FADT_SIZE: u32 = 276;
const FACS_SIZE: u32 = 64;
const HPET_TABLE_SIZE: u32 = 56;
const MADT_LAPIC_SIZE: u32 = 8;
// Where each table goes, from ACPI_TABLES_BASE (64-byte aligned, as the FACS must be).
const RSDP_AT: u64 = 0x000;
const RSDT_AT: u64 = 0x040;
const XSDT_AT: u64 = 0x080;
const FACS_AT: u64 = 0x0c0;
const FADT_AT: u64 = 0x100;
const DSDT_AT: u64 = 0x240;
const HPET_AT: u64 = 0x280;
const MADT_AT: u64 = 0x2c0; // last: it grows with the vCPUs

const OEM_ID = "TYPVSR";
const OEM_TABLE_ID = "TYPERVIS";
const CREATOR_ID = "TYPV";

// FADT fields (5.2.9, Table 5.9) and flags (Table 5.10, 5.11).
const FADT_FLAGS_WBINVD: u32 = 1 << 0;
const FADT_FLAGS_PROC_C1: u32 = 1 << 2;
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
export function buildAcpiTables(memory: GuestMemory, cpus: u32): u64 {
  const base = ACPI_TABLES_BASE;
  for (let i: u64 = 0; i < ACPI_TABLES_SIZE; i += 8) memory.write64(base + i, 0);
  const dsdt = writeDsdt(memory, base + DSDT_AT);
  writeFacs(memory, base + FACS_AT);
  const fadt = writeFadt(memory, base + FADT_AT, base + FACS_AT, dsdt);
  const madt = writeMadt(memory, base + MADT_AT, cpus);
  const hpet = writeHpet(memory, base + HPET_AT);
  const tables: u64[] = [fadt, madt, hpet];
  writeRootTable(memory, base + RSDT_AT, "RSDT", 4, tables);
  writeRootTable(memory, base + XSDT_AT, "XSDT", 8, tables);
  writeRsdp(memory, base + RSDP_AT, base + RSDT_AT, base + XSDT_AT);
  return base + RSDP_AT;
}

function writeRsdp(memory: GuestMemory, at: u64, rsdt: u64, xsdt: u64): void {
  writeChars(memory, at, "RSD PTR ");
  writeChars(memory, at + 9, OEM_ID);
  memory.write8(at + 15, 2); // ACPI 2.0 and later: the XSDT is there
  memory.write32(at + 16, <u32>rsdt);
  memory.write32(at + 20, RSDP_SIZE);
  memory.write64(at + 24, xsdt);
  // The first checksum covers the ACPI 1.0 part, the extended one all 36 bytes.
  memory.write8(at + 8, checksum(memory, at, 20));
  memory.write8(at + 32, checksum(memory, at, RSDP_SIZE));
}

// The RSDT (4-byte entries) or XSDT (8-byte entries) listing `tables`.
function writeRootTable(memory: GuestMemory, at: u64, signature: string, entrySize: u32, tables: u64[]): void {
  for (let i = 0; i < tables.length; i++) {
    const entry = at + <u64>HEADER_SIZE + <u64>(i * entrySize);
    if (entrySize == 4) memory.write32(entry, <u32>tables[i]);
    else memory.write64(entry, tables[i]);
  }
  finishTable(memory, at, signature, 1, HEADER_SIZE + <u32>tables.length * entrySize);
}

function writeFacs(memory: GuestMemory, at: u64): void {
  writeChars(memory, at, "FACS");
  memory.write32(at + 4, FACS_SIZE);
  memory.write8(at + 32, 2); // version; the waking vector and global lock stay 0
}

// The PM1a event and control registers and the PM timer, with the SCI on
// IRQ 9; the reset register (the 8042's 0xFE pulse); the legacy devices. No
// SMI command port: the VM is in ACPI mode from the start (4.8.2.1).
function writeFadt(memory: GuestMemory, at: u64, facs: u64, dsdt: u64): u64 {
  memory.write32(at + 36, <u32>facs);
  memory.write32(at + 40, <u32>dsdt);
  write16(memory, at + 46, SCI_IRQ);
  memory.write32(at + 56, <u32>(ACPI_PM_BASE + PM1_EVT_OFFSET));
  memory.write32(at + 64, <u32>(ACPI_PM_BASE + PM1_CNT_OFFSET));
  memory.write32(at + 76, <u32>(ACPI_PM_BASE + PM_TMR_OFFSET));
  memory.write8(at + 88, 4); // PM1_EVT_LEN: status and enable, 2 bytes each
  memory.write8(at + 89, 2); // PM1_CNT_LEN
  memory.write8(at + 91, 4); // PM_TMR_LEN
  write16(memory, at + 96, NO_C2_LATENCY);
  write16(memory, at + 98, NO_C3_LATENCY);
  write16(memory, at + 109, BOOT_ARCH_LEGACY_DEVICES | BOOT_ARCH_8042 | BOOT_ARCH_VGA_NOT_PRESENT);
  memory.write32(at + 112, FADT_FLAGS_WBINVD | FADT_FLAGS_PROC_C1 | FADT_FLAGS_TMR_VAL_EXT | FADT_FLAGS_RESET_REG_SUP);
  writeGas(memory, at + 116, GAS_SYSTEM_IO, 8, ACCESS_BYTE, I8042_COMMAND);
  memory.write8(at + 128, I8042_RESET_PULSE);
  memory.write8(at + 131, 4); // FADT minor version: 6.4
  memory.write64(at + 132, facs);
  memory.write64(at + 140, dsdt);
  writeGas(memory, at + 148, GAS_SYSTEM_IO, 32, ACCESS_DWORD, ACPI_PM_BASE + PM1_EVT_OFFSET);
  writeGas(memory, at + 172, GAS_SYSTEM_IO, 16, ACCESS_WORD, ACPI_PM_BASE + PM1_CNT_OFFSET);
  writeGas(memory, at + 208, GAS_SYSTEM_IO, 32, ACCESS_DWORD, ACPI_PM_BASE + PM_TMR_OFFSET);
  finishTable(memory, at, "FACP", 6, FADT_SIZE);
  return at;
}

// \_S5 as a package of the PM1a and PM1b SLP_TYP values and two reserved
// zeros: Name (_S5_, Package (4) {5, 5, 0, 0}) in AML (20.2.5.1, 20.2.5.4).
const AML_S5: u8[] = [
  0x08,
  0x5f,
  0x53,
  0x35,
  0x5f,
  0x12,
  0x08,
  0x04,
  0x0a,
  <u8>SLP_TYP_S5,
  0x0a,
  <u8>SLP_TYP_S5,
  0x00,
  0x00,
];

function writeDsdt(memory: GuestMemory, at: u64): u64 {
  for (let i = 0; i < AML_S5.length; i++) memory.write8(at + HEADER_SIZE + <u64>i, AML_S5[i]);
  finishTable(memory, at, "DSDT", 2, HEADER_SIZE + <u32>AML_S5.length); // revision 2: 64-bit AML integers
  return at;
}

// One processor-local APIC per vCPU, the I/O APIC with the PIT's IRQ 0 on
// its input 2 (isalines.ts), the NMI line on every LINT1 (core/vmapics.ts),
// and PCAT_COMPAT: the VM has a pair of 8259s too.
function writeMadt(memory: GuestMemory, at: u64, cpus: u32): u64 {
  memory.write32(at + 36, <u32>LAPIC_BASE);
  memory.write32(at + 40, MADT_PCAT_COMPAT);
  let entry = at + 44;
  for (let id: u32 = 0; id < cpus; id++) {
    memory.write8(entry, MADT_LOCAL_APIC);
    memory.write8(entry + 1, <u8>MADT_LAPIC_SIZE);
    memory.write8(entry + 2, <u8>id); // ACPI processor UID
    memory.write8(entry + 3, <u8>id); // APIC ID: the vCPU's index (vm.ts)
    memory.write32(entry + 4, LAPIC_ENABLED);
    entry += MADT_LAPIC_SIZE;
  }
  // The I/O APIC, its inputs from global system interrupt 0 (5.2.12.3).
  memory.write8(entry, MADT_IO_APIC);
  memory.write8(entry + 1, 12);
  memory.write8(entry + 2, IOAPIC_ID);
  memory.write32(entry + 4, <u32>IOAPIC_BASE);
  memory.write32(entry + 8, 0);
  entry += 12;
  // The PIT's IRQ 0 is input 2, edge, active high as the bus is; the SCI,
  // IRQ 9, is level-triggered and here active high (5.2.12.5).
  entry = writeSourceOverride(memory, entry, <u8>PIT_IRQ, PIT_IOAPIC_PIN, 0);
  entry = writeSourceOverride(memory, entry, <u8>SCI_IRQ, SCI_IRQ, ACTIVE_HIGH_LEVEL);
  // Every processor's LINT1 is the NMI line, edge-triggered and active high
  // as the bus is (flags 0, 5.2.12.7).
  memory.write8(entry, MADT_LOCAL_APIC_NMI);
  memory.write8(entry + 1, 6);
  memory.write8(entry + 2, ALL_PROCESSORS);
  write16(memory, entry + 3, 0);
  memory.write8(entry + 5, LINT1);
  entry += 6;
  finishTable(memory, at, "APIC", 5, <u32>(entry - at));
  return at;
}

// IA-PC HPET Specification 1.0a, 3.2.4: the Event Timer Block ID is the
// low half of the General Capabilities and ID register; HPET number 0.
function writeHpet(memory: GuestMemory, at: u64): u64 {
  memory.write32(at + 36, <u32>HPET_CAPABILITIES);
  writeGas(memory, at + 40, GAS_SYSTEM_MEMORY, 64, ACCESS_UNDEFINED, HPET_BASE);
  memory.write8(at + 52, 0);
  write16(memory, at + 53, HPET_MIN_TICK);
  memory.write8(at + 55, HPET_PAGE_PROTECTION_4K);
  finishTable(memory, at, "HPET", 1, HPET_TABLE_SIZE);
  return at;
}

// An ISA interrupt's input on the I/O APIC, and its polarity and trigger
// mode where they differ from ISA's (bus 0 is ISA); returns the next entry.
function writeSourceOverride(memory: GuestMemory, entry: u64, irq: u8, gsi: u32, flags: u16): u64 {
  memory.write8(entry, MADT_SOURCE_OVERRIDE);
  memory.write8(entry + 1, 10);
  memory.write8(entry + 2, 0);
  memory.write8(entry + 3, irq);
  memory.write32(entry + 4, gsi);
  write16(memory, entry + 8, flags);
  return entry + 10;
}

// The common header (5.2.6), then the checksum over the whole table.
function finishTable(memory: GuestMemory, at: u64, signature: string, revision: u8, length: u32): void {
  writeChars(memory, at, signature);
  memory.write32(at + 4, length);
  memory.write8(at + 8, revision);
  writeChars(memory, at + 10, OEM_ID);
  writeChars(memory, at + 16, OEM_TABLE_ID);
  memory.write32(at + 24, 1); // OEM revision
  writeChars(memory, at + 28, CREATOR_ID);
  memory.write32(at + 32, 1); // creator revision
  memory.write8(at + 9, 0);
  memory.write8(at + 9, checksum(memory, at, length));
}

// A Generic Address Structure for a register of `bits` bits in I/O or
// memory space (5.2.3.2).
function writeGas(memory: GuestMemory, at: u64, space: u8, bits: u8, accessSize: u8, address: u64): void {
  memory.write8(at, space);
  memory.write8(at + 1, bits);
  memory.write8(at + 2, 0);
  memory.write8(at + 3, accessSize);
  memory.write64(at + 4, address);
}

// The byte that makes `length` bytes from `at` sum to zero (mod 256).
function checksum(memory: GuestMemory, at: u64, length: u32): u8 {
  let sum: u8 = 0;
  for (let i: u32 = 0; i < length; i++) sum += memory.read8(at + <u64>i);
  return <u8>(0 - sum);
}

function writeChars(memory: GuestMemory, at: u64, text: string): void {
  for (let i = 0; i < text.length; i++) memory.write8(at + <u64>i, <u8>text.charCodeAt(i));
}

function write16(memory: GuestMemory, at: u64, v: u16): void {
  memory.write8(at, <u8>v);
  memory.write8(at + 1, <u8>(v >> 8));
}
