// The I/O APIC (Intel 82093AA), the interrupt controller PCs route device
// IRQs through once the guest leaves the 8259A pair behind.
//
// It has 24 input pins, driven through the same InterruptLines interface as
// the 8259A pair (pic/pic8259.ts), so a device's IRQ line can feed both. Each
// pin has a redirection-table entry that the guest programs through a 4 KiB
// MMIO page; an asserted, unmasked pin becomes an interrupt message, which
// leaves through an IoApicSink for the VMM to resolve against the VM's local
// APICs. Section names are those of the 82093AA datasheet (290566-001); the
// EOI register and version 20h are those of the I/O APIC in Intel's ICH
// chipsets (the ICH datasheets' "Advanced Programmable Interrupt Controller"
// chapter, "EOI Register").

import { Device } from "../bus";
import { InterruptLines } from "../irq";
import { DELIVERY_FIXED, DELIVERY_INIT, DELIVERY_LOWEST_PRIORITY, DELIVERY_NMI } from "./lapic";
import { DELIVERY_MODE, LVT_MASKED, VECTOR } from "./lapicregisters";

export const IOAPIC_BASE: u64 = 0xfec00000;
export const IOAPIC_SIZE: u64 = 0x1000;
export const IOAPIC_PINS: u32 = 24;

// The delivery modes an entry has beyond the local APIC's ICR ones ("I/O
// Redirection Table Registers", bits 10:8); 3 and 6 are reserved.
export const DELIVERY_SMI: u32 = 2;
export const DELIVERY_EXTINT: u32 = 7;

// Where a message goes; the VMM resolves the destination to local APICs
// (core/vmapics.ts, with matchesDestination() of lapic.ts).
export abstract class IoApicSink {
  // `destination` is an APIC ID (all 8 bits; the 82093AA itself compared
  // only 59:56), or with `logical` a logical destination (SDM Vol. 3A
  // 11.6.2.2). `mode` is a DELIVERY_ constant. SMI, NMI, INIT and ExtINT
  // messages are always edge-triggered and their vector means nothing (an
  // ExtINT's comes from the 8259A's INTA cycle).
  abstract deliver(destination: u8, logical: bool, mode: u32, vector: u8, levelTriggered: bool): void;
}

// MMIO offsets ("Memory Mapped Registers for Accessing IOAPIC Registers"):
// an index register (IOREGSEL) and a data window (IOWIN) onto the registers.
const IOREGSEL: u64 = 0x00;
const IOWIN: u64 = 0x10;
const EOI: u64 = 0x40; // ICH I/O APIC "EOI Register"

// Register indices ("IOAPIC Registers"). The APIC serial bus arbitration the
// ARB register is for is not modelled: it reads as the ID.
const REG_ID: u32 = 0x00;
const REG_VERSION: u32 = 0x01;
const REG_ARBITRATION: u32 = 0x02;
const REG_REDIRECTION: u32 = 0x10; // entry n: low dword at 0x10 + 2n, high dword after it

const ID_SHIFT: u32 = 24; // ID and ARB: the 4-bit ID in bits 27:24
const ID_BITS: u32 = 0xf;
const VERSION: u32 = 0x20 | ((IOAPIC_PINS - 1) << 16); // maximum redirection entry in bits 23:16

// Redirection-table entry, low dword: which vector, in which delivery mode,
// to which kind of destination, and whether the pin is edge- or
// level-triggered. The vector, delivery mode and mask sit where they sit in a
// local APIC's LVT entries. Bit 12, Delivery Status, is read-only and always
// 0 here, since delivery is immediate; bit 14, Remote IRR, is read-only.
const LOGICAL: u32 = 1 << 11;
const ACTIVE_LOW: u32 = 1 << 13;
const REMOTE_IRR: u32 = 1 << 14;
const LEVEL_TRIGGERED: u32 = 1 << 15;
const MASKED: u32 = LVT_MASKED;
const LOW_WRITABLE: u32 = VECTOR | DELIVERY_MODE | LOGICAL | ACTIVE_LOW | LEVEL_TRIGGERED | MASKED;
// High dword: the destination in bits 31:24 (entry bits 63:56); the rest is
// reserved (the extended destination ID of later chipsets is not modelled).
const HIGH_WRITABLE: u32 = 0xff00_0000;

