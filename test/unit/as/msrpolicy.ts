// Unit-test entry: the emulated MSRs of one vCPU (vmm/emul/msrpolicy.ts), read and
// written as a guest's RDMSR and WRMSR reach them. Each load() is a fresh
// vCPU, on an Intel host until onAmd() says otherwise.

import { emulateRead, emulateWrite } from "../../../vmm/emul/msrpolicy";
import { MsrState } from "../../../vmm/vcpustate/msrs";

let state = new MsrState(false);

export function onAmd(): void {
  state = new MsrState(true);
}

// The value read, or -1 for #GP.
export function rdmsr(msr: u32): i64 {
  return emulateRead(state, msr);
}
// False for #GP.
export function wrmsr(msr: u32, value: u64): bool {
  return emulateWrite(state, msr, value);
}
