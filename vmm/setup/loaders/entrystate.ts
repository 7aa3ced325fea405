// The boot vCPU's state at a kernel's entry, in a form both backends can
// copy into their hardware structure (VMCB save area, VMCS guest state).
//
// A loader (vmm/loaders/) describes the entry as a LoadResult: a mode, the
// control registers, and selectors into a GDT it wrote into guest RAM. A
// segment register, though, is more than its selector: the CPU keeps a
// hidden part (base, limit, attributes) loaded from the descriptor, and VM
// entry takes that hidden part from the VMCB/VMCS, not from the GDT (Intel
// SDM Vol. 3A 3.4.3 "Segment Registers"; Vol. 3C 24.4.1; AMD APM Vol. 2
// 15.5.1 and Appendix B). entryStateOf() reads the descriptors back from
// guest RAM, checks that they are what the mode needs (present, code
// executable, data writable, CS.L for 64-bit code, CS.D for 32-bit code,
// SDM Vol. 3A 3.4.5), and expands them. Nothing here touches hardware.

import { GuestMemory } from "../../core/guestmemory";
import { CpuMode, LoadResult, hex } from "./loader";

// Descriptor attribute bits (SDM Vol. 3A 3.4.5, figure 3-8), numbered as in
// the packed 12-bit form below: descriptor bits 40-47 at 0-7, 52-55 at 8-11.
const ATTR_ACCESSED: u16 = 1 << 0;
const ATTR_WRITABLE: u16 = 1 << 1;   // data: writable; code: readable
const ATTR_CODE: u16 = 1 << 3;
const ATTR_S: u16 = 1 << 4;          // code or data (not system)
const ATTR_PRESENT: u16 = 1 << 7;
const ATTR_LONG: u16 = 1 << 9;
const ATTR_DEFAULT_32: u16 = 1 << 10;
const ATTR_GRANULARITY: u16 = 1 << 11;
// TR: a present busy 32-bit TSS (type 11), which is also what VM entry
// accepts in IA-32e mode (SDM 26.3.1.2) and what the PVH ABI asks for.
export const TR_ATTRIBUTES: u16 = ATTR_PRESENT | 0xb;
export const TR_LIMIT: u32 = 0x67;

// A segment register with its hidden part. `attributes` is the VMCB's
// attribute word (APM Vol. 2 Appendix B, "Segment attributes"); VMX wants
// the same bits spread differently (vmxAccessRights).
export class SegmentState {
  constructor(public selector: u16, public base: u64, public limit: u32, public attributes: u16) {}

  // SDM Vol. 3C 24.4.1 Table 24-2: bits 0-7 as here, bits 8-11 at 12-15.
  get vmxAccessRights(): u32 {
    const a = <u32>this.attributes;
    return (a & 0xff) | ((a & 0xf00) << 4);
  }
}

// The hidden part a descriptor loads (SDM Vol. 3A 3.4.5): the base from
// bits 16-39 and 56-63, the 20-bit limit in bytes or (G) in 4 KiB units.
export function segmentFromDescriptor(selector: u16, d: u64): SegmentState {
  const base = ((d >> 16) & 0xff_ffff) | (((d >> 56) & 0xff) << 24);
  let limit = <u32>((d & 0xffff) | ((d >> 32) & 0xf_0000));
  const attributes = <u16>(((d >> 40) & 0xff) | (((d >> 52) & 0xf) << 8));
  if (attributes & ATTR_GRANULARITY) limit = (limit << 12) | 0xfff;
  return new SegmentState(selector, base, limit, attributes);
}

// A loader's result (control registers, RIP as `entry`, RFLAGS, GDTR, the
// protocol's RAX/RBX/RSI) with the segment registers' hidden parts added.
export class EntryState {
  // TR: what LoadResult promises (a busy TSS at base 0, limit 0x67).
  readonly tr: SegmentState = new SegmentState(0, 0, TR_LIMIT, TR_ATTRIBUTES);
  // No protocol gives the kernel a stack.
  readonly rsp: u64 = 0;
  // `data` is DS, ES, SS, FS and GS.
  constructor(public loaded: LoadResult, public cs: SegmentState, public data: SegmentState) {}
}

export class EntryStateResult {
  state: EntryState | null = null;
  error: string | null = null;
}

function failed(reason: string): EntryStateResult {
  const r = new EntryStateResult();
  r.error = "entry state: " + reason;
  return r;
}

// The entry state a successful load describes, with CS and the data segments
// read from the loader's GDT in `memory`; an error if a descriptor is not
// there or not usable in that mode.
export function entryStateOf(result: LoadResult, memory: GuestMemory): EntryStateResult {
  if (result.error !== null) return failed("the kernel did not load");
  if (result.mode == CpuMode.Real) return failed("real-mode entry is resetToRealMode()'s job");
  const long = result.mode == CpuMode.Long64;
  const csProblem = selectorProblem(result, memory, result.codeSelector, "CS");
  if (csProblem !== null) return failed(csProblem);
  const dataProblem = selectorProblem(result, memory, result.dataSelector, "the data segments");
  if (dataProblem !== null) return failed(dataProblem);
  const code = loadSegment(result, memory, result.codeSelector), flat = loadSegment(result, memory, result.dataSelector);
  if ((code.attributes & ATTR_PRESENT) == 0) return failed("CS: descriptor " + hex(code.selector) + " is not present");
  if ((flat.attributes & ATTR_PRESENT) == 0) return failed("the data segments: descriptor " + hex(flat.selector) + " is not present");
  if ((code.attributes & (ATTR_S | ATTR_CODE)) != (ATTR_S | ATTR_CODE)) return failed("CS " + hex(code.selector) + " is not a code segment");
  if (long && (code.attributes & (ATTR_LONG | ATTR_DEFAULT_32)) != ATTR_LONG) return failed("CS " + hex(code.selector) + " is not a 64-bit code segment (L=1, D=0)");
  if (!long && (code.attributes & (ATTR_LONG | ATTR_DEFAULT_32)) != ATTR_DEFAULT_32) return failed("CS " + hex(code.selector) + " is not a 32-bit code segment (D=1, L=0)");
  if ((flat.attributes & (ATTR_S | ATTR_CODE | ATTR_WRITABLE)) != (ATTR_S | ATTR_WRITABLE)) return failed("data segment " + hex(flat.selector) + " is not a writable data segment");

  const out = new EntryStateResult();
  out.state = new EntryState(result, code, flat);
  return out;
}

// Why `selector` cannot name a descriptor of the loader's GDT, or null.
function selectorProblem(result: LoadResult, memory: GuestMemory, selector: u16, what: string): string | null {
  const index = <u64>(selector & 0xfff8);
  if ((selector & 7) != 0) return what + ": selector " + hex(selector) + " is not a ring-0 GDT selector";
  if (index == 0 || index + 7 > <u64>result.gdtLimit) return what + ": selector " + hex(selector) + " is null or past the GDT's limit " + hex(result.gdtLimit);
  if (!memory.contains(result.gdtBase + index, 8)) return what + ": the GDT at " + hex(result.gdtBase) + " is not in the VM's RAM";
  return null;
}

// The segment a valid selector loads. VM entry wants the accessed bit in
// every usable segment (SDM 26.3.1.2); the CPU would set it when loading the
// register anyway.
function loadSegment(result: LoadResult, memory: GuestMemory, selector: u16): SegmentState {
  const seg = segmentFromDescriptor(selector, memory.read64(result.gdtBase + <u64>(selector & 0xfff8)));
  seg.attributes |= ATTR_ACCESSED;
  return seg;
}