export class IoApic extends InterruptLines {
  // The MMIO page, to map at IOAPIC_BASE for IOAPIC_SIZE bytes.
  readonly window: Device = new IoApicWindow(this);
  private id: u32 = 0;
  private selected: u32 = 0; // IOREGSEL
  private low: StaticArray<u32> = new StaticArray<u32>(IOAPIC_PINS);
  private high: StaticArray<u32> = new StaticArray<u32>(IOAPIC_PINS);
  // The input wires as the devices drive them, before the polarity inversion.
  private wires: u32 = 0;

  // `resetId` is the ID reset() restores (the 82093AA powers up with 0; a
  // VMM without firmware to program it sets the one its MADT announces).
  constructor(private sink: IoApicSink, private resetId: u8 = 0) {
    super();
    this.reset();
  }

  // Power-up state: every entry masked (the datasheet defines only the mask
  // bit at reset; the other fields start at 0), IOREGSEL 0. The wires are the
  // devices' and keep their levels.
  reset(): void {
    this.id = <u32>this.resetId & ID_BITS;
    this.selected = 0;
    for (let pin: u32 = 0; pin < IOAPIC_PINS; pin++) {
      this.low[pin] = MASKED;
      this.high[pin] = 0;
    }
  }

  // Input pin `pin` (0-23) at wire level `high`. Polarity decides which level
  // is asserted. An edge-triggered pin sends on the transition to asserted;
  // a level-triggered one while asserted. A masked pin ignores both ("Interrupt
  // Mask": edges on a masked pin are not held pending).
  setLevel(pin: u32, high: bool): void {
    if (pin >= IOAPIC_PINS) return;
    const bit: u32 = 1 << pin;
    if (((this.wires & bit) != 0) == high) return;
    this.wires ^= bit;
    const entry = this.low[pin];
    if (this.levelTriggered(entry)) this.serviceLevel(pin);
    else if (this.asserted(pin) && !(entry & MASKED)) this.send(pin, false);
  }

  // A local APIC ended `vector` (its EOI for a level-triggered interrupt, or
  // a write to the EOI register): every entry with that vector has its
  // Remote IRR cleared, and a level pin still asserted sends again. A
  // level-triggered message sets its entry's Remote IRR (serviceLevel()), and
  // the pin sends nothing more until this EOI comes: through the EOI register
  // of version-20h I/O APICs, or from a local APIC's EOI broadcast (lapic.ts,
  // through core/vmapics.ts).
  endOfInterrupt(vector: u8): void {
    for (let pin: u32 = 0; pin < IOAPIC_PINS; pin++) {
      if ((this.low[pin] & VECTOR) != vector) continue;
      this.low[pin] &= ~REMOTE_IRR;
      this.serviceLevel(pin);
    }
  }

  selectRegister(index: u32): void {
    this.selected = index & 0xff;
  }
  get selectedRegister(): u32 {
    return this.selected;
  }

  // IOWIN reads the register IOREGSEL selects. Indices with no register read 0.
  readSelected(): u32 {
    const index = this.selected;
    switch (index) {
      case REG_ID:
      case REG_ARBITRATION:
        return this.id << ID_SHIFT; // ARB is loaded from the ID
      case REG_VERSION:
        return VERSION;
    }
    const pin = redirectionPin(index);
    if (pin < 0) return 0;
    return index & 1 ? this.high[pin] : this.low[pin];
  }

  // IOWIN writes: the ID, an entry's writable bits; the rest is read-only.
  writeSelected(value: u32): void {
    const index = this.selected;
    if (index == REG_ID) {
      this.id = (value >> ID_SHIFT) & ID_BITS;
      return;
    }
    const pin = redirectionPin(index);
    if (pin < 0) return;
    if (index & 1) {
      this.high[pin] = value & HIGH_WRITABLE;
      return;
    }
    this.writeLow(<u32>pin, value);
  }

