// Unit-test entry: the CPUID policy (vmm/emul/cpuidpolicy.ts) on the fake
// host CPU the test's cpuid stub describes: emulateCpuid() for the vCPUs of a
// VM (which gives them their APIC IDs), and a CpuidTable, the per-vCPU fast
// path of the backends, read the way they read it: EAX into the 8 bytes
// where the backend keeps the guest's RAX, EBX, ECX and EDX into a register
// block. initXstate() decides the XCR0 components guests get, as the VMM
// does at boot. calibrate() sets the TSC's rate (kernel/time/tsc.ts) as the
// kernel's measure does at boot; call it before makeVm() and makeTable(),
// which, like the real ones, take the rate when they are made.

import { IA32_APIC_BASE } from "../../../kernel/arch/msrs";
import { Reg } from "../../../kernel/arch/x86";
import { setTscPerMillisecond } from "../../../kernel/time/tsc";
import { GuestRegisters } from "../../../vmm/core/registers";
import { ExitKind } from "../../../vmm/core/exit";
import { Vcpu } from "../../../vmm/core/vcpu";
import { Vm } from "../../../vmm/core/vm";
import { CpuidTable, emulateCpuid } from "../../../vmm/emul/cpuidpolicy";
import { initExtendedState } from "../../../vmm/vcpustate/xstate";
import { FakeVcpu } from "./fakevcpu";

let fakes: FakeVcpu[] = [];
let theVm: Vm | null = null;
let table: CpuidTable | null = null;
let theBlock: GuestRegisters | null = null;
const raxHome = memory.data(8);

function block(): GuestRegisters {
  if (theBlock === null) theBlock = new GuestRegisters();
  return theBlock!;
}

export function calibrate(tscPerMs: u64): void {
  setTscPerMillisecond(tscPerMs);
}
// The XCR0 bits guests may set (vcpustate/xstate.ts), as the VMM sets them up at boot.
export function initXstate(): void {
  initExtendedState();
}

// A VM of `vcpus` fake vCPUs: vCPU i has APIC ID i.
export function makeVm(vcpus: i32): void {
  fakes = [];
  const list: Vcpu[] = [];
  for (let i = 0; i < vcpus; i++) {
    const f = new FakeVcpu();
    fakes.push(f);
    list.push(f);
  }
  theVm = new Vm(0, "unit", list);
}

// The guest's CPUID on vCPU `i` with these RAX, RCX and CR4; then reg().
export function guestCpuid(i: i32, rax: u64, rcx: u64, cr4: u64): void {
  const f = fakes[i];
  f.regs.set(Reg.Rax, rax);
  f.regs.set(Reg.Rcx, rcx);
  f.cr4Value = cr4;
  emulateCpuid(theVm!, f);
}
// Exits as the VM counts them: `n` of `kind` reaching the handler, the
// first vCPU's counter moved as each backend moves it.
export function countExits(kind: i32, n: i32): void {
  for (let k = 0; k < n; k++) theVm!.exitStats.count(<ExitKind>kind);
  fakes[0].exits += <u64>n;
}
export function reg(i: i32, r: i32): u64 {
  return fakes[i].regs.get(<Reg>r);
}
export function apicId(i: i32): u32 {
  return fakes[i].apicId;
}
// vCPU i's IA32_APIC_BASE, read and written as by the guest's RDMSR and
// WRMSR (false: #GP).
export function readApicBase(i: i32): u64 {
  return <u64>theVm!.apics.of(fakes[i]).readMsr(IA32_APIC_BASE);
}
export function writeApicBase(i: i32, value: u64): bool {
  return theVm!.apics.of(fakes[i]).writeMsr(IA32_APIC_BASE, value);
}

export function makeTable(): void {
  table = new CpuidTable();
}
// The table's answer for `leaf`, after `fill` was put in the RAX home and
// every register of the block; false if the table does not hold the leaf.
export function tableAnswer(leaf: u32, fill: u64): bool {
  store<u64>(raxHome, fill);
  for (let r = 0; r < 16; r++) block().set(<Reg>r, fill);
  return table!.answer(leaf, raxHome, block().base);
}
export function tableRax(): u64 {
  return load<u64>(raxHome);
}
export function tableReg(r: i32): u64 {
  return block().get(<Reg>r);
}
