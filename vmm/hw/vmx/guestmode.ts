// The guest's CR0, CR4 and EFER: what it sees, what VMX forces, and the
// mode switches the VMM finishes for it. All act on the current VMCS.
//
// While a guest runs, VMX forces some control-register bits (CR0.NE and
// CR4.VMXE on every CPU so far; unrestricted guest frees CR0.PE and PG). The
// guest must not notice: we own those bits through the CR0/CR4 guest/host
// masks, so its reads return the read shadow, and a MOV that would change an
// owned bit exits to us instead (Intel SDM Vol. 3C 24.6.6 "Guest/Host Masks
// and Read Shadows for CR0 and CR4", 25.1.3). We also own CR0.PG, to finish
// the switch to long mode (writeCr0()).

import {
  ATTR_DEFAULT_32,
  ATTR_LONG,
  RESET_CODE,
  RESET_DATA,
  RESET_LDT,
  SegmentState,
  TR_ATTRIBUTES,
} from "../../../kernel/arch/segments";
import { physRead64, vmread } from "../../../kernel/arch/shim";
import {
  CR0_CD,
  CR0_NW,
  CR0_PE,
  CR0_PG,
  CR0_RESET,
  CR4_PAE,
  DR7_RESET,
  EFER_LMA,
  EFER_LME,
  PTE_PRESENT,
  RFLAGS_FIXED,
  RFLAGS_VM,
  Seg,
} from "../../../kernel/arch/x86";
import { physicalAddressBits } from "../../../kernel/cpu/cpuid";
import { PageTable } from "../../../kernel/mm/pagetable";
import { EntryState } from "../../core/entrystate";
import { codeBitsOf } from "../../core/vcpu";
import * as C from "./controls";
import { VmxFeatures } from "./features";
import * as F from "./fields";
import { write } from "./vmcs";

// Segment access rights in VMX form (SDM 24.4.1 Table 24-2): the packed
// attributes of kernel/arch/segments.ts with bits 8-11 moved to 12-15.
const AR_CODE: u64 = RESET_CODE;
const AR_DATA: u64 = RESET_DATA;
const AR_LDT: u64 = RESET_LDT;
const AR_BUSY_TSS: u64 = TR_ATTRIBUTES; // what VM entry demands of TR (26.3.1.2)
const AR_LONG_MODE: u64 = <u64>ATTR_LONG << 4;
const AR_DEFAULT_32: u64 = <u64>ATTR_DEFAULT_32 << 4;
const AR_UNUSABLE: u64 = 1 << 16;
const PDPTE_RESERVED_LOW: u64 = 0x1e6; // bits 2:1 and 8:5

// What the guest reads: owned bits from the shadow, the rest from the
// register. The CR4 bits we own are VMX's (VMXE), which a guest that sees no
// VMX may not set: a MOV to CR4 that exits raises #GP (vmxvcpu.ts).
export function guestCr0(f: VmxFeatures): u64 {
  return (vmread(F.GUEST_CR0) & ~f.cr0Owned) | (vmread(F.CR0_READ_SHADOW) & f.cr0Owned);
}
export function guestCr4(f: VmxFeatures): u64 {
  return (vmread(F.GUEST_CR4) & ~f.cr4Owned) | (vmread(F.CR4_READ_SHADOW) & f.cr4Owned);
}

// In 64-bit mode: EFER.LMA and CS.L.
export function inLongMode(): bool {
  return (vmread(F.GUEST_EFER) & EFER_LMA) != 0
    && (vmread(F.GUEST_ACCESS_RIGHTS + 2 * <u32>Seg.Cs) & AR_LONG_MODE) != 0;
}

// The code size the guest executes with (codeBitsOf() in core/vcpu.ts).
export function codeBits(f: VmxFeatures): u32 {
  const cs = vmread(F.GUEST_ACCESS_RIGHTS + 2 * <u32>Seg.Cs);
  return codeBitsOf(
    inLongMode(),
    (guestCr0(f) & CR0_PE) != 0,
    (vmread(F.GUEST_RFLAGS) & RFLAGS_VM) != 0,
    (cs & AR_DEFAULT_32) != 0,
  );
}

