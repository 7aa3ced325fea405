// Unit-test entry: the emulated MSRs of one vCPU (vmm/emul/msrpolicy.ts), read and
// written as a guest's RDMSR and WRMSR reach them. Each load() is a fresh
// vCPU, on an Intel host until onAmd() says otherwise.

import { emulateRead, emulateWrite, readCounter } from "../../../vmm/emul/msrpolicy";
import { MsrState } from "../../../vmm/vcpustate/msrs";

// Made at the first access: a vCPU asks the host's CPUID, which answers
// only once the module is instantiated.
let state: MsrState | null = null;

function vcpu(): MsrState {
  if (state === null) state = new MsrState(false);
  return state!;
}

export function onAmd(): void {
  state = new MsrState(true);
}

// The value read, or -1 for #GP.
export function rdmsr(msr: u32): i64 {
  return emulateRead(vcpu(), msr);
}
// False for #GP.
export function wrmsr(msr: u32, value: u64): bool {
  return emulateWrite(vcpu(), msr, value);
}
// RDPMC's answer for counter `index`, or -1 for #GP.
export function rdpmc(index: u32): i64 {
  return readCounter(vcpu(), index);
}
