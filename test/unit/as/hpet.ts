// Unit-test entry: the HPET (vmm/devices/timers/hpet.ts) on an MMIO address space
// at its base, as the VMM maps it, with recorders for its two kinds of
// lines: the ISA IRQs (which the PIT drives too, through the HPET's legacy
// switch) and the I/O APIC inputs. PcInterrupts (vmm/platform/pc/pcinterrupts.ts) keeps
// the PIT and the HPET on a TSC the tests pass in. Each load() of this
// module is a fresh machine.

import { AddressSpace } from "../../../vmm/devices/bus";
import { AcpiPm } from "../../../vmm/devices/timers/acpipm";
import { RecordingMachine } from "./fakemachine";
import { Hpet, HPET_BASE, HPET_SIZE } from "../../../vmm/devices/timers/hpet";
import { InterruptLines } from "../../../vmm/devices/irq";
import { Pic8259Pair } from "../../../vmm/devices/pic/pic8259";
import { Pit8254 } from "../../../vmm/devices/timers/pit8254";
import { Cmos } from "../../../vmm/devices/timers/cmos";
import { PcInterrupts } from "../../../vmm/platform/pc/pcinterrupts";

const LINES = 32;

// Counts each line's rising edges and keeps its level.
class Recorder extends InterruptLines {
  rises: StaticArray<u32> = new StaticArray<u32>(LINES);
  levels: StaticArray<bool> = new StaticArray<bool>(LINES);
  setLevel(line: u32, high: bool): void {
    if (high && !this.levels[line]) this.rises[line]++;
    this.levels[line] = high;
  }
}

const isa = new Recorder();
const ioapic = new Recorder();
const hpet = new Hpet(isa, ioapic);
const pit = new Pit8254(hpet.legacyLines);
const pm = new AcpiPm(new RecordingMachine(), isa);
const interrupts = new PcInterrupts(new Pic8259Pair(), pit, pm, hpet, new Cmos(hpet.legacyLines));
const mmio = new AddressSpace();
mmio.map(HPET_BASE, HPET_SIZE, hpet);

// Register accesses at `offset` in the block, as the guest makes them;
// each tells the platform's clock, as ClockedDevice does, that the timers'
// next deadline may have moved.
export function read(offset: u64, size: u8): u64 {
  const value = mmio.read(HPET_BASE + offset, size);
  interrupts.touched();
  return value;
}
export function write(offset: u64, size: u8, value: u64): bool {
  const written = mmio.write(HPET_BASE + offset, size, value);
  interrupts.touched();
  return written;
}

export function advance(ns: u64): void {
  hpet.advance(ns);
}
export function nsUntilInterrupt(): u64 {
  return hpet.nsUntilInterrupt();
}

export function isaRises(line: u32): u32 {
  return isa.rises[line];
}
export function isaLevel(line: u32): bool {
  return isa.levels[line];
}
export function ioapicRises(pin: u32): u32 {
  return ioapic.rises[pin];
}
export function ioapicLevel(pin: u32): bool {
  return ioapic.levels[pin];
}
// An ISA line as another device (the RTC) drives it, through the legacy switch.
export function deviceLevel(line: u32, high: bool): void {
  hpet.legacyLines.setLevel(line, high);
}

// The PIT's ports 40h-43h at offsets 0-3.
export function pitWrite(offset: u32, value: u8): void {
  pit.write(offset, 1, value);
  interrupts.touched();
}

export function tscCatchUp(nowTsc: u64, tscPerMs: u64): void {
  interrupts.catchUp(nowTsc, tscPerMs);
}
export function tscHpetAt(tscPerMs: u64): u64 {
  return interrupts.hpetAt(tscPerMs);
}
export function tscNextEventAt(tscPerMs: u64): u64 {
  return interrupts.nextEventAt(tscPerMs);
}