// A MOV to CR0 that exited; false if the CPU would raise #GP (SDM Vol. 2B
// "MOV—Move to/from Control Registers"). Setting PG while EFER.LME=1 is the
// switch to long mode, which under VMX the VMM completes by setting EFER.LMA
// and the "IA-32e mode guest" entry control (26.3.1.1, 26.3.2.1).
export function writeCr0(f: VmxFeatures, nested: PageTable, value: u64): bool {
  if ((value >> 32) != 0 || (value & f.cr0Must0) != 0) return false;
  if ((value & CR0_PG) != 0 && (value & CR0_PE) == 0) return false;
  if ((value & CR0_NW) != 0 && (value & CR0_CD) == 0) return false;
  const old = guestCr0(f);
  let efer = vmread(F.GUEST_EFER), entry = vmread(F.ENTRY_CONTROLS);
  if ((value & CR0_PG) != 0 && (old & CR0_PG) == 0 && (efer & EFER_LME) != 0) {
    // Paging on with LME=1 activates IA-32e mode, which needs PAE
    // (SDM Vol. 3A 10.8.5 "Initializing IA-32e Mode").
    if ((guestCr4(f) & CR4_PAE) == 0) return false;
    efer |= EFER_LMA;
    entry |= C.ENTRY_IA32E_GUEST;
  } else if ((value & CR0_PG) == 0 && (old & CR0_PG) != 0 && (efer & EFER_LMA) != 0) {
    // Leaving long mode is allowed only from compatibility mode (SDM Vol. 3A
    // 10.8.5.4 "Switching Out of IA-32e Mode Operation").
    if (inLongMode()) return false;
    efer &= ~EFER_LMA;
    entry &= ~(<u64>C.ENTRY_IA32E_GUEST);
  }
  // A MOV to CR0 that changes PG, CD or NW with PAE paging in use after it
  // loads the PDPTEs, and faults on one it cannot load (SDM Vol. 3A 4.4.1).
  const paePaging = (value & CR0_PG) != 0 && (guestCr4(f) & CR4_PAE) != 0 && (efer & EFER_LMA) == 0;
  if (paePaging && ((value ^ old) & (CR0_PG | CR0_CD | CR0_NW)) != 0 && !pdptesValid(nested)) return false;
  write(F.GUEST_CR0, value | f.cr0Must1);
  write(F.CR0_READ_SHADOW, value);
  write(F.GUEST_EFER, efer);
  write(F.ENTRY_CONTROLS, entry);
  return true;
}

// WRMSR to EFER, which exits (EFER itself is loaded and saved with the
// VMCS); false for #GP. LMA is the CPU's (here: ours) to set and stays
// consistent; LME cannot change while paging is on (SDM Vol. 3A 10.8.5
// "Initializing IA-32e Mode").
export function writeEfer(f: VmxFeatures, value: u64): bool {
  const current = vmread(F.GUEST_EFER);
  if ((value & ~f.eferWritable) != 0) return false;
  if ((guestCr0(f) & CR0_PG) != 0 && ((value ^ current) & EFER_LME) != 0) return false;
  write(F.GUEST_EFER, (value & ~EFER_LMA) | (current & EFER_LMA));
  return true;
}

// PAE paging's PDPTEs at the guest's CR3: none may be present with a
// reserved bit set, bits 2:1 and 8:5 or one above MAXPHYADDR (SDM Vol. 3A
// 4.4.1, Table 4-8). A table outside the guest's RAM reads as all ones on a
// PC, so it fails too.
function pdptesValid(nested: PageTable): bool {
  const reserved = PDPTE_RESERVED_LOW | (~(<u64>0) << physicalAddressBits());
  const table = vmread(F.GUEST_CR3) & 0xffffffe0;
  for (let i: u32 = 0; i < 4; i++) {
    const t = nested.translate(table + <u64>i * 8);
    if (t === null) return false;
    const pdpte = physRead64(t.phys);
    if ((pdpte & PTE_PRESENT) != 0 && (pdpte & reserved) != 0) return false;
  }
  return true;
}

