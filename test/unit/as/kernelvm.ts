// Unit-test entry: the pure parts of kernel-loaded VMs. The entry state a
// loader's result turns into (vmm/setup/loaders/entrystate.ts), from the boot GDT and
// page tables of vmm/setup/loaders/cpu.ts in fake guest RAM; and how boot modules
// are named (vmm/setup/bootmodules.ts).

import { BootModule } from "../../../kernel/boot/bootinfo";
import { findModule, isConfigModule, moduleNames } from "../../../vmm/setup/bootmodules";
import { ATTR_LONG, segmentFromDescriptor, SegmentState } from "../../../kernel/arch/segments";
import { EntryState } from "../../../vmm/core/entrystate";
import { entryStateOf } from "../../../vmm/setup/loaders/entrystate";
import { GuestMemory } from "../../../vmm/core/guestmemory";
import { EntryTables } from "../../../vmm/setup/loaders/cpu";
import { GuestLayout } from "../../../vmm/setup/loaders/layout";
import { CpuMode, LoadResult } from "../../../vmm/setup/loaders/loader";

let memory = new GuestMemory();
let result = new LoadResult();
let state: EntryState | null = null;
let segment = new SegmentState(0, 0, 0, 0);

export function reset(): void {
  memory = new GuestMemory();
  result = new LoadResult();
  state = null;
}
export function ramAdd(gpa: u64, hpa: u64, size: u64): void {
  memory.add(gpa, hpa, size);
}

// What a loader does last: the boot GDT (and for Long64 the page tables)
// written, the result's entry state set, the protocol's registers.
export function loadTables(mode: i32, entry: u64, rax: u64, rbx: u64, rsi: u64): string | null {
  const layout = new GuestLayout(memory, []);
  const tables = new EntryTables(layout, <CpuMode>mode);
  if (layout.error !== null) return layout.error;
  tables.apply(memory, result, entry);
  result.rax = rax;
  result.rbx = rbx;
  result.rsi = rsi;
  return null;
}
export function gdtBase(): u64 {
  return result.gdtBase;
}
export function setSelectors(code: u16, data: u16): void {
  result.codeSelector = code;
  result.dataSelector = data;
}
export function setGdtLimit(limit: u32): void {
  result.gdtLimit = limit;
}
export function setMode(mode: i32): void {
  result.mode = <CpuMode>mode;
}
export function setError(text: string): void {
  result.error = text;
}

// entryStateOf(): null on success, else the error.
export function makeState(): string | null {
  const r = entryStateOf(result, memory);
  state = r.state;
  return r.error;
}
// The mode the entry state's CS runs in: 64-bit code or 32-bit code.
export function stMode(): i32 {
  return <i32>((state!.cs.attributes & ATTR_LONG) != 0 ? CpuMode.Long64 : CpuMode.Protected32);
}
export function stRip(): u64 {
  return state!.rip;
}
export function stRsp(): u64 {
  return state!.rsp;
}
export function stRflags(): u64 {
  return state!.rflags;
}
export function stCr0(): u64 {
  return state!.cr0;
}
export function stCr3(): u64 {
  return state!.cr3;
}
export function stCr4(): u64 {
  return state!.cr4;
}
export function stEfer(): u64 {
  return state!.efer;
}
export function stGdtBase(): u64 {
  return state!.gdtBase;
}
export function stGdtLimit(): u32 {
  return state!.gdtLimit;
}
export function stRax(): u64 {
  return state!.rax;
}
export function stRbx(): u64 {
  return state!.rbx;
}
export function stRsi(): u64 {
  return state!.rsi;
}
// Segment 0 = CS, 1 = the data segments, 2 = TR: selected for the seg* getters.
export function selectSegment(which: i32): void {
  segment = which == 0 ? state!.cs : which == 1 ? state!.data : state!.tr;
}
export function decode(selector: u16, descriptor: u64): void {
  segment = segmentFromDescriptor(selector, descriptor);
}
export function segSelector(): u16 {
  return segment.selector;
}
export function segBase(): u64 {
  return segment.base;
}
export function segLimit(): u32 {
  return segment.limit;
}
export function segAttributes(): u16 {
  return segment.attributes;
}
export function segVmxAccessRights(): u32 {
  return segment.vmxAccessRights;
}

// Boot-module names: the names joined by ",".
export function names(cmdline: string): string {
  return moduleNames(cmdline).join(",");
}
export function isConfig(cmdline: string): bool {
  return isConfigModule(cmdline);
}
// The index (in the "|"-separated list of command lines) of the module called `name`, or -1.
export function find(cmdlines: string, name: string): i32 {
  const list = cmdlines.split("|");
  const modules: BootModule[] = [];
  for (let i = 0; i < list.length; i++) modules.push(new BootModule(<u64>i * 0x1000, <u64>i * 0x1000 + 0x100, list[i]));
  const m = findModule(modules, name);
  return m === null ? -1 : <i32>(m.start / 0x1000);
}
