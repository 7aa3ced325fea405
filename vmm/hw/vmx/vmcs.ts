// The VMCS (virtual-machine control structure): its region, and the fields
// that stay the same for the life of a vCPU.
//
// A VMCS region is a 4 KiB page whose first word is the revision id from
// IA32_VMX_BASIC; the rest belongs to the processor, reached only with
// VMREAD/VMWRITE while the VMCS is current (Intel SDM Vol. 3C 24.2 "Format of
// the VMCS Region", 24.11 "Software Use of the VMCS"). A VMCS starts "clear"
// and must be entered with VMLAUNCH, then "launched" and entered with
// VMRESUME (24.1). Here: the execution, exit and entry controls, and the host
// state, which every VM exit loads (24.5, checked at each entry by 26.2).

import {
  rdmsr,
  readCr0,
  readCr3,
  readCr4,
  trBase,
  trSelector,
  gdtrBase,
  idtrBase,
  vmclear,
  vmwrite,
} from "../../../kernel/arch/shim";
import { allocPage, physOf } from "../../../kernel/mm/linearpages";
import {
  IA32_EFER,
  IA32_FS_BASE,
  IA32_GS_BASE,
  IA32_SYSENTER_CS,
  IA32_SYSENTER_EIP,
  IA32_SYSENTER_ESP,
} from "../../../kernel/arch/msrs";
import { REFLECTED_EXCEPTIONS } from "../../core/exit";
import { VmxBitmaps } from "./bitmaps";
import { VmxFeatures } from "./features";
import * as F from "./fields";

// boot/layout.h: the kernel's code and data selectors.
const KERNEL_CODE: u64 = 0x08;
const KERNEL_DATA: u64 = 0x10;

export class Vmcs {
  readonly phys: u64;
  // Where its region lies in the linear memory.
  readonly region: usize;
  // False until the first successful VM entry: VMLAUNCH, then VMRESUME.
  launched: bool = false;

  constructor(revision: u32) {
    const region = allocPage();
    this.region = region;
    // Bits 30:0 the revision id; bit 31 clear: an ordinary VMCS, not a shadow one.
    store<u32>(region, revision & 0x7fffffff);
    this.phys = physOf(region);
    // VMCLEAR initialises the region and makes its launch state "clear" (24.11.3).
    vmclear(this.phys);
  }
}

// The first VMWRITE that failed (field encoding), -1 if none: reported with
// the failed VM entry it leads to.
export let firstFailedWrite: i64 = -1;

// VMWRITE to the current VMCS.
export function write(field: u32, value: u64): void {
  if (vmwrite(field, value) != 0 && firstFailedWrite < 0) firstFailedWrite = field;
}

export function writeControls(f: VmxFeatures, bitmaps: VmxBitmaps, eptp: u64, vpid: u16): void {
  write(F.PIN_CONTROLS, f.pin);
  write(F.PROC_CONTROLS, f.proc);
  write(F.PROC2_CONTROLS, f.proc2);
  write(F.EXIT_CONTROLS, f.exit);
  write(F.ENTRY_CONTROLS, f.entry); // "IA-32e mode guest" follows the guest (guestmode.ts)
  // The guest handles its own exceptions, but for the two that could hold the
  // CPU (core/exit.ts), and every MOV to CR3 (EPT translates its tables).
  write(F.EXCEPTION_BITMAP, REFLECTED_EXCEPTIONS);
  write(F.CR3_TARGET_COUNT, 0);
  write(F.IO_BITMAP_A, bitmaps.ioAPhys);
  write(F.IO_BITMAP_B, bitmaps.ioBPhys);
  write(F.MSR_BITMAP, bitmaps.msrPhys);
  write(F.EPT_POINTER, eptp);
  if (vpid != 0) write(F.VPID, vpid);
  // CR0/CR4 bits we own: a guest write that changes one exits; reads see the shadow (guestmode.ts).
  write(F.CR0_GUEST_HOST_MASK, f.cr0Owned);
  write(F.CR4_GUEST_HOST_MASK, f.cr4Owned);
  // No shadow VMCS: the link pointer must then be all ones (26.3.1.5).
  write(F.VMCS_LINK_POINTER, ~(<u64>0));
}

// This CPU's state as a VM exit must restore it. RSP and RIP are written by
// boot/vmx.S on each entry; EFER is loaded through the "load IA32_EFER" exit control.
export function writeHostState(): void {
  write(F.HOST_CR0, readCr0());
  write(F.HOST_CR3, readCr3());
  write(F.HOST_CR4, readCr4());
  write(F.HOST_CS_SELECTOR, KERNEL_CODE);
  write(F.HOST_SS_SELECTOR, KERNEL_DATA);
  write(F.HOST_DS_SELECTOR, KERNEL_DATA);
  write(F.HOST_ES_SELECTOR, KERNEL_DATA);
  write(F.HOST_FS_SELECTOR, 0);
  write(F.HOST_GS_SELECTOR, 0);
  // Each CPU has its own TSS (linker/percpu.c); a VM exit needs a usable TR (26.2.3).
  write(F.HOST_TR_SELECTOR, trSelector());
  write(F.HOST_TR_BASE, trBase());
  write(F.HOST_FS_BASE, rdmsr(IA32_FS_BASE));
  write(F.HOST_GS_BASE, rdmsr(IA32_GS_BASE));
  write(F.HOST_GDTR_BASE, gdtrBase());
  write(F.HOST_IDTR_BASE, idtrBase());
  write(F.HOST_SYSENTER_CS, rdmsr(IA32_SYSENTER_CS));
  write(F.HOST_SYSENTER_ESP, rdmsr(IA32_SYSENTER_ESP));
  write(F.HOST_SYSENTER_EIP, rdmsr(IA32_SYSENTER_EIP));
  write(F.HOST_EFER, rdmsr(IA32_EFER));
}
