// Unit-test entry: one I/O APIC (ID 2 at reset) with a sink that records
// every message, mapped on an MMIO address space at its default base as the
// VMM will map it. Each load() of this module is a fresh I/O APIC.

import { AddressSpace } from "../../../vmm/devices/bus";
import { IOAPIC_BASE, IOAPIC_SIZE, IoApic, IoApicSink } from "../../../vmm/devices/apic/ioapic";

class RecordingSink extends IoApicSink {
  log: string[] = [];
  deliver(destination: u8, logical: bool, mode: u32, vector: u8, levelTriggered: bool): void {
    this.log.push(
      `${destination} ${logical ? "logical" : "physical"} ${mode} ${vector} ${levelTriggered ? "level" : "edge"}`,
    );
  }
}

const sink = new RecordingSink();
const ioapic = new IoApic(sink, 2);
const mmio = new AddressSpace();
mmio.map(IOAPIC_BASE, IOAPIC_SIZE, ioapic.window);

export function read(offset: u64, size: u8): u64 {
  return mmio.read(IOAPIC_BASE + offset, size);
}
export function write(offset: u64, size: u8, value: u64): bool {
  return mmio.write(IOAPIC_BASE + offset, size, value);
}
export function setLevel(pin: u32, high: bool): void {
  ioapic.setLevel(pin, high);
}
export function pulse(pin: u32): void {
  ioapic.pulse(pin);
}
export function endOfInterrupt(vector: u8): void {
  ioapic.endOfInterrupt(vector);
}
export function reset(): void {
  ioapic.reset();
}

export function messageCount(): i32 {
  return sink.log.length;
}
// The message at `n` as "destination physical|logical mode vector edge|level".
export function message(n: i32): string {
  return sink.log[n];
}