  // An edge-triggered entry has no use for Remote IRR, and writing one clears
  // it: without an EOI register (versions before 20h) Linux ends a stuck
  // level interrupt by switching the entry to edge and back
  // (arch/x86/kernel/apic/io_apic.c, __eoi_ioapic_pin). A level pin that is
  // asserted, unmasked and not waiting for an EOI sends at once, as after an
  // unmask.
  private writeLow(pin: u32, value: u32): void {
    const remoteIrr = this.low[pin] & REMOTE_IRR;
    const entry = (value & LOW_WRITABLE) | remoteIrr;
    this.low[pin] = this.levelTriggered(entry) ? entry : entry & ~REMOTE_IRR;
    this.serviceLevel(pin);
  }

  // SMI, NMI, INIT and ExtINT messages are edge-triggered whatever the
  // trigger mode bit says ("Delivery Mode": NMI and INIT are treated as
  // edge, SMI and ExtINT require edge).
  private levelTriggered(entry: u32): bool {
    const mode = (entry & DELIVERY_MODE) >> 8;
    return (entry & LEVEL_TRIGGERED) != 0 && (mode == DELIVERY_FIXED || mode == DELIVERY_LOWEST_PRIORITY);
  }

  private asserted(pin: u32): bool {
    const wire = (this.wires >> pin) & 1;
    return (wire != 0) != ((this.low[pin] & ACTIVE_LOW) != 0);
  }

  // A level-triggered pin sends while it is asserted, unmasked and its last
  // message has not been EOIed. Remote IRR is set before the message leaves,
  // so an EOI the sink sends back at once finds it.
  private serviceLevel(pin: u32): void {
    const entry = this.low[pin];
    if (!this.levelTriggered(entry) || entry & (MASKED | REMOTE_IRR) || !this.asserted(pin)) return;
    this.low[pin] = entry | REMOTE_IRR;
    this.send(pin, true);
  }

  // Reserved delivery modes send nothing.
  private send(pin: u32, levelTriggered: bool): void {
    const entry = this.low[pin], mode = (entry & DELIVERY_MODE) >> 8;
    if (
      mode != DELIVERY_FIXED && mode != DELIVERY_LOWEST_PRIORITY && mode != DELIVERY_SMI
      && mode != DELIVERY_NMI && mode != DELIVERY_INIT && mode != DELIVERY_EXTINT
    ) return;
    this.sink.deliver(<u8>(this.high[pin] >> 24), (entry & LOGICAL) != 0, mode, <u8>entry, levelTriggered);
  }
}

// The entry whose low or high dword register `index` is, or -1.
function redirectionPin(index: u32): i32 {
  const pin = (index - REG_REDIRECTION) >> 1;
  return index >= REG_REDIRECTION && pin < IOAPIC_PINS ? <i32>pin : -1;
}

// The MMIO page: IOREGSEL, IOWIN and the EOI register, 32-bit accesses only
// (the datasheet asks for dword accesses; other sizes and offsets read 0 and
// ignore writes). IOREGSEL reads back the index in bits 7:0.
class IoApicWindow extends Device {
  constructor(private ioapic: IoApic) {
    super("I/O APIC");
  }

  read(offset: u64, size: u8): u64 {
    if (size != 4) return 0;
    if (offset == IOREGSEL) return this.ioapic.selectedRegister;
    if (offset == IOWIN) return this.ioapic.readSelected();
    return 0;
  }

  write(offset: u64, size: u8, value: u64): void {
    if (size != 4) return;
    const dword = <u32>value;
    if (offset == IOREGSEL) this.ioapic.selectRegister(dword);
    else if (offset == IOWIN) this.ioapic.writeSelected(dword);
    else if (offset == EOI) this.ioapic.endOfInterrupt(<u8>dword);
  }
}
