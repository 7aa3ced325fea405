// Unit-test entry: four local APICs (IDs 0-3, APIC 0 the bootstrap
// processor) on a recording ApicBus. The bus logs every IPI and, as the VMM
// will, hands fixed and lowest-priority ones to the target APICs (a
// lowest-priority IPI to the destination with the lowest arbitration
// priority, the first of equals). APIC 0 is also mapped on an
// MMIO address space at its default base, as the VMM will map it. Each
// load() of this module is a fresh VM.

import { AddressSpace } from "../../../vmm/devices/bus";
import {
  ApicBus,
  DELIVERY_FIXED,
  DELIVERY_LOWEST_PRIORITY,
  LAPIC_BASE,
  LAPIC_SIZE,
  LocalApic,
  matchesDestination,
} from "../../../vmm/devices/apic/lapic";

class Ipi {
  constructor(public source: u32, public mode: u32, public vector: u8, public destinations: u32[]) {}
}

class RecordingBus extends ApicBus {
  list: LocalApic[] = [];
  log: Ipi[] = [];
  deliverIpi(source: LocalApic, mode: u32, vector: u8, destinations: u32[]): void {
    this.log.push(new Ipi(source.id, mode, vector, destinations.slice())); // the source reuses its list
    if (mode == DELIVERY_FIXED) {
      for (let i = 0; i < destinations.length; i++) this.list[destinations[i]].accept(vector, false);
    }
    if (mode == DELIVERY_LOWEST_PRIORITY) {
      let chosen = this.list[destinations[0]];
      for (let i = 1; i < destinations.length; i++) {
        const apic = this.list[destinations[i]];
        if (apic.arbitrationPriority() < chosen.arbitrationPriority()) chosen = apic;
      }
      chosen.accept(vector, false);
    }
  }
  apics(): LocalApic[] {
    return this.list;
  }
  // Level-triggered EOIs, as the I/O APIC would see them.
  eois: u8[] = [];
  endOfLevelInterrupt(vector: u8): void {
    this.eois.push(vector);
  }
  // The APICs that passed an NMI to their processor, by ID.
  nmis: u32[] = [];
  nmi(target: LocalApic): void {
    this.nmis.push(target.id);
  }
}

const bus = new RecordingBus();
for (let id: u32 = 0; id < 4; id++) bus.list.push(new LocalApic(id, id == 0, bus));

const mmio = new AddressSpace();
mmio.map(LAPIC_BASE, LAPIC_SIZE, bus.list[0]);

function apic(index: i32): LocalApic {
  return bus.list[index];
}

export function mmioRead(index: i32, offset: u32, size: u8): u64 {
  return apic(index).read(offset, size);
}
export function mmioWrite(index: i32, offset: u32, size: u8, value: u64): void {
  apic(index).write(offset, size, value);
}
export function busRead(address: u64, size: u8): u64 {
  return mmio.read(address, size);
}
export function busWrite(address: u64, size: u8, value: u64): bool {
  return mmio.write(address, size, value);
}
export function msrRead(index: i32, msr: u32): i64 {
  return apic(index).readMsr(msr);
}
export function msrWrite(index: i32, msr: u32, value: u64): bool {
  return apic(index).writeMsr(msr, value);
}
export function mmioBase(index: i32): u64 {
  return apic(index).mmioBase;
}
export function initReset(index: i32): void {
  apic(index).initReset();
}

export function accept(index: i32, vector: u8, level: bool): void {
  apic(index).accept(vector, level);
}
export function pendingVector(index: i32): i32 {
  return apic(index).pendingVector();
}
export function acknowledge(index: i32, vector: u8): void {
  apic(index).acknowledge(vector);
}
export function passesExtInt(index: i32): bool {
  return apic(index).passesExtInt();
}

export function advance(index: i32, nowTsc: u64): void {
  apic(index).advance(nowTsc);
}
export function nextDeadline(index: i32): u64 {
  return apic(index).nextDeadline();
}
export function setTscPerBusTick(index: i32, ticks: u64): void {
  apic(index).setTscPerBusTick(ticks);
}

// The level-triggered EOIs the APICs broadcast, as "vector,vector,...".
export function levelEois(): string {
  return bus.eois.join(",");
}

export function ipiCount(): i32 {
  return bus.log.length;
}
// The IPI at `n` as "source mode vector: destination,destination,...".
export function ipi(n: i32): string {
  const r = bus.log[n];
  return `${r.source} ${r.mode} ${r.vector}: ${r.destinations.join(",")}`;
}

export function matches(destination: u32, logical: bool, x2apic: bool, apicId: u32, ldr: u32, dfr: u32): bool {
  return matchesDestination(destination, logical, x2apic, apicId, ldr, dfr);
}
