// Where a VM's PCI bus sits in its physical address space, and how its
// functions' INTx pins reach the I/O APIC: the one place the bus model
// (devices/pci/), the firmware's BAR assignment and the ACPI tables that
// describe them to the guest (acpitables.ts: MCFG, the host bridge's _CRS
// and _PRT) take these numbers from.
//
// The VM has one PCI segment with one bus, bus 0. Its configuration space
// is reached through ports 0xCF8/0xCFC and through the enhanced
// configuration access mechanism (ECAM, PCI Express Base 4.0, 7.2.2): 4 KiB
// per function, at ECAM_BASE + (bus << 20 | device << 15 | function << 12).
// The memory BARs live in the window below it, between the RAM below 4 GiB
// and the ECAM region; I/O BARs above the legacy ports.

export const ECAM_BASE: u64 = 0xe000_0000;
export const ECAM_BUSES: u32 = 1; // bus 0 only
export const ECAM_SIZE: u64 = <u64>ECAM_BUSES << 20;

export const PCI_MEMORY_BASE: u64 = 0xc000_0000;
// So RAM below 4 GiB ends there at most, and the rest of a large VM's RAM
// starts at 4 GiB (setup/vmcreate.ts), as on a PC: the hole between holds
// the PCI window, ECAM and the APICs, HPET and firmware ranges above.
export const LOW_RAM_END: u64 = PCI_MEMORY_BASE;
export const HIGH_RAM_START: u64 = 0x1_0000_0000;
export const PCI_MEMORY_END: u64 = ECAM_BASE;
export const PCI_IO_BASE: u32 = 0xc000;
export const PCI_IO_END: u32 = 0x1_0000;

export const PCI_SLOTS: u32 = 32;

// INTA#-INTD# of the functions in slot s reach I/O APIC inputs 16-19,
// rotated by slot as on a PC's riser (PCI-to-PCI Bridge Architecture 1.2,
// 9.1, the "swizzle"), so that the single-function devices of neighbouring
// slots do not all share one input. Inputs 16-19 are free: the ISA IRQs
// take 0-15 and the HPET 20-23 (devices/timers/hpet.ts). The guest learns
// the routing from the host bridge's _PRT; the lines are level-triggered
// and active low (ACPI 6.5, 6.2.13).
export const INTX_FIRST_GSI: u32 = 16;

// `pin`: 0 for INTA# to 3 for INTD#.
export function intxGsi(slot: u32, pin: u32): u32 {
  return INTX_FIRST_GSI + ((slot + pin) & 3);
}
