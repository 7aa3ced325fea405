// The ACPI tables a VM's firmware would leave for its operating system,
// built by the VMM in the VM's legacy BIOS area.
//
// RSDP -> RSDT and XSDT -> FADT, MADT, HPET and MCFG; the FADT points to
// the DSDT and the FACS. The MADT lists the vCPUs' local APICs, the I/O
// APIC and the 8259 pair; the HPET table gives the event timer block
// (devices/timers/hpet.ts), the FADT the ACPI power-management block
// (devices/timers/acpipm.ts), the 8042's reset and the legacy devices; the
// MCFG the PCI bus's ECAM region (pcimap.ts). The DSDT, in AML (aml.ts),
// holds \_S5, the sleep type that powers the VM off, and the PCI host
// bridge with its resources and interrupt routing.
// Sections below are those of ACPI 6.5: RSDP 5.2.5, header 5.2.6, RSDT 5.2.7,
// XSDT 5.2.8, FADT 5.2.9, FACS 5.2.10, DSDT 5.2.11.1, MADT 5.2.12, GAS
// 5.2.3.2; MCFG is in the PCI Firmware Specification 3.2, 4.1.2.

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
import {
  Aml,
  concat,
  device,
  dwordMemory,
  eisaId,
  integer,
  io,
  memory32Fixed,
  name,
  packageOf,
  resourceTemplate,
  scope,
  wordBusNumber,
  wordIo,
} from "./aml";
import { PIT_IOAPIC_PIN, PIT_IRQ } from "./isalines";
import {
  ECAM_BASE,
  ECAM_BUSES,
  ECAM_SIZE,
  intxGsi,
  PCI_IO_END,
  PCI_MEMORY_BASE,
  PCI_MEMORY_END,
  PCI_SLOTS,
} from "./pcimap";

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

// DSDT: the PCI host bridge's own ports, CONFIG_ADDRESS and CONFIG_DATA
// (PCI Local Bus 3.0, 3.2.2.3.2), which it consumes rather than passes to
// the bus; the I/O window above them starts at the next 256-port boundary,
// as on a PC.
const PCI_CONFIG_PORTS: u16 = 0xcf8;
const PCI_CONFIG_PORT_COUNT: u8 = 8;
const IO_ABOVE_CONFIG_PORTS: u16 = 0xd00;
const INTX_PINS: u32 = 4; // INTA# to INTD#
const ALL_FUNCTIONS: u32 = 0xffff; // a _PRT address's function field: any

// Writes the tables for a VM of `cpus` vCPUs; returns the RSDP's address.
// Each table follows the one before; the MADT comes last, as it grows with
// the vCPUs.
export function buildAcpiTables(memory: GuestMemory, cpus: u32): u64 {
  for (let i: u64 = 0; i < ACPI_TABLES_SIZE; i += 8) memory.write64(ACPI_TABLES_BASE + i, 0);
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
  writeFacs(memory, facs);
  writeFadt(memory, fadt, facs, dsdt);
  writeHpet(memory, hpet);
  writeMcfg(memory, mcfg);
  writeDsdt(memory, dsdt, dsdtAml);
  writeMadt(memory, madt, cpus);
  const tables: u64[] = [fadt, madt, hpet, mcfg];
  writeRootTable(memory, rsdt, "RSDT", 4, tables);
  writeRootTable(memory, xsdt, "XSDT", 8, tables);
  writeRsdp(memory, rsdp, rsdt, xsdt);
  return rsdp;
}

