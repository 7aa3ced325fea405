// The MSRs VMX does not switch by itself, switched through MSR lists.
//
// The VMCS holds the guest's FS/GS bases, SYSENTER MSRs, EFER and DEBUGCTL,
// but not the SYSCALL MSRs (STAR, LSTAR, CSTAR, FMASK) nor KERNEL_GS_BASE
// (which SWAPGS exchanges with GS base). The guest uses those directly
// (emul/msrpolicy.ts passes them through), so the hardware must hold the
// guest's values while it runs, and each VM its own. VMX moves them for us:
// VM entry loads the guest list, VM exit stores the guest's values back into
// that same list and then loads the host list (SDM Vol. 3C 24.7.2 "VM-Exit
// Controls for MSRs", 24.8.2 "VM-Entry Controls for MSRs", 26.4, 27.4, 27.6).
// Each entry is 16 bytes: the MSR index, 4 reserved bytes, the value.

import { rdmsr } from "../../../kernel/arch/shim";
import { allocPage, freePage, physOf } from "../../../kernel/mm/linearpages";
import { IA32_CSTAR, IA32_FMASK, IA32_KERNEL_GS_BASE, IA32_LSTAR, IA32_STAR } from "../../../kernel/arch/msrs";
import * as F from "./fields";
import { write } from "./vmcs";

const SWITCHED: u32[] = [IA32_STAR, IA32_LSTAR, IA32_CSTAR, IA32_FMASK, IA32_KERNEL_GS_BASE];
const ENTRY_SIZE: usize = 16;
const HOST_LIST: usize = 2048;

export class MsrLists {
  private readonly page: usize = allocPage();

  free(): void {
    freePage(this.page);
  }

  // Guest values start at 0 (their reset value); host values are this CPU's now.
  constructor() {
    for (let i = 0; i < SWITCHED.length; i++) {
      const guest = this.page + <usize>i * ENTRY_SIZE, host = guest + HOST_LIST;
      store<u32>(guest, SWITCHED[i]);
      store<u32>(host, SWITCHED[i]);
      store<u64>(host, rdmsr(SWITCHED[i]), 8);
    }
  }

  // Points the current VMCS at the lists.
  install(): void {
    const guest = physOf(this.page), host = physOf(this.page + HOST_LIST), count = <u64>SWITCHED.length;
    write(F.ENTRY_MSR_LOAD_ADDRESS, guest);
    write(F.ENTRY_MSR_LOAD_COUNT, count);
    write(F.EXIT_MSR_STORE_ADDRESS, guest);
    write(F.EXIT_MSR_STORE_COUNT, count);
    write(F.EXIT_MSR_LOAD_ADDRESS, host);
    write(F.EXIT_MSR_LOAD_COUNT, count);
  }
}
