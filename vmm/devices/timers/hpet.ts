// The High Precision Event Timer of a PC (IA-PC HPET Specification 1.0a):
// one event timer block of a 64-bit main counter at 10 MHz and three timers
// (hpettimer.ts), 1 KiB of registers at FED00000h, which the ACPI HPET table
// describes (platform/pc/acpitables.ts). A timer interrupts through an I/O
// APIC input or, in legacy replacement mode, in place of the PIT's IRQ 0 and
// the RTC's IRQ 8; FSB delivery is not offered. Like the PIT the model keeps
// no clock of its own: the VMM advances its time in nanoseconds
// (platform/pc/pcinterrupts.ts), converted exactly into counter ticks
// (clock.ts), and asks it when its next interrupt is due.

import { Device } from "../bus";
import { ClockRatio, NEVER } from "./clock";
import { HpetTimer, NO_ROUTE } from "./hpettimer";
import { InterruptLines } from "../irq";

export const HPET_BASE: u64 = 0xfed00000;
export const HPET_SIZE: u64 = 0x400;
export const HPET_TIMERS: u32 = 3;
export const HPET_HZ: u64 = 10_000_000;
const NS_PER_S: u64 = 1_000_000_000;

// General Capabilities and ID: REV_ID 1, NUM_TIM_CAP (the last timer's
// number), COUNT_SIZE_CAP (64 bits), LEG_RT_CAP, the vendor of the VM's PCI
// host bridge (pci/hostbridge.ts), and COUNTER_CLK_PERIOD in femtoseconds.
const REV_ID: u64 = 1;
const COUNT_SIZE_CAP: u64 = 1 << 13;
const LEG_RT_CAP: u64 = 1 << 15;
const VENDOR_INTEL: u64 = 0x8086;
const PERIOD_FS: u64 = 1_000_000_000_000_000 / HPET_HZ;
export const HPET_CAPABILITIES: u64 = REV_ID | (<u64>(HPET_TIMERS - 1) << 8) | COUNT_SIZE_CAP | LEG_RT_CAP
  | (VENDOR_INTEL << 16) | (PERIOD_FS << 32);

// General Configuration. The main counter runs while ENABLE_CNF is set and
// can be written only while it is halted.
const ENABLE_CNF: u64 = 1 << 0;
const LEG_RT_CNF: u64 = 1 << 1;

// The registers (2.3):
//   000h General Capabilities and ID   010h General Configuration
//   020h General Interrupt Status      0F0h Main Counter Value
//   100h + 20h * N: Timer N Configuration and Capability, +8 its Comparator
const CAPABILITIES: u64 = 0x000;
const CONFIGURATION: u64 = 0x010;
const INTERRUPT_STATUS: u64 = 0x020;
const MAIN_COUNTER: u64 = 0x0f0;
const TIMERS: u64 = 0x100;
const TIMER_STRIDE: u64 = 0x20;
const TIMER_CONFIG: u64 = 0x00;
const TIMER_COMPARATOR: u64 = 0x08;

// I/O APIC inputs 20-23 (Tn_INT_ROUTE_CAP), as on Intel's chipsets: inputs
// no ISA device uses here.
const ROUTE_CAPABILITY: u32 = 0x00f0_0000;
// What a timer's line is: an I/O APIC input, or with LEGACY an ISA IRQ.
const LEGACY: i32 = 0x100;
const LEGACY_IRQS: StaticArray<u32> = [0, 8];

export class Hpet extends Device {
  // The lines the 8254 and the RTC drive: IRQ 0 and 8 are theirs only while
  // LEG_RT_CNF is clear.
  readonly legacyLines: LegacySwitch;
  private timers: StaticArray<HpetTimer> = new StaticArray<HpetTimer>(HPET_TIMERS);
  private readonly clock: ClockRatio = new ClockRatio(HPET_HZ, NS_PER_S);
  private configuration: u64 = 0;
  private status: u64 = 0;
  private counter: u64 = 0;
  // Each timer's line and whether the timer holds it asserted.
  private lines: StaticArray<i32> = new StaticArray<i32>(HPET_TIMERS);
  private asserting: StaticArray<bool> = new StaticArray<bool>(HPET_TIMERS);

  // `isa` are the ISA lines (IRQ n to the 8259 pair and the I/O APIC),
  // `ioapic` the I/O APIC's inputs.
  constructor(isa: InterruptLines, private ioapic: InterruptLines) {
    super("HPET");
    this.legacyLines = new LegacySwitch(isa);
    for (let i: u32 = 0; i < HPET_TIMERS; i++) {
      this.timers[i] = new HpetTimer(ROUTE_CAPABILITY);
      this.lines[i] = NO_ROUTE;
    }
  }

