// A loader's result as the boot vCPU's entry state (core/entrystate.ts).
//
// A loader describes the entry as a LoadResult: a mode, the control
// registers, and selectors into a GDT it wrote into guest RAM. VM entry
// needs the segments' hidden parts (kernel/arch/segments.ts), so
// entryStateOf() reads the descriptors back from guest RAM, checks that
// they are what the mode needs (present, code executable, data writable,
// CS.L for 64-bit code, CS.D for 32-bit code, SDM Vol. 3A 3.4.5), and
// expands them. Nothing here touches hardware.

import {
  ATTR_ACCESSED,
  ATTR_CODE,
  ATTR_DEFAULT_32,
  ATTR_LONG,
  ATTR_PRESENT,
  ATTR_S,
  ATTR_WRITABLE,
  segmentFromDescriptor,
  SegmentState,
} from "../../../kernel/arch/segments";
import { EntryState } from "../../core/entrystate";
import { GuestMemory } from "../../core/guestmemory";
import { CpuMode, LoadResult, hex } from "./loader";

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
  const code = loadSegment(result, memory, result.codeSelector),
    flat = loadSegment(result, memory, result.dataSelector);
  if ((code.attributes & ATTR_PRESENT) == 0) return failed("CS: descriptor " + hex(code.selector) + " is not present");
  if ((flat.attributes & ATTR_PRESENT) == 0) {
    return failed("the data segments: descriptor " + hex(flat.selector) + " is not present");
  }
  if ((code.attributes & (ATTR_S | ATTR_CODE)) != (ATTR_S | ATTR_CODE)) {
    return failed("CS " + hex(code.selector) + " is not a code segment");
  }
  if (long && (code.attributes & (ATTR_LONG | ATTR_DEFAULT_32)) != ATTR_LONG) {
    return failed("CS " + hex(code.selector) + " is not a 64-bit code segment (L=1, D=0)");
  }
  if (!long && (code.attributes & (ATTR_LONG | ATTR_DEFAULT_32)) != ATTR_DEFAULT_32) {
    return failed("CS " + hex(code.selector) + " is not a 32-bit code segment (D=1, L=0)");
  }
  if ((flat.attributes & (ATTR_S | ATTR_CODE | ATTR_WRITABLE)) != (ATTR_S | ATTR_WRITABLE)) {
    return failed("data segment " + hex(flat.selector) + " is not a writable data segment");
  }

  const out = new EntryStateResult();
  const state = new EntryState(code, flat);
  state.rip = result.entry;
  state.rflags = result.rflags;
  state.cr0 = result.cr0;
  state.cr3 = result.cr3;
  state.cr4 = result.cr4;
  state.efer = result.efer;
  state.gdtBase = result.gdtBase;
  state.gdtLimit = result.gdtLimit;
  state.rax = result.rax;
  state.rbx = result.rbx;
  state.rsi = result.rsi;
  out.state = state;
  return out;
}

// Why `selector` cannot name a descriptor of the loader's GDT, or null.
function selectorProblem(result: LoadResult, memory: GuestMemory, selector: u16, what: string): string | null {
  const index = <u64>(selector & 0xfff8);
  if ((selector & 7) != 0) return what + ": selector " + hex(selector) + " is not a ring-0 GDT selector";
  if (index == 0 || index + 7 > <u64>result.gdtLimit) {
    return what + ": selector " + hex(selector) + " is null or past the GDT's limit " + hex(result.gdtLimit);
  }
  if (!memory.contains(result.gdtBase + index, 8)) {
    return what + ": the GDT at " + hex(result.gdtBase) + " is not in the VM's RAM";
  }
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
