// Unit-test entry: the local APICs of one VM (vmm/core/vmapics.ts) on fake vCPUs:
// IPIs from one vCPU's ICR to the others through the xAPIC window, INIT and
// STARTUP, waking halted vCPUs, and the timer deadline the scheduler idles
// until; KVM's PV EOI, with guest RAM in the fake physical memory; and a
// fake interrupt controller on the VM's INTR pin (Vm.intr).
// Each load() of this module is a fresh VM of VCPUS vCPUs.

import { Reg, RFLAGS_IF } from "../../../kernel/arch/x86";
import { Activity, Vcpu } from "../../../vmm/core/vcpu";
import { InterruptPin, Vm } from "../../../vmm/core/vm";
import { pvEoiWord } from "../../../vmm/devices/apic/pveoi";
import { FakeVcpu } from "./fakevcpu";

const VCPUS = 3;

// An interrupt controller whose request, vector and next event the test sets.
class FakePin extends InterruptPin {
  request: bool = false;
  vector: u8 = 0;
  event: u64 = u64.MAX_VALUE;
  asserted(): bool {
    return this.request;
  }
  acknowledge(): u8 {
    this.request = false;
    return this.vector;
  }
  nextEvent(): u64 {
    return this.event;
  }
  settled(): bool {
    return !this.request;
  }
}
const pin = new FakePin();

// Made on first use: a vCPU asks CPUID as it is made, which the shim's stubs
// answer only once the module is instantiated.
let theVm: Vm | null = null;
const fakes: FakeVcpu[] = [];
function vm(): Vm {
  if (theVm === null) {
    const vcpus: Vcpu[] = [];
    for (let i = 0; i < VCPUS; i++) {
      const fake = new FakeVcpu();
      fakes.push(fake);
      vcpus.push(fake);
    }
    theVm = new Vm(0, "unit", vcpus);
  }
  return theVm!;
}

// A 32-bit access to the xAPIC page by vCPU `from`.
export function apicWrite(from: i32, register: u32, value: u32): void {
  const v = vm();
  v.apics.now(v.vcpus[from]).write(register, 4, value);
}
export function apicRead(from: i32, register: u32): u32 {
  const v = vm();
  return <u32>v.apics.now(v.vcpus[from]).read(register, 4);
}

// What the vCPU's own CPU does before it enters the guest again.
export function enter(i: i32): void {
  vm().vcpus[i].applyPending(null);
}
export function activity(i: i32): i32 {
  return <i32>vm().vcpus[i].activity;
}
export function setActivity(i: i32, a: i32): void {
  const vcpu = vm().vcpus[i];
  if (<Activity>a == Activity.Halted) vcpu.halt();
  else vcpu.activity = <Activity>a;
}
// A halted vCPU's IF is read when it halts: it halts again with the new one.
export function setInterruptsEnabled(i: i32, on: bool): void {
  vm();
  fakes[i].rflagsValue = on ? 2 | RFLAGS_IF : 2;
  if (fakes[i].activity == Activity.Halted) fakes[i].halt();
}
// Halted in an NMI handler (NMIs blocked) or not: it halts again so.
export function setNmisBlocked(i: i32, on: bool): void {
  vm();
  fakes[i].nmisBlockedValue = on;
  if (fakes[i].activity == Activity.Halted) fakes[i].halt();
}
export function nmiPending(i: i32): bool {
  return vm().vcpus[i].nmiPending;
}
export function nmiLine(): void {
  vm().apics.nmiLine();
}
export function lastReset(i: i32): i64 {
  vm();
  return fakes[i].lastReset;
}
export function register(i: i32, r: i32): u64 {
  return vm().vcpus[i].regs.get(<Reg>r);
}
export function setRegister(i: i32, r: i32, value: u64): void {
  vm().vcpus[i].regs.set(<Reg>r, value);
}
export function apicId(i: i32): u32 {
  return vm().vcpus[i].apicId;
}
export function pendingVector(i: i32): i32 {
  const v = vm();
  return v.apics.of(v.vcpus[i]).pendingVector();
}
// KVM's PV EOI: the VM's RAM (`size` bytes from guest-physical 0, at
// host-physical `hpa`), the MSR, the entry's offer and the exit's look.
export function addRam(hpa: u64, size: u64): void {
  vm().memory.add(0, hpa, size);
}
export function writePvEoiMsr(i: i32, value: u64): bool {
  const v = vm();
  return v.apics.writePvEoi(v.vcpus[i], value, v.memory.translate(pvEoiWord(value), 4));
}
export function offerPvEoi(i: i32): void {
  const v = vm();
  v.apics.offerPvEoi(v.vcpus[i]);
}
export function takePvEoi(i: i32): void {
  const v = vm();
  v.apics.takePvEoi(v.vcpus[i]);
}
// A level-triggered interrupt from the I/O APIC for the boot vCPU.
export function levelInterrupt(vector: u8): void {
  vm().apics.deliverExternal(0, false, 0, vector, true);
}
// The vCPU takes the interrupt its APIC has for it: IRR to ISR; the vector, or -1.
export function acknowledge(i: i32): i32 {
  const v = vm(), apic = v.apics.of(v.vcpus[i]), vector = apic.pendingVector();
  if (vector >= 0) apic.acknowledge(<u8>vector);
  return vector;
}

// The VM's view: external interrupts for the boot vCPU and the APICs together.
export function connectPin(): void {
  vm().intr = pin;
}
export function setPin(request: bool, vector: u8, event: u64): void {
  pin.request = request;
  pin.vector = vector;
  pin.event = event;
}
export function vmHasInterruptFor(i: i32): bool {
  const v = vm();
  return v.hasInterruptFor(v.vcpus[i]);
}
export function vmTakeInterrupt(): u8 {
  return vm().takeInterrupt();
}
export function vmWakeIfPending(i: i32): void {
  const v = vm();
  v.wakeIfPending(v.vcpus[i]);
}
export function vmNextWakeUp(): u64 {
  return vm().nextWakeUp();
}
export function vmNextTimerInterrupt(i: i32): u64 {
  const v = vm();
  return v.nextTimerInterrupt(v.vcpus[i]);
}
export function init(i: i32): void {
  const v = vm();
  v.apics.init(v.vcpus[i]);
}

// The linear memory's size in 64 KiB pages, which grows with the heap (the
// collector runs only when the scheduler calls it, never here).
export function memoryPages(): i32 {
  return memory.size();
}

// `count` times: vCPU 0 sends a fixed IPI to every vCPU (the all-including-
// self shorthand, ICR bits 19:18 = 10), and the I/O APIC sends a message to
// every APIC (physical destination 0xff, the xAPIC broadcast).
export function interruptStorm(count: i32): void {
  const v = vm();
  for (let i = 0; i < count; i++) {
    apicWrite(0, 0x300, (2 << 18) | 0x40);
    v.apics.deliverExternal(0xff, false, 0, 0x41, false);
  }
}
