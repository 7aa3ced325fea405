// Unit-test entry: the guest loaders (vmm/setup/loaders). The test builds a VM's
// RAM (regions of fake physical memory), puts images in fake physical memory,
// fills in the boot options one call at a time, runs a loader and reads the
// LoadResult back field by field.

import { BootInfo, MemoryRegion } from "../../../kernel/boot/bootinfo";
import { parseMultiboot1 } from "../../../kernel/boot/multiboot1";
import { GuestMemory } from "../../../vmm/core/guestmemory";
import { loadBzImage } from "../../../vmm/setup/loaders/bzimage";
import { loadKernel } from "../../../vmm/setup/loaders/kernel";
import { GuestLayout } from "../../../vmm/setup/loaders/layout";
import { BootOptions, LoadResult } from "../../../vmm/setup/loaders/loader";
import { loadMultiboot1 } from "../../../vmm/setup/loaders/multiboot1";
import { loadPvh } from "../../../vmm/setup/loaders/pvh";
import { ImageSource, ModuleImage, PhysImageSource } from "../../../vmm/setup/loaders/source";

let memory = new GuestMemory();
let options = new BootOptions();
let result = new LoadResult();

export function reset(): void {
  memory = new GuestMemory();
  options = new BootOptions();
  result = new LoadResult();
}
export function ramAdd(gpa: u64, hpa: u64, size: u64): void {
  memory.add(gpa, hpa, size);
}
export function reservedAdd(base: u64, length: u64, type: u32): void {
  options.reserved.push(new MemoryRegion(base, length, type));
}
export function setCmdline(text: string): void {
  options.cmdline = text;
}
export function setInitrd(start: u64, size: u64): void {
  options.initrd = new PhysImageSource(start, size);
}
export function moduleAdd(start: u64, size: u64, cmdline: string): void {
  options.modules.push(new ModuleImage(new PhysImageSource(start, size), cmdline));
}
export function setRsdp(addr: u64): void {
  options.rsdp = addr;
}

function image(start: u64, size: u64): ImageSource {
  return new PhysImageSource(start, size);
}
export function loadBz(start: u64, size: u64): bool {
  result = loadBzImage(memory, image(start, size), options);
  return result.error === null;
}
export function loadPvhImage(start: u64, size: u64): bool {
  result = loadPvh(memory, image(start, size), options);
  return result.error === null;
}
export function loadMb1(start: u64, size: u64): bool {
  result = loadMultiboot1(memory, image(start, size), options);
  return result.error === null;
}
export function loadAny(start: u64, size: u64): bool {
  result = loadKernel(memory, image(start, size), options);
  return result.error === null;
}

export function resError(): string | null {
  return result.error;
}
export function resProtocol(): string {
  return result.protocol;
}
export function resMode(): i32 {
  return <i32>result.mode;
}
export function resEntry(): u64 {
  return result.entry;
}
export function resRax(): u64 {
  return result.rax;
}
export function resRbx(): u64 {
  return result.rbx;
}
export function resRsi(): u64 {
  return result.rsi;
}
export function resRflags(): u64 {
  return result.rflags;
}
export function resCr0(): u64 {
  return result.cr0;
}
export function resCr3(): u64 {
  return result.cr3;
}
export function resCr4(): u64 {
  return result.cr4;
}
export function resEfer(): u64 {
  return result.efer;
}
export function resGdtBase(): u64 {
  return result.gdtBase;
}
export function resGdtLimit(): u32 {
  return result.gdtLimit;
}
export function resCodeSelector(): u16 {
  return result.codeSelector;
}
export function resDataSelector(): u16 {
  return result.dataSelector;
}
export function resKernelStart(): u64 {
  return result.kernelStart;
}
export function resKernelEnd(): u64 {
  return result.kernelEnd;
}
export function resBootInfo(): u64 {
  return result.bootInfo;
}
export function resCmdline(): u64 {
  return result.cmdlineAddress;
}
export function resInitrdStart(): u64 {
  return result.initrdStart;
}
export function resInitrdSize(): u64 {
  return result.initrdSize;
}
export function resModuleCount(): i32 {
  return result.moduleStarts.length;
}
export function resModuleStart(i: i32): u64 {
  return result.moduleStarts[i];
}

// The layout on its own: claims, placement and the memory map.
let layout = new GuestLayout(memory, []);
let map: MemoryRegion[] = [];
export function layoutNew(): void {
  layout = new GuestLayout(memory, options.reserved);
}
export function layoutClaim(start: u64, size: u64, what: string): bool {
  return layout.claim(start, size, what);
}
export function layoutPlace(size: u64, align: u64, low: u64, high: u64, top: bool, what: string): u64 {
  return layout.place(size, align, low, high, top, what);
}
export function layoutError(): string | null {
  return layout.error;
}
export function mapCompute(): i32 {
  map = layout.memoryMap();
  return map.length;
}
export function mapBase(i: i32): u64 {
  return map[i].base;
}
export function mapLength(i: i32): u64 {
  return map[i].length;
}
export function mapType(i: i32): u32 {
  return map[i].type;
}

// An image source on its own.
let source: ImageSource = new PhysImageSource(0, 0);
export function sourceNew(start: u64, size: u64): void {
  source = new PhysImageSource(start, size);
}
export function sourceHas(offset: u64, length: u64): bool {
  return source.has(offset, length);
}
export function sourceRead8(offset: u64): u8 {
  return source.readU8(offset);
}
export function sourceRead32(offset: u64): u32 {
  return source.readU32(offset);
}
export function sourceRead64(offset: u64): u64 {
  return source.readU64(offset);
}
export function sourceCString(offset: u64, max: u64): string | null {
  return source.readCString(offset, max);
}

// The kernel's own multiboot 1 parser, as a cross-check of the structure the
// multiboot loader builds (valid when guest RAM sits at host-physical 0).
let parsed: BootInfo = new BootInfo();
export function mb1Parse(info: u64): string | null {
  parsed = parseMultiboot1(info);
  return parsed.error;
}
export function mb1Cmdline(): string {
  return parsed.cmdline;
}
export function mb1LoaderName(): string {
  return parsed.loaderName;
}
export function mb1ModuleCount(): i32 {
  return parsed.modules.length;
}
export function mb1ModuleStart(i: i32): u64 {
  return parsed.modules[i].start;
}
export function mb1ModuleEnd(i: i32): u64 {
  return parsed.modules[i].end;
}
export function mb1ModuleCmdline(i: i32): string {
  return parsed.modules[i].cmdline;
}
export function mb1RegionCount(): i32 {
  return parsed.memory.length;
}
export function mb1RegionBase(i: i32): u64 {
  return parsed.memory[i].base;
}
export function mb1RegionLength(i: i32): u64 {
  return parsed.memory[i].length;
}
export function mb1RegionType(i: i32): u32 {
  return parsed.memory[i].type;
}