// With EPT, VM entry takes PAE paging's four PDPTEs from the VMCS (SDM
// 26.3.2.4); the guest's own MOV to CR3/CR4 loads them itself, but after a
// CR0 write we emulated, we load them from its CR3 as the MOV would have.
export function loadPdptes(f: VmxFeatures, nested: PageTable): void {
  if ((guestCr0(f) & CR0_PG) == 0 || (guestCr4(f) & CR4_PAE) == 0 || (vmread(F.GUEST_EFER) & EFER_LMA) != 0) return;
  const table = vmread(F.GUEST_CR3) & 0xffffffe0;
  for (let i: u32 = 0; i < 4; i++) {
    const t = nested.translate(table + <u64>i * 8);
    write(F.GUEST_PDPTE0 + 2 * i, t === null ? 0 : physRead64(t.phys));
  }
}

// The power-on state (SDM Vol. 3A 10.1.1 "Processor State After Reset"), but
// at `segment`:`offset`, in the form VM entry checks it under unrestricted
// guest (SDM 26.3.1 "Checks on the Guest State Area"): segment access rights
// in VMX format, TR a busy TSS, LDTR usable, activity state active.
export function resetToRealMode(f: VmxFeatures, segment: u16, offset: u16): void {
  setSegment(Seg.Cs, segment, <u64>segment << 4, AR_CODE);
  setSegment(Seg.Es, 0, 0, AR_DATA);
  setSegment(Seg.Ss, 0, 0, AR_DATA);
  setSegment(Seg.Ds, 0, 0, AR_DATA);
  setSegment(Seg.Fs, 0, 0, AR_DATA);
  setSegment(Seg.Gs, 0, 0, AR_DATA);
  setSegment(Seg.Ldtr, 0, 0, AR_LDT);
  setSegment(Seg.Tr, 0, 0, AR_BUSY_TSS);
  write(F.GUEST_GDTR_BASE, 0);
  write(F.GUEST_GDTR_LIMIT, 0xffff);
  write(F.GUEST_IDTR_BASE, 0);
  write(F.GUEST_IDTR_LIMIT, 0xffff);
  write(F.GUEST_CR0, CR0_RESET | f.cr0Must1);
  write(F.CR0_READ_SHADOW, CR0_RESET);
  write(F.GUEST_CR3, 0);
  write(F.GUEST_CR4, f.cr4Must1);
  write(F.CR4_READ_SHADOW, 0);
  write(F.GUEST_EFER, 0);
  write(F.ENTRY_CONTROLS, vmread(F.ENTRY_CONTROLS) & ~(<u64>C.ENTRY_IA32E_GUEST));
  write(F.GUEST_DR7, DR7_RESET);
  write(F.GUEST_DEBUGCTL, 0);
  write(F.GUEST_RSP, 0);
  write(F.GUEST_RIP, offset);
  write(F.GUEST_RFLAGS, RFLAGS_FIXED);
  write(F.GUEST_SYSENTER_CS, 0);
  write(F.GUEST_SYSENTER_ESP, 0);
  write(F.GUEST_SYSENTER_EIP, 0);
  write(F.GUEST_ACTIVITY_STATE, 0); // active
  write(F.GUEST_INTERRUPTIBILITY, 0);
  write(F.GUEST_PENDING_DEBUG, 0);
  write(F.ENTRY_INTERRUPTION_INFO, 0);
}