  get mainCounter(): u64 {
    return this.counter;
  }

  // Moves time on by `ns` nanoseconds; the counter counts while enabled.
  advance(ns: u64): void {
    const ticks = this.clock.convert(ns);
    if (!(this.configuration & ENABLE_CNF) || ticks == 0) return;
    const from = this.counter;
    this.counter += ticks;
    for (let i: u32 = 0; i < HPET_TIMERS; i++) {
      if (this.timers[i].advance(from, ticks)) this.match(i);
    }
  }

  // Nanoseconds until the next match of a timer that may interrupt, or
  // NEVER: the first advance() that long makes it.
  nsUntilInterrupt(): u64 {
    if (!(this.configuration & ENABLE_CNF)) return NEVER;
    let ticks = NEVER;
    for (let i: u32 = 0; i < HPET_TIMERS; i++) {
      const timer = this.timers[i];
      if (timer.interruptEnabled) ticks = min(ticks, timer.ticksUntilMatch(this.counter));
    }
    return this.clock.inputFor(ticks);
  }

  // The registers take 32-bit accesses at 4-byte and 64-bit accesses at
  // 8-byte aligned offsets (2.3, register overview); other accesses read 0
  // and write nothing, as do reserved registers and the FSB route registers.
  read(offset: u64, size: u8): u64 {
    if (!aligned(offset, size)) return 0;
    return this.register(offset & ~7) >> ((offset & 4) * 8);
  }

  write(offset: u64, size: u8, value: u64): void {
    if (!aligned(offset, size)) return;
    const shift = (offset & 4) * 8, mask = size == 8 ? ~(<u64>0) : <u64>0xffff_ffff << shift;
    this.writeRegister(offset & ~7, value << shift, mask);
  }

  private register(offset: u64): u64 {
    if (offset == CAPABILITIES) return HPET_CAPABILITIES;
    if (offset == CONFIGURATION) return this.configuration;
    if (offset == INTERRUPT_STATUS) return this.status;
    if (offset == MAIN_COUNTER) return this.counter;
    const timer = timerAt(offset);
    if (timer < 0) return 0;
    const register = (offset - TIMERS) % TIMER_STRIDE;
    if (register == TIMER_CONFIG) return this.timers[timer].readConfig();
    if (register == TIMER_COMPARATOR) return this.timers[timer].readComparator();
    return 0;
  }

  // `bits` within `mask` are what the guest wrote.
  private writeRegister(offset: u64, bits: u64, mask: u64): void {
    if (offset == CONFIGURATION) {
      this.configuration = ((this.configuration & ~mask) | (bits & mask)) & (ENABLE_CNF | LEG_RT_CNF);
      this.legacyLines.replace((this.configuration & LEG_RT_CNF) != 0);
      this.refreshAll();
    } else if (offset == INTERRUPT_STATUS) {
      // Tn_INT_STS: writing 1 clears it, 0 does nothing.
      this.status &= ~(bits & mask);
      this.refreshAll();
    } else if (offset == MAIN_COUNTER) {
      if (!(this.configuration & ENABLE_CNF)) this.counter = (this.counter & ~mask) | (bits & mask);
    } else {
      const timer = timerAt(offset);
      if (timer < 0) return;
      const register = (offset - TIMERS) % TIMER_STRIDE;
      if (register == TIMER_CONFIG) this.timers[timer].writeConfig(bits, mask);
      else if (register == TIMER_COMPARATOR) this.timers[timer].writeComparator(bits, mask);
      this.refresh(<u32>timer);
    }
  }

  // A match on an edge-triggered timer sends one edge; on a level-triggered
  // one it sets the timer's General Interrupt Status bit, and the line stays
  // asserted until the guest writes 1 to that bit. Either only with
  // ENABLE_CNF and the timer's Tn_INT_ENB_CNF set; the status bit is set
  // regardless.
  private match(i: u32): void {
    const timer = this.timers[i];
    if (timer.levelTriggered) {
      this.status |= <u64>1 << i;
      this.refresh(i);
    } else if (timer.interruptEnabled) {
      const line = this.lineOf(i);
      if (this.level(line)) return; // another timer holds it: no edge
      this.drive(line, true);
      this.drive(line, false);
    }
  }

