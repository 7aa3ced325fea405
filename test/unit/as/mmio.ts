// Unit-test entry: MMIO emulation (vmm/emul/mmio.ts) with its decoder
// (vmm/emul/decoder.ts) and guest page walker (vmm/emul/guestpaging.ts). Guest RAM is
// GUEST_RAM_SIZE bytes at guest-physical 0, backed by the harness's fake
// physical memory at GUEST_RAM_HOST; the test device's MMIO window is on
// the bus; a FakeVcpu (fakevcpu.ts) stands in for a backend and records
// what the emulation did to it.

import { MmioInstruction } from "../../../vmm/emul/decoder";
import { emulateMmio } from "../../../vmm/emul/mmio";
import { emulateTaskPriority } from "../../../vmm/emul/taskpriority";
import { GuestPageWalker } from "../../../vmm/emul/guestpaging";
import { GuestMemory } from "../../../vmm/core/guestmemory";
import { TestMmioWindow, TEST_MMIO_BASE, TEST_MMIO_SIZE } from "../../../vmm/devices/test/testmmio";
import { Reg, Seg } from "../../../kernel/arch/x86";
import { Exit, ExitKind } from "../../../vmm/core/exit";
import { Vcpu } from "../../../vmm/core/vcpu";
import { FakeVcpu } from "./fakevcpu";
import { AluOp, AluResult } from "../../../vmm/emul/alu";
import { Vm } from "../../../vmm/core/vm";

const GUEST_RAM_HOST: u64 = 0x1_0000_0000;
const GUEST_RAM_SIZE: u64 = 64 << 20;

// ---- the decoder

const instruction = new MmioInstruction();
const bytes = new StaticArray<u8>(16);

export function setByte(i: i32, b: u8): void {
  bytes[i] = b;
}
export function decode(count: i32, codeBits: u32): bool {
  return instruction.decode(bytes, count, codeBits);
}
export function decodedLength(): u32 {
  return instruction.length;
}
export function decodedAccessSize(): u8 {
  return instruction.accessSize;
}
export function decodedIsWrite(): bool {
  return instruction.isWrite;
}
export function decodedRegister(): i32 {
  return <i32>instruction.register;
}
export function decodedRegisterSize(): u8 {
  return instruction.registerSize;
}
export function decodedHighByte(): bool {
  return instruction.highByte;
}
export function decodedHasImmediate(): bool {
  return instruction.hasImmediate;
}
export function decodedImmediate(): u64 {
  return instruction.immediate;
}
export function decodedExtension(): i32 {
  return <i32>instruction.extension;
}
export function decodedIsRead(): bool {
  return instruction.isRead;
}
export function decodedOperation(): i32 {
  return <i32>instruction.operation;
}
export function decodedAluOp(): i32 {
  return <i32>instruction.aluOp;
}
export function decodedBitOp(): i32 {
  return <i32>instruction.bitOp;
}
export function decodedToMemory(): bool {
  return instruction.toMemory;
}
export function decodedRepeat(): bool {
  return instruction.repeat;
}
export function decodedSourceSegment(): i32 {
  return <i32>instruction.sourceSegment;
}
export function decodedFailure(): string {
  return instruction.failure;
}

// ---- the arithmetic

const alu = new AluResult();
export function aluCompute(op: i32, a: u64, b: u64, carryIn: bool, size: u8): u64 {
  alu.compute(<AluOp>op, a, b, carryIn, size);
  return alu.value;
}
export function aluFlags(): u64 {
  return alu.flags;
}

// ---- the page walker, over guest RAM

const memory = new GuestMemory();
memory.add(0, GUEST_RAM_HOST, GUEST_RAM_SIZE);
const walker = new GuestPageWalker();

export function guestRamHost(): u64 {
  return GUEST_RAM_HOST;
}
export function guestRamSize(): u64 {
  return GUEST_RAM_SIZE;
}
export function translate(linear: u64, cr0: u64, cr3: u64, cr4: u64, efer: u64): i32 {
  return <i32>walker.translate(memory, linear, cr0, cr3, cr4, efer);
}
export function translatedPhysical(): u64 {
  return walker.physical;
}
export function failedEntry(): u64 {
  return walker.failedEntry;
}
export function pageFaultFor(write: bool, cpl: u32, cr0: u64, cr4: u64, rflags: u64): i32 {
  return walker.pageFaultFor(write, cpl, cr0, cr4, rflags);
}

// ---- a VM with the test device's window, and its vCPU

// Made on first use: a vCPU's constructor asks CPUID (its CpuidTable), and
// the shim's stubs answer only once the module is instantiated.
let theVcpu: FakeVcpu | null = null;
function vcpuOf(): FakeVcpu {
  if (theVcpu === null) theVcpu = new FakeVcpu();
  return theVcpu!;
}
let theVm: Vm | null = null;
function vmOf(): Vm {
  if (theVm === null) theVm = newVm();
  return theVm!;
}

function newVm(): Vm {
  const vcpus: Vcpu[] = [vcpuOf()];
  const v = new Vm(0, "unit", vcpus);
  v.memory.add(0, GUEST_RAM_HOST, GUEST_RAM_SIZE);
  v.bus.mmio.map(TEST_MMIO_BASE, TEST_MMIO_SIZE, new TestMmioWindow());
  return v;
}

