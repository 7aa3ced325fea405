// The VM's DSDT (ACPI 6.5, 5.2.11.1), the one table in AML (aml.ts): the
// namespace Linux reads to power the VM off and to find its PCI bus.
// \_S5 gives the sleep type that powers the VM off (devices/timers/
// acpipm.ts); \_SB.PCI0, the host bridge of the bus pcimap.ts lays out,
// its bus numbers, port and memory windows and interrupt routing; and
// \_SB.MRES reserves the ECAM region the MCFG points to.
// acpitables.ts puts the definition block under the DSDT's header.

import { SLP_TYP_S5 } from "../../devices/timers/acpipm";
import { AmlWriter } from "./aml";
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

// The PCI host bridge's own ports, CONFIG_ADDRESS and CONFIG_DATA
// (PCI Local Bus 3.0, 3.2.2.3.2), which it consumes rather than passes to
// the bus; the I/O window above them starts at the next 256-port boundary,
// as on a PC.
const PCI_CONFIG_PORTS: u16 = 0xcf8;
const PCI_CONFIG_PORT_COUNT: u8 = 8;
const IO_ABOVE_CONFIG_PORTS: u16 = 0xd00;
const INTX_PINS: u32 = 4; // INTA# to INTD#
const ALL_FUNCTIONS: u32 = 0xffff; // a _PRT address's function field: any

// The DSDT's definition block (5.2.11.1):
//   Name (_S5, Package (4) {5, 5, 0, 0})
//   Scope (\_SB) { Device (PCI0) {...}, Device (MRES) {...} }
// \_S5 packs the PM1a and PM1b SLP_TYP values and two reserved zeros
// (7.4.2).
export function dsdtDefinitionBlock(): Uint8Array {
  const w = new AmlWriter();
  w.name("_S5").beginPackage(4).integer(SLP_TYP_S5).integer(SLP_TYP_S5).integer(0).integer(0).end();
  w.beginScope("\\_SB");
  pciHostBridge(w);
  motherboardResources(w);
  w.end();
  return w.bytes;
}

// PCI bus 0's host bridge: a PCI Express root bridge (PNP0A08) an
// older OS takes as a PCI one (PNP0A03), segment 0 (_SEG, 6.5.6), bus 0
// first (_BBN, 6.5.5). Its _CRS (6.2.2) gives the bus numbers, the ports
// and memory it passes to the bus and the ports it keeps; its _PRT (6.2.13)
// where each slot's INTx pins reach the I/O APIC.
function pciHostBridge(w: AmlWriter): void {
  w.beginDevice("PCI0");
  w.name("_HID").eisaId("PNP0A08");
  w.name("_CID").eisaId("PNP0A03");
  w.name("_UID").integer(0);
  w.name("_SEG").integer(0);
  w.name("_BBN").integer(0);
  w.name("_CRS").beginResourceTemplate();
  w.wordBusNumber(0, <u16>(ECAM_BUSES - 1));
  w.io(PCI_CONFIG_PORTS, PCI_CONFIG_PORT_COUNT);
  w.wordIo(0, PCI_CONFIG_PORTS - 1);
  w.wordIo(IO_ABOVE_CONFIG_PORTS, <u16>(PCI_IO_END - 1));
  w.dwordMemory(<u32>PCI_MEMORY_BASE, <u32>(PCI_MEMORY_END - 1));
  w.end();
  w.name("_PRT").beginPackage(<u8>(PCI_SLOTS * INTX_PINS));
  interruptRoutes(w);
  w.end();
  w.end();
}

// One _PRT entry per slot and pin: the slot's address with any function,
// the pin, source 0 (no link device: the last field is then a global system
// interrupt, level-triggered and active low), the I/O APIC input.
function interruptRoutes(w: AmlWriter): void {
  for (let slot: u32 = 0; slot < PCI_SLOTS; slot++) {
    for (let pin: u32 = 0; pin < INTX_PINS; pin++) {
      const address = (slot << 16) | ALL_FUNCTIONS;
      w.beginPackage(4).integer(address).integer(pin).integer(0).integer(intxGsi(slot, pin)).end();
    }
  }
}

// A motherboard resource device (PNP0C02) reserving the ECAM region, as
// the MCFG's region must be (PCI Firmware 3.2, 4.1.2); Linux ignores an
// MCFG region reserved neither so nor in the memory map.
function motherboardResources(w: AmlWriter): void {
  w.beginDevice("MRES");
  w.name("_HID").eisaId("PNP0C02");
  w.name("_UID").integer(0);
  w.name("_CRS").beginResourceTemplate().memory32Fixed(<u32>ECAM_BASE, <u32>ECAM_SIZE).end();
  w.end();
}