function setSegment(seg: Seg, selector: u16, base: u64, accessRights: u64): void {
  const i = 2 * <u32>seg;
  write(F.GUEST_SELECTOR + i, selector);
  write(F.GUEST_BASE + i, base);
  write(F.GUEST_LIMIT + i, 0xffff);
  write(F.GUEST_ACCESS_RIGHTS + i, accessRights);
}

// A loaded kernel's entry state (core/entrystate.ts) over the reset state, which
// supplies what it does not name (DR7, DEBUGCTL, SYSENTER, activity and
// interruptibility). Written to pass the checks of SDM Vol. 3C 26.3.1:
// - 26.3.1.1: CR0 and CR4 with the bits VMX fixes (NE, VMXE) forced on and
//   the guest's values in the read shadows, as for real mode; CR0.PG only
//   with CR0.PE; EFER.LMA equal to the "IA-32e mode guest" entry control
//   and, paging being on, to EFER.LME; that control only with CR0.PG and
//   CR4.PAE.
// - 26.3.1.2: CS an accessed code segment (type 11), SS and the data
//   segments accessed read/write data (type 3), all DPL 0 with G matching
//   the limit; in IA-32e mode CS.L=1 with CS.D=0; TR a busy TSS (type 11,
//   which IA-32e mode requires); LDTR unusable (a null selector).
// - 26.3.1.3: GDTR and IDTR limits within 16 bits.
// - 26.3.1.4: RIP within 32 bits outside 64-bit mode; RFLAGS bit 1 set, VM clear.
// With EPT and PAE paging outside IA-32e mode, VM entry loads the PDPTEs
// from the VMCS (26.3.2.4), so they are read from the guest's CR3 here.
export function setEntryState(f: VmxFeatures, s: EntryState, nested: PageTable): void {
  resetToRealMode(f, 0, 0);
  setSegmentState(Seg.Cs, s.cs);
  setSegmentState(Seg.Es, s.data);
  setSegmentState(Seg.Ss, s.data);
  setSegmentState(Seg.Ds, s.data);
  setSegmentState(Seg.Fs, s.data);
  setSegmentState(Seg.Gs, s.data);
  setSegmentState(Seg.Tr, s.tr);
  const ldtr = 2 * <u32>Seg.Ldtr;
  write(F.GUEST_SELECTOR + ldtr, 0);
  write(F.GUEST_BASE + ldtr, 0);
  write(F.GUEST_LIMIT + ldtr, 0);
  write(F.GUEST_ACCESS_RIGHTS + ldtr, AR_UNUSABLE);
  write(F.GUEST_GDTR_BASE, s.gdtBase);
  write(F.GUEST_GDTR_LIMIT, s.gdtLimit);
  write(F.GUEST_IDTR_BASE, 0);
  write(F.GUEST_IDTR_LIMIT, 0);
  write(F.GUEST_CR0, s.cr0 | f.cr0Must1);
  write(F.CR0_READ_SHADOW, s.cr0);
  write(F.GUEST_CR3, s.cr3);
  write(F.GUEST_CR4, s.cr4 | f.cr4Must1);
  write(F.CR4_READ_SHADOW, s.cr4);
  write(F.GUEST_EFER, s.efer);
  const entry = vmread(F.ENTRY_CONTROLS) & ~(<u64>C.ENTRY_IA32E_GUEST);
  write(F.ENTRY_CONTROLS, (s.efer & EFER_LMA) != 0 ? entry | C.ENTRY_IA32E_GUEST : entry);
  write(F.GUEST_RSP, s.rsp);
  write(F.GUEST_RIP, s.rip);
  write(F.GUEST_RFLAGS, s.rflags | RFLAGS_FIXED);
  loadPdptes(f, nested);
}

function setSegmentState(seg: Seg, s: SegmentState): void {
  const i = 2 * <u32>seg;
  write(F.GUEST_SELECTOR + i, s.selector);
  write(F.GUEST_BASE + i, s.base);
  write(F.GUEST_LIMIT + i, s.limit);
  write(F.GUEST_ACCESS_RIGHTS + i, s.vmxAccessRights);
}
