// Unit-test entry: the local APICs of one VM (vmm/apics.ts) on fake vCPUs:
// IPIs from one vCPU's ICR to the others through the xAPIC window, INIT and
// STARTUP, waking halted vCPUs, and the timer deadline the scheduler idles
// until. Each load() of this module is a fresh VM of VCPUS vCPUs.

import { LocalApicWindow } from "../../../vmm/apics";
import { LAPIC_BASE, LAPIC_SIZE } from "../../../vmm/devices/lapic";
import { Activity, Reg } from "../../../vmm/vcpu";
import { Vm } from "../../../vmm/vm";
import { FakeVcpu } from "./fakevcpu";

const VCPUS = 3;
const RFLAGS_IF: u64 = 1 << 9;

// Made on first use: a vCPU asks CPUID as it is made, which the shim's stubs
// answer only once the module is instantiated.
let theVm: Vm | null = null;
const fakes: FakeVcpu[] = [];
function vm(): Vm {
  if (theVm === null) {
    for (let i = 0; i < VCPUS; i++) fakes.push(new FakeVcpu());
    const v = new Vm(0, "unit", fakes[0]);
    for (let i = 1; i < VCPUS; i++) v.addVcpu(fakes[i]);
    v.bus.mmio.map(LAPIC_BASE, LAPIC_SIZE, new LocalApicWindow(v.apics, v));
    theVm = v;
  }
  return theVm!;
}

// A 32-bit access to the xAPIC page by vCPU `from`.
export function apicWrite(from: i32, register: u32, value: u32): void {
  const v = vm();
  v.current = v.vcpus[from];
  v.bus.mmio.write(LAPIC_BASE + register, 4, value);
}
export function apicRead(from: i32, register: u32): u32 {
  const v = vm();
  v.current = v.vcpus[from];
  return <u32>v.bus.mmio.read(LAPIC_BASE + register, 4);
}

export function activity(i: i32): i32 { return <i32>vm().vcpus[i].activity; }
export function setActivity(i: i32, a: i32): void { vm().vcpus[i].activity = <Activity>a; }
export function setInterruptsEnabled(i: i32, on: bool): void { vm(); fakes[i].rflagsValue = on ? 2 | RFLAGS_IF : 2; }
export function lastReset(i: i32): i64 { vm(); return fakes[i].lastReset; }
export function register(i: i32, r: i32): u64 { return vm().vcpus[i].regs.get(<Reg>r); }
export function setRegister(i: i32, r: i32, value: u64): void { vm().vcpus[i].regs.set(<Reg>r, value); }
export function apicId(i: i32): u32 { return vm().vcpus[i].apicId; }
export function pendingVector(i: i32): i32 { const v = vm(); return v.apics.of(v.vcpus[i]).pendingVector(); }
export function wakeIfPending(i: i32): void { const v = vm(); v.apics.wakeIfPending(v.vcpus[i]); }
export function nextWakeUp(): u64 { return vm().apics.nextWakeUp(); }
export function init(i: i32): void { const v = vm(); v.apics.init(v.vcpus[i]); }
