// Which hardware virtualization this CPU offers, and whether firmware left it on.
//
// Intel VT-x: CPUID.1:ECX[5] (VMX); IA32_FEATURE_CONTROL (MSR 0x3A) must not be
// locked with VMX-outside-SMX disabled (Intel SDM Vol. 3C 24.7 "Enabling and
// Entering VMX Operation"). AMD-V: CPUID.80000001h:ECX[2] (SVM); VM_CR
// (MSR 0xC0010114) bit 4 SVMDIS must be clear (AMD APM Vol. 2 15.4).

import {
  AMD_VM_CR,
  FEATURE_CONTROL_LOCKED,
  FEATURE_CONTROL_VMX_OUTSIDE_SMX,
  IA32_FEATURE_CONTROL,
  VM_CR_SVMDIS,
} from "../../kernel/arch/msrs";
import { rdmsr } from "../../kernel/arch/shim";
import { CPUID1_ECX_VMX, CPUID_EXT1_ECX_SVM } from "../../kernel/arch/x86";
import { query, maxExtendedLeaf } from "../../kernel/cpu/cpuid";

export const enum Virtualization {
  None,
  Vmx,
  Svm,
}

export class VirtualizationSupport {
  kind: Virtualization = Virtualization.None;
  // Why there is none, when kind is None.
  reason: string = "";
  get name(): string {
    return this.kind == Virtualization.Vmx ? "Intel VT-x" : this.kind == Virtualization.Svm ? "AMD-V" : "none";
  }
}

export function detectVirtualization(): VirtualizationSupport {
  const support = new VirtualizationSupport();
  const vmx = (query(1).ecx & CPUID1_ECX_VMX) != 0;
  const svm = maxExtendedLeaf() >= 0x80000001 && (query(0x80000001).ecx & CPUID_EXT1_ECX_SVM) != 0;
  if (vmx) {
    const control = rdmsr(IA32_FEATURE_CONTROL);
    if ((control & FEATURE_CONTROL_LOCKED) != 0 && (control & FEATURE_CONTROL_VMX_OUTSIDE_SMX) == 0) {
      support.reason = "VT-x is disabled by the firmware (IA32_FEATURE_CONTROL is locked with VMX off); enable it in "
        + "the BIOS/UEFI setup";
      return support;
    }
    support.kind = Virtualization.Vmx;
  } else if (svm) {
    if ((rdmsr(AMD_VM_CR) & VM_CR_SVMDIS) != 0) {
      support.reason = "AMD-V is disabled by the firmware (VM_CR.SVMDIS is set); enable SVM in the BIOS/UEFI setup";
      return support;
    }
    support.kind = Virtualization.Svm;
  } else {
    support.reason = "this CPU has neither Intel VT-x nor AMD-V";
  }
  return support;
}
