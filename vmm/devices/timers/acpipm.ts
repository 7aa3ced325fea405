// The ACPI power-management block the VM's FADT describes
// (platform/pc/acpitables.ts): the PM1a event and control registers and the
// PM timer, in I/O space (ACPI 6.5, 4.8.3). Writing SLP_TYP = 5 with SLP_EN
// powers the VM off. The one event is the fixed power button (4.8.3.1.1,
// the FADT leaves PWR_BUTTON clear): pressing it sets PWRBTN_STS, and while
// the guest has PWRBTN_EN set too the SCI line is high, until it writes
// the status bit back to clear it; what the press means (a clean shutdown,
// as a rule) is the guest OS's to decide. Like
// the PIT, the timer keeps no clock of its own: the VMM advances its time in
// nanoseconds before a guest access (platform/pc/pcinterrupts.ts), converted
// exactly into ticks (clock.ts).

import { Device } from "../bus";
import { InterruptLines } from "../irq";
import { MachineControl } from "../machine";
import { ClockRatio } from "./clock";

// The block's registers:
//   +0  PM1a_STS (16-bit, write 1 to clear)   +2  PM1a_EN (16-bit)
//   +4  PM1a_CNT (16-bit): SCI_EN, SLP_TYP, SLP_EN
//   +8  PM_TMR (32-bit, read-only): 3.579545 MHz, all 32 bits (TMR_VAL_EXT)
export const ACPI_PM_BASE: u64 = 0x400;
export const ACPI_PM_PORTS: u64 = 12;
export const PM1_EVT_OFFSET: u64 = 0;
export const PM1_CNT_OFFSET: u64 = 4;
export const PM_TMR_OFFSET: u64 = 8;
export const SCI_IRQ: u16 = 9;
export const SLP_TYP_S5: u32 = 5;
export const PM_TIMER_HZ: u64 = 3_579_545;

const SCI_EN: u16 = 1 << 0;
const SLP_TYP_SHIFT: u16 = 10;
const SLP_TYP_MASK: u16 = 7 << 10;
const SLP_EN: u16 = 1 << 13;
// PWRBTN_STS in PM1_STS and PWRBTN_EN in PM1_EN (4.8.3.1.1, Tables 4.13, 4.14).
const PWRBTN: u16 = 1 << 8;
// The status and enable bits ACPI defines for PM1 (Tables 4.13, 4.14).
const PM1_STS_BITS: u16 = 0x8d31;
const PM1_EN_BITS: u16 = 0x0521;
const NS_PER_S: u64 = 1_000_000_000;

export class AcpiPm extends Device {
  private status: u16 = 0;
  private enable: u16 = 0;
  private control: u16 = SCI_EN;
  private ticks: u64 = 0;
  private readonly clock: ClockRatio = new ClockRatio(PM_TIMER_HZ, NS_PER_S);

  // `lines`: where the SCI (SCI_IRQ, level-triggered, active high) goes.
  constructor(private machine: MachineControl, private lines: InterruptLines) {
    super("ACPI PM");
  }

  // The power button pressed and let go: its status stays set until the
  // guest clears it.
  pressPowerButton(): void {
    this.status |= PWRBTN;
    this.updateSci();
  }

  // SCI_EN is always set, so an enabled event with its status set holds the line high.
  private updateSci(): void {
    this.lines.setLevel(SCI_IRQ, (this.status & this.enable) != 0);
  }

  // Moves the PM timer on by `ns` nanoseconds.
  advance(ns: u64): void {
    this.ticks += this.clock.convert(ns);
  }

  // Ticks of the 3.579545 MHz clock, wrapping at 32 bits.
  get timer(): u32 {
    return <u32>this.ticks;
  }

  read(offset: u64, size: u8): u64 {
    if (offset >= PM_TMR_OFFSET) return <u64>this.timer >> ((offset - PM_TMR_OFFSET) * 8);
    return <u64>this.register16(offset & ~1) >> ((offset & 1) * 8);
  }

  // Each 16-bit register the access overlaps takes the bytes written to it.
  write(offset: u64, size: u8, value: u64): void {
    for (let register: u64 = 0; register < PM_TMR_OFFSET; register += 2) {
      const first = max(register, offset), end = min(register + 2, offset + <u64>size);
      if (first >= end) continue;
      const shift = (first - register) * 8, bytes = end - first;
      const mask = <u16>(((<u64>1 << (bytes * 8)) - 1) << shift);
      const bits = <u16>((value >> ((first - offset) * 8)) << shift) & mask;
      this.writeRegister16(register, bits, mask);
    }
  }

  private register16(offset: u64): u16 {
    if (offset == PM1_EVT_OFFSET) return this.status;
    if (offset == PM1_EVT_OFFSET + 2) return this.enable;
    if (offset == PM1_CNT_OFFSET) return this.control;
    return 0;
  }

  // `bits` within `mask` are the ones the guest wrote. SLP_TYP 5 is the value
  // the DSDT's \_S5 object names; other sleep states are not offered. SCI_EN
  // reads as set, since the VM is in ACPI mode from the start (no SMI command
  // port).
  private writeRegister16(offset: u64, bits: u16, mask: u16): void {
    if (offset == PM1_EVT_OFFSET) {
      this.status &= ~(bits & PM1_STS_BITS);
      this.updateSci();
      return;
    }
    if (offset == PM1_EVT_OFFSET + 2) {
      this.enable = ((this.enable & ~mask) | bits) & PM1_EN_BITS;
      this.updateSci();
      return;
    }
    if (offset != PM1_CNT_OFFSET) return;
    // SLP_EN is write-only and starts the sleep; SCI_EN stays set.
    const value = (this.control & ~mask) | bits;
    this.control = (value & SLP_TYP_MASK) | SCI_EN;
    if ((value & SLP_EN) != 0 && <u32>((value & SLP_TYP_MASK) >> SLP_TYP_SHIFT) == SLP_TYP_S5) this.machine.powerOff();
  }
}
