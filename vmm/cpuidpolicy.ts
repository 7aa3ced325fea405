// What CPUID tells a guest: the host's answers, filtered, plus our own leaves.
//
// Hidden: VMX and SVM (no nested virtualization), x2APIC, TSC-deadline,
// MONITOR/MWAIT and the performance-monitoring leaf (not virtualized yet).
// Added: the "hypervisor present" bit (CPUID.1:ECX[31]) and the hypervisor
// leaves at 0x40000000 (max leaf, signature "TypervisorTV") and 0x40000001
// (interface version). OSXSAVE follows the guest's own CR4.OSXSAVE.
// Intel SDM Vol. 2A "CPUID"; AMD APM Vol. 3 Appendix E.

import { query } from "../kernel/cpu/cpuid";
import { Reg, Vcpu } from "./vcpu";

const HYPERVISOR_BASE: u32 = 0x40000000;
const HYPERVISOR_MAX: u32 = 0x40000001;
export const INTERFACE_VERSION: u32 = 1;
// "Typervisor" padded to 12 bytes, as EBX, ECX, EDX.
const SIGNATURE_EBX: u32 = 0x65707954; // "Type"
const SIGNATURE_ECX: u32 = 0x73697672; // "rvis"
const SIGNATURE_EDX: u32 = 0x5654726f; // "orTV"

const LEAF1_ECX_MONITOR: u32 = 1 << 3;
const LEAF1_ECX_VMX: u32 = 1 << 5;
const LEAF1_ECX_X2APIC: u32 = 1 << 21;
const LEAF1_ECX_TSC_DEADLINE: u32 = 1 << 24;
const LEAF1_ECX_OSXSAVE: u32 = 1 << 27;
const LEAF1_ECX_HYPERVISOR: u32 = 1 << 31;
const EXT1_ECX_SVM: u32 = 1 << 2;
const CR4_OSXSAVE: u64 = 1 << 18;

// Answers the guest's CPUID (leaf in EAX, subleaf in ECX) into its registers.
export function emulateCpuid(vcpu: Vcpu): void {
  const leaf = <u32>vcpu.regs.get(Reg.Rax), subleaf = <u32>vcpu.regs.get(Reg.Rcx);
  let eax: u32 = 0, ebx: u32 = 0, ecx: u32 = 0, edx: u32 = 0;
  if (leaf == HYPERVISOR_BASE) {
    eax = HYPERVISOR_MAX; ebx = SIGNATURE_EBX; ecx = SIGNATURE_ECX; edx = SIGNATURE_EDX;
  } else if (leaf == HYPERVISOR_MAX) {
    eax = INTERFACE_VERSION;
  } else if (leaf < HYPERVISOR_BASE || leaf >= 0x80000000) {
    const r = query(leaf, subleaf);
    eax = r.eax; ebx = r.ebx; ecx = r.ecx; edx = r.edx;
    if (leaf == 1) {
      ecx &= ~(LEAF1_ECX_MONITOR | LEAF1_ECX_VMX | LEAF1_ECX_X2APIC | LEAF1_ECX_TSC_DEADLINE | LEAF1_ECX_OSXSAVE);
      ecx |= LEAF1_ECX_HYPERVISOR;
      if (vcpu.cr4 & CR4_OSXSAVE) ecx |= LEAF1_ECX_OSXSAVE;
      ebx &= 0x00ffffff; // initial APIC ID 0: one vCPU per VM for now
    } else if (leaf == 5 || leaf == 0xa) {
      eax = 0; ebx = 0; ecx = 0; edx = 0;
    } else if (leaf == 0x80000001) {
      ecx &= ~EXT1_ECX_SVM;
    }
  }
  vcpu.regs.set(Reg.Rax, eax);
  vcpu.regs.set(Reg.Rbx, ebx);
  vcpu.regs.set(Reg.Rcx, ecx);
  vcpu.regs.set(Reg.Rdx, edx);
}
