// The hypercall ABI, the same on both vendors (VMCALL on Intel, VMMCALL on AMD).
//
//   RAX = function, RBX, RCX, RDX = arguments; the result comes back in RAX.
//   In 16- and 32-bit guest modes only the low 32 bits of each register count.
//
//   0x01 console_write(RBX = guest-physical buffer, RCX = length <= 4096)
//        -> bytes written. The text appears on the hypervisor console,
//           prefixed with the VM's name. Fewer bytes than asked (even 0)
//           while the console makes the VM wait (core/vmconsole.ts):
//           write the rest later.
//   0x02 exit(RBX = status): stops the VM; the status is reported.
//   0x03 yield(): lets the other VMs run; -> 0.
//   Errors: HC_UNKNOWN (-1) for an unknown function, HC_BAD_ARGUMENT (-2).
// docs/hypercalls.md describes it for guest authors.

import { Reg } from "../../kernel/arch/x86";
import { Vcpu } from "../core/vcpu";
import { Vm } from "../core/vm";

export const HC_CONSOLE_WRITE: u64 = 1;
export const HC_EXIT: u64 = 2;
export const HC_YIELD: u64 = 3;
export const HC_UNKNOWN: u64 = <u64>-1;
export const HC_BAD_ARGUMENT: u64 = <u64>-2;
const MAX_WRITE: u64 = 4096;

export const enum HypercallResult {
  Continue,
  Yield,
  Stopped,
}

// A yield of a vCPU that nobody else waits for on its CPU changes nothing
// (Vcpu.yieldGoesOn): the backends' exit fast path finishes it, with the
// call's number and then its result in the word at `rax`. The guest's
// kernel only (the caller checks the privilege level).
export function yieldsAtOnce(vcpu: Vcpu, rax: usize, wide: bool): bool {
  if (!vcpu.yieldGoesOn || (load<u64>(rax) & (wide ? ~(<u64>0) : 0xffff_ffff)) != HC_YIELD) return false;
  store<u64>(rax, 0);
  return true;
}

export function hypercall(vm: Vm, vcpu: Vcpu, wide: bool): HypercallResult {
  const mask: u64 = wide ? ~(<u64>0) : 0xffff_ffff;
  const fn = vcpu.regs.get(Reg.Rax) & mask;
  const a0 = vcpu.regs.get(Reg.Rbx) & mask, a1 = vcpu.regs.get(Reg.Rcx) & mask;
  let result: u64 = HC_UNKNOWN;
  let outcome = HypercallResult.Continue;
  if (fn == HC_CONSOLE_WRITE) {
    if (a1 > MAX_WRITE || !vm.memory.contains(a0, a1)) result = HC_BAD_ARGUMENT;
    else {
      result = 0;
      while (result < a1 && vm.console.room > 0) vm.console.write(vm.memory.read8(a0 + result++));
    }
  } else if (fn == HC_EXIT) {
    vm.exitWith(<i64>a0);
    return HypercallResult.Stopped;
  } else if (fn == HC_YIELD) {
    result = 0;
    outcome = HypercallResult.Yield;
  }
  vcpu.regs.set(Reg.Rax, result);
  return outcome;
}