  private refreshAll(): void {
    for (let i: u32 = 0; i < HPET_TIMERS; i++) this.refresh(i);
  }

  // Brings timer `i`'s line to what its state asks: asserted while it is
  // level-triggered, enabled and its status bit set; the line it drove
  // before is let go if its route changed.
  private refresh(i: u32): void {
    const timer = this.timers[i];
    const line = this.lineOf(i), old = this.lines[i];
    const asserting = (this.configuration & ENABLE_CNF) != 0 && timer.interruptEnabled && timer.levelTriggered
      && ((this.status >> i) & 1) != 0;
    if (line == old && asserting == this.asserting[i]) return;
    const oldLevel = this.level(old), newLevel = this.level(line);
    this.lines[i] = line;
    this.asserting[i] = asserting;
    if (old != line && this.level(old) != oldLevel) this.drive(old, !oldLevel);
    if (this.level(line) != newLevel) this.drive(line, !newLevel);
  }

  // The I/O APIC input of the timer's Tn_INT_ROUTE_CNF or, with LEG_RT_CNF,
  // ISA IRQ 0 for timer 0 and IRQ 8 for timer 1, which reach the 8259 pair
  // and I/O APIC inputs 2 and 8 (platform/pc/isalines.ts).
  private lineOf(i: u32): i32 {
    if (this.configuration & LEG_RT_CNF && i < 2) return LEGACY | <i32>LEGACY_IRQS[i];
    return this.timers[i].route;
  }

  // Whether any timer holds `line` asserted: timers that share a line drive
  // it together, as wired-OR level outputs do.
  private level(line: i32): bool {
    if (line == NO_ROUTE) return false;
    for (let i: u32 = 0; i < HPET_TIMERS; i++) if (this.lines[i] == line && this.asserting[i]) return true;
    return false;
  }

  private drive(line: i32, high: bool): void {
    if (line == NO_ROUTE) return;
    if (line & LEGACY) this.legacyLines.setTimerLevel(<u32>(line & ~LEGACY), high);
    else this.ioapic.setLevel(<u32>line, high);
  }
}

// The chipset's switch in front of ISA IRQ 0 and 8: the 8254's and the
// RTC's lines while legacy replacement is off, HPET timers 0 and 1 while it
// is on, when the 8254's and the RTC's interrupts are blocked, as on Intel's
// chipsets (the PCH datasheets, "Legacy Replacement Routing"). Other lines
// pass through.
export class LegacySwitch extends InterruptLines {
  private replaced: bool = false;
  private deviceLevels: u32 = 0; // IRQ 0 and 8 as the 8254 and RTC drive them
  private timerLevels: u32 = 0; // and as HPET timers 0 and 1 do

  constructor(private isa: InterruptLines) {
    super();
  }

  setLevel(line: u32, high: bool): void {
    if (!isLegacy(line)) {
      this.isa.setLevel(line, high);
      return;
    }
    this.deviceLevels = withBit(this.deviceLevels, line, high);
    if (!this.replaced) this.isa.setLevel(line, high);
  }

  setTimerLevel(line: u32, high: bool): void {
    this.timerLevels = withBit(this.timerLevels, line, high);
    if (this.replaced) this.isa.setLevel(line, high);
  }

  // Switches the sources; a line whose level differs between them changes.
  replace(on: bool): void {
    if (on == this.replaced) return;
    this.replaced = on;
    const changed = this.deviceLevels ^ this.timerLevels;
    const now = on ? this.timerLevels : this.deviceLevels;
    for (let i = 0; i < LEGACY_IRQS.length; i++) {
      const line = LEGACY_IRQS[i];
      if ((changed >> line) & 1) this.isa.setLevel(line, ((now >> line) & 1) != 0);
    }
  }
}

function isLegacy(line: u32): bool {
  return line == LEGACY_IRQS[0] || line == LEGACY_IRQS[1];
}

function withBit(bits: u32, line: u32, high: bool): u32 {
  return high ? bits | (1 << line) : bits & ~(1 << line);
}

// The timer whose registers `offset` is in, or -1.
function timerAt(offset: u64): i32 {
  if (offset < TIMERS) return -1;
  const timer = (offset - TIMERS) / TIMER_STRIDE;
  return timer < <u64>HPET_TIMERS ? <i32>timer : -1;
}

// 32-bit accesses at 4-byte, 64-bit ones at 8-byte boundaries.
function aligned(offset: u64, size: u8): bool {
  return (size == 4 || size == 8) && (offset & (<u64>size - 1)) == 0;
}