// Where the table after a `length`-byte one at `at` goes.
function after(at: u64, length: u32): u64 {
  return (at + <u64>length + TABLE_ALIGNMENT - 1) & ~(TABLE_ALIGNMENT - 1);
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
// IAPC_BOOT_ARCH leaves MSI_NOT_SUPPORTED and PCIE_ASPM_CONTROLS clear:
// the guest may use MSI and manage ASPM.
function writeFadt(memory: GuestMemory, at: u64, facs: u64, dsdt: u64): void {
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
}

// The DSDT's definition block (5.2.11.1):
//   Name (_S5, Package (4) {5, 5, 0, 0})
//   Scope (\_SB) { Device (PCI0) {...}, Device (MRES) {...} }
// \_S5 packs the PM1a and PM1b SLP_TYP values and two reserved zeros
// (7.4.2).
function dsdtDefinitionBlock(): Aml {
  const s5 = integer(SLP_TYP_S5);
  return concat([
    name("_S5", packageOf([s5, s5, integer(0), integer(0)])),
    scope("\\_SB", [pciHostBridge(), motherboardResources()]),
  ]);
}

function writeDsdt(memory: GuestMemory, at: u64, aml: Aml): void {
  for (let i = 0; i < aml.length; i++) memory.write8(at + HEADER_SIZE + <u64>i, aml[i]);
  finishTable(memory, at, "DSDT", 2, HEADER_SIZE + <u32>aml.length); // revision 2: 64-bit AML integers
}

// PCI bus 0's host bridge: a PCI Express root bridge (PNP0A08) an
// older OS takes as a PCI one (PNP0A03), segment 0 (_SEG, 6.5.6), bus 0
// first (_BBN, 6.5.5). Its _CRS (6.2.2) gives the bus numbers, the ports
// and memory it passes to the bus and the ports it keeps; its _PRT (6.2.13)
// where each slot's INTx pins reach the I/O APIC.
function pciHostBridge(): Aml {
  return device("PCI0", [
    name("_HID", eisaId("PNP0A08")),
    name("_CID", eisaId("PNP0A03")),
    name("_UID", integer(0)),
    name("_SEG", integer(0)),
    name("_BBN", integer(0)),
    name(
      "_CRS",
      resourceTemplate([
        wordBusNumber(0, <u16>(ECAM_BUSES - 1)),
        io(PCI_CONFIG_PORTS, PCI_CONFIG_PORT_COUNT),
        wordIo(0, PCI_CONFIG_PORTS - 1),
        wordIo(IO_ABOVE_CONFIG_PORTS, <u16>(PCI_IO_END - 1)),
        dwordMemory(<u32>PCI_MEMORY_BASE, <u32>(PCI_MEMORY_END - 1)),
      ]),
    ),
    name("_PRT", packageOf(interruptRoutes())),
  ]);
}

// One _PRT entry per slot and pin: the slot's address with any function,
// the pin, source 0 (no link device: the last field is then a global system
// interrupt, level-triggered and active low), the I/O APIC input.
function interruptRoutes(): Aml[] {
  const routes: Aml[] = [];
  for (let slot: u32 = 0; slot < PCI_SLOTS; slot++) {
    for (let pin: u32 = 0; pin < INTX_PINS; pin++) {
      const address = (slot << 16) | ALL_FUNCTIONS;
      routes.push(packageOf([integer(address), integer(pin), integer(0), integer(intxGsi(slot, pin))]));
    }
  }
  return routes;
}

// A motherboard resource device (PNP0C02) reserving the ECAM region, as
// the MCFG's region must be (PCI Firmware 3.2, 4.1.2); Linux ignores an
// MCFG region reserved neither so nor in the memory map.
function motherboardResources(): Aml {
  return device("MRES", [
    name("_HID", eisaId("PNP0C02")),
    name("_UID", integer(0)),
    name("_CRS", resourceTemplate([memory32Fixed(<u32>ECAM_BASE, <u32>ECAM_SIZE)])),
  ]);
}

// After the header and 8 reserved bytes, one allocation: the ECAM region's
// base, its segment (0), its first and last bus, 4 reserved bytes.
function writeMcfg(memory: GuestMemory, at: u64): void {
  const allocation = at + HEADER_SIZE + 8;
  memory.write64(allocation, ECAM_BASE);
  write16(memory, allocation + 8, 0);
  memory.write8(allocation + 10, 0);
  memory.write8(allocation + 11, <u8>(ECAM_BUSES - 1));
  finishTable(memory, at, "MCFG", 1, MCFG_SIZE);
}

// One processor-local APIC per vCPU, the I/O APIC with the PIT's IRQ 0 on
// its input 2 (isalines.ts), the NMI line on every LINT1 (core/vmapics.ts),
// and PCAT_COMPAT: the VM has a pair of 8259s too.
function writeMadt(memory: GuestMemory, at: u64, cpus: u32): void {
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
}

// IA-PC HPET Specification 1.0a, 3.2.4: the Event Timer Block ID is the
// low half of the General Capabilities and ID register; HPET number 0.
function writeHpet(memory: GuestMemory, at: u64): void {
  memory.write32(at + 36, <u32>HPET_CAPABILITIES);
  writeGas(memory, at + 40, GAS_SYSTEM_MEMORY, 64, ACCESS_UNDEFINED, HPET_BASE);
  memory.write8(at + 52, 0);
  write16(memory, at + 53, HPET_MIN_TICK);
  memory.write8(at + 55, HPET_PAGE_PROTECTION_4K);
  finishTable(memory, at, "HPET", 1, HPET_TABLE_SIZE);
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