export function testMmioBase(): u64 {
  return TEST_MMIO_BASE;
}
export function vmReset(): void {
  theVm = newVm();
  const vcpu = vcpuOf();
  vcpu.skips = 0;
  vcpu.exit.fetchedBytes = 0;
}
export function regGet(r: i32): u64 {
  return vcpuOf().regs.get(<Reg>r);
}
export function regSet(r: i32, v: u64): void {
  vcpuOf().regs.set(<Reg>r, v);
}
export function regWrite(r: i32, highByte: bool, size: u8, value: u64, mode64: bool): void {
  vcpuOf().regs.writeOperand(<Reg>r, highByte, size, value, mode64);
}
export function regRead(r: i32, highByte: bool): u64 {
  return vcpuOf().regs.readOperand(<Reg>r, highByte);
}

export function cpuSet(rip: u64, csBase: u64, codeBits: u32, cr0: u64, cr3: u64, cr4: u64, efer: u64): void {
  const vcpu = vcpuOf();
  vcpu.ripValue = rip;
  vcpu.segmentBases[<i32>Seg.Cs] = csBase;
  vcpu.bits = codeBits;
  vcpu.cr0Value = cr0;
  vcpu.cr3Value = cr3;
  vcpu.cr4Value = cr4;
  vcpu.eferValue = efer;
}
export function cpuRflags(): u64 {
  return vcpuOf().rflagsValue;
}
export function cpuSetRflags(v: u64): void {
  vcpuOf().rflagsValue = v;
}
export function cpuSetSegmentBase(seg: i32, base: u64): void {
  vcpuOf().segmentBases[seg] = base;
}
export function cpuRip(): u64 {
  return vcpuOf().ripValue;
}
export function cpuSkips(): i32 {
  return vcpuOf().skips;
}
// The instruction bytes as AMD decode assists deliver them.
export function setFetched(i: i32, b: u8, count: u8): void {
  const exit = vcpuOf().exit;
  exit.instructionBytes[i] = b;
  exit.fetchedBytes = count;
}

// One CR8 access (emul/taskpriority.ts): `register` -1 leaves the MOV to be
// decoded from guest memory; returns the Next, and the APIC's TPR after it.
export function taskPriorityExit(isWrite: bool, register: i32): i32 {
  const exit = exitOf(ExitKind.TaskPriority, isWrite);
  exit.register = register;
  return <i32>emulateTaskPriority(vmOf(), vcpuOf(), exit);
}
export function apicTaskPriority(): u32 {
  return vmOf().apics.of(vcpuOf()).taskPriority;
}
export function cpuRsp(): u64 {
  return vcpuOf().rspValue;
}
export function lastException(): string {
  return vcpuOf().exception;
}

// One Mmio exit at `gpa`; returns the Next handleExit would return.
export function mmioExit(gpa: u64, isWrite: bool): i32 {
  const exit = exitOf(ExitKind.Mmio, isWrite);
  exit.gpa = gpa;
  return <i32>emulateMmio(vmOf(), vcpuOf(), exit);
}

// The vCPU's exit record, made an exit of `kind` in the direction `isWrite`.
function exitOf(kind: ExitKind, isWrite: bool): Exit {
  const exit = vcpuOf().exit;
  exit.kind = kind;
  exit.isWrite = isWrite;
  exit.instructionLength = 0;
  return exit;
}
export function deviceWrite(offset: u64, size: u8, value: u64): void {
  vmOf().bus.mmio.write(TEST_MMIO_BASE + offset, size, value);
}
export function deviceRead(offset: u64, size: u8): u64 {
  return vmOf().bus.mmio.read(TEST_MMIO_BASE + offset, size);
}
// Whether the vCPU's StoreMemo (core/storememo.ts) recognises the
// instruction at its RIP as the store it remembered, as the exit fast path asks.
export function memoMatches(): bool {
  const vcpu = vcpuOf();
  return vcpu.storeMemo.matches(vcpu.rip, vcpu.cr3, vcpu.fetchMode, vcpu.segmentBase(Seg.Cs));
}
// The memo's store replayed to `gpa`, as the fast path would; and the APIC's in-service vector then.
export function memoStore(gpa: u64): bool {
  const vcpu = vcpuOf();
  return vcpu.storeMemo.storeToApic(vcpu.regs, gpa);
}
export function memoLength(): u32 {
  return vcpuOf().storeMemo.length;
}
// The vCPU's local APIC: software-enabled, an interrupt accepted and taken
// by the CPU (in service), and an ISR word (vectors 32 * i and up).
export function apicEnable(): void {
  vmOf().apics.of(vcpuOf()).write(0xf0, 4, 0x1ff);
}
export function apicTake(vector: u8, levelTriggered: bool): void {
  const apic = vmOf().apics.of(vcpuOf());
  apic.accept(vector, levelTriggered);
  apic.acknowledge(vector);
}
export function apicRaise(vector: u8): void {
  vmOf().apics.of(vcpuOf()).accept(vector, false);
}
export function apicInService(i: i32): u32 {
  return <u32>vmOf().apics.of(vcpuOf()).read(0x100 + <u64>i * 16, 4);
}
export function vmStopReason(): string {
  return vmOf().stopReason;
}
