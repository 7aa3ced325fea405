// Unit-test entry: the generic exit handler (vmm/emul/exits.ts) and what it
// reaches: the CPUID policy, port I/O on the VM's bus, the MSR policy, the
// vCPU's TSC (vmm/vcpustate/tsc.ts, Vcpu.moveTsc()) and its local APIC's
// MSRs, hypercalls, HLT and the exits that stop the VM. A VM of fake vCPUs
// (fakevcpu.ts) with guest RAM at guest-physical 0 (backed by the harness's
// fake physical memory at GUEST_RAM_HOST), the test device at port 0x600
// and QEMU's debug-exit port at 0xf4, and a leaking device at 0x700. Each load() is a fresh module; reset()
// makes a fresh VM in it.

import { Reg } from "../../../kernel/arch/x86";
import { setTscPerMillisecond } from "../../../kernel/time/tsc";
import { ExitKind, Next } from "../../../vmm/core/exit";
import { Activity, Vcpu } from "../../../vmm/core/vcpu";
import { Vm } from "../../../vmm/core/vm";
import { Device } from "../../../vmm/devices/bus";
import { DebugExit, DEBUG_EXIT_PORT } from "../../../vmm/devices/io/debugexit";
import { TestDevice, TEST_DEVICE_PORT, TEST_DEVICE_PORTS, VectorSink } from "../../../vmm/devices/test/testdevice";
import { handleExit } from "../../../vmm/emul/exits";
import { initExtendedState } from "../../../vmm/vcpustate/xstate";
import { FakeVcpu } from "./fakevcpu";

const GUEST_RAM_HOST: u64 = 0x1_0000_0000;
const GUEST_RAM_SIZE: u64 = 1 << 20;

// The const enums of vmm/core/exit.ts, for the test to name them.
export const EXIT_CPUID = <i32>ExitKind.Cpuid;
export const EXIT_HLT = <i32>ExitKind.Hlt;
export const EXIT_MMIO = <i32>ExitKind.Mmio;
export const EXIT_HYPERCALL = <i32>ExitKind.Hypercall;
export const EXIT_XSETBV = <i32>ExitKind.Xsetbv;
export const EXIT_EXTERNAL_INTERRUPT = <i32>ExitKind.ExternalInterrupt;
export const EXIT_INTERRUPT_WINDOW = <i32>ExitKind.InterruptWindow;
export const EXIT_PREEMPTION_TIMER = <i32>ExitKind.PreemptionTimer;
export const EXIT_PAUSE = <i32>ExitKind.Pause;
export const EXIT_MONITOR_MWAIT = <i32>ExitKind.MonitorMwait;
export const EXIT_RDPMC = <i32>ExitKind.Rdpmc;
export const EXIT_TRIPLE_FAULT = <i32>ExitKind.TripleFault;
export const EXIT_INIT = <i32>ExitKind.Init;
export const EXIT_VIRTUALIZATION_INSTRUCTION = <i32>ExitKind.VirtualizationInstruction;
export const EXIT_INVALID_STATE = <i32>ExitKind.InvalidState;
export const EXIT_UNHANDLED = <i32>ExitKind.Unhandled;
export const NEXT_RESUME = <i32>Next.Resume;
export const NEXT_YIELD = <i32>Next.Yield;
export const NEXT_HALT = <i32>Next.Halt;
export const NEXT_STOPPED = <i32>Next.Stopped;
export const ACTIVITY_RUNNABLE = <i32>Activity.Runnable;
export const ACTIVITY_HALTED = <i32>Activity.Halted;
export const ACTIVITY_WAITING_FOR_SIPI = <i32>Activity.WaitingForSipi;

// A device model with a leak: each write keeps 64 KiB it never lets go of.
export const LEAKY_PORT: u16 = 0x700;
class Leaky extends Device {
  kept: StaticArray<u8>[] = [];
  constructor() {
    super("leaky");
  }
  read(offset: u64, size: u8): u64 {
    return 0;
  }
  write(offset: u64, size: u8, value: u64): void {
    this.kept.push(new StaticArray<u8>(65536));
  }
}

class Interrupts extends VectorSink {
  raise(vector: u8): void {
    vm().raiseInterrupt(vector);
  }
  pulseNmi(): void {
    vm().pressNmiButton();
  }
}

// Made on first use (or by reset()): a vCPU asks CPUID as it is made, which
// the shim's stubs answer only once the module is instantiated.
let theVm: Vm | null = null;
let fakes: FakeVcpu[] = [];

function vm(): Vm {
  if (theVm === null) reset(1);
  return theVm!;
}
function fake(i: i32): FakeVcpu {
  vm();
  return fakes[i];
}

// A fresh VM of `vcpus` fake vCPUs, in 64-bit mode with interrupts disabled.
export function reset(vcpus: i32): void {
  fakes = [];
  const list: Vcpu[] = [];
  for (let i = 0; i < vcpus; i++) {
    const f = new FakeVcpu();
    fakes.push(f);
    list.push(f);
  }
  const v = new Vm(0, "unit", list);
  // Exits come from vCPUs that run: the application processors count as started.
  for (let i = 1; i < vcpus; i++) list[i].activity = Activity.Runnable;
  v.memory.add(0, GUEST_RAM_HOST, GUEST_RAM_SIZE);
  v.bus.io.map(TEST_DEVICE_PORT, TEST_DEVICE_PORTS, new TestDevice(new Interrupts()));
  v.bus.io.map(DEBUG_EXIT_PORT, 1, new DebugExit(v));
  v.bus.io.map(LEAKY_PORT, 1, new Leaky());
  theVm = v;
}

// Before reset(): the TSC rate (kernel/time/tsc.ts) and the XCR0 bits
// guests may set (vcpustate/xstate.ts), as the kernel sets them up at boot.
export function calibrate(tscPerMs: u64): void {
  setTscPerMillisecond(tscPerMs);
}
export function initXstate(): void {
  initExtendedState();
}

export function guestRamHost(): u64 {
  return GUEST_RAM_HOST;
}

// ---- the vCPU's state

export function reg(i: i32, r: i32): u64 {
  return fake(i).regs.get(<Reg>r);
}
export function setReg(i: i32, r: i32, v: u64): void {
  fake(i).regs.set(<Reg>r, v);
}
export function setBits(i: i32, bits: u32): void {
  fake(i).bits = bits;
}
export function setCpl(i: i32, cpl: u32): void {
  fake(i).cplValue = cpl;
}
export function setCr4(i: i32, cr4: u64): void {
  fake(i).cr4Value = cr4;
}
export function setRflags(i: i32, rflags: u64): void {
  fake(i).rflagsValue = rflags;
}
export function rip(i: i32): u64 {
  return fake(i).ripValue;
}
export function setRip(i: i32, rip: u64): void {
  fake(i).ripValue = rip;
}
export function skips(i: i32): i32 {
  return fake(i).skips;
}
export function exception(i: i32): string {
  return fake(i).exception;
}
export function exceptions(i: i32): i32 {
  return fake(i).exceptions;
}
export function activity(i: i32): i32 {
  return <i32>fake(i).activity;
}
export function xcr0(i: i32): u64 {
  return fake(i).xstate.xcr0;
}

// ---- exits: each fills the vCPU's Exit and returns handleExit's Next

function run(i: i32): i32 {
  const f = fake(i);
  return <i32>handleExit(vm(), f, f.exit);
}
function begin(i: i32, kind: i32, length: u32): void {
  const f = fake(i), exit = f.exit;
  exit.kind = <ExitKind>kind;
  // As a backend's decode notes them for a hypercall.
  exit.cpl = f.cpl;
  exit.longMode = f.longMode;
  exit.code = 0;
  exit.qualification = 0;
  exit.instructionLength = length;
  exit.isString = false;
  exit.isWrite = false;
  exit.fetchedBytes = 0;
}

// The linear memory's size in 64 KiB pages, which grows with the heap (with
// the kernel's minimal runtime the collector runs only when called).
export function memoryPages(): i32 {
  return memory.size();
}

// An exit that carries nothing but its kind (and the raw code, for reports).
export function simpleExit(i: i32, kind: i32, length: u32, code: u64, qualification: u64): i32 {
  begin(i, kind, length);
  fake(i).exit.code = code;
  fake(i).exit.qualification = qualification;
  return run(i);
}
// IN or OUT (2 bytes long: IN AL,DX and friends are 1, the immediate forms 2).
export function ioExit(i: i32, port: u16, size: u8, isWrite: bool, isString: bool): i32 {
  begin(i, <i32>ExitKind.Io, 2);
  const exit = fake(i).exit;
  exit.port = port;
  exit.size = size;
  exit.isWrite = isWrite;
  exit.isString = isString;
  return run(i);
}
// RDMSR (ECX and EDX:EAX from the registers, as the backends fill the exit).
export function rdmsrExit(i: i32): i32 {
  begin(i, <i32>ExitKind.MsrRead, 2);
  fake(i).exit.msr = <u32>fake(i).regs.get(Reg.Rcx);
  return run(i);
}
export function wrmsrExit(i: i32): i32 {
  begin(i, <i32>ExitKind.MsrWrite, 2);
  const f = fake(i);
  f.exit.msr = <u32>f.regs.get(Reg.Rcx);
  f.exit.value = f.regs.edxEax();
  return run(i);
}
// With the instruction's first `count` bytes (little-endian in `bytes`) as
// AMD's decode assists deliver them, so that no guest page walk is needed.
export function mmioExit(i: i32, gpa: u64, isWrite: bool, bytes: u64, count: u8): i32 {
  begin(i, <i32>ExitKind.Mmio, 0);
  const exit = fake(i).exit;
  exit.gpa = gpa;
  exit.isWrite = isWrite;
  for (let b: u8 = 0; b < count; b++) exit.instructionBytes[b] = <u8>(bytes >> (<u64>b * 8));
  exit.fetchedBytes = count;
  return run(i);
}

// ---- the VM

export function running(): bool {
  return vm().running;
}
export function stopReason(): string {
  return vm().stopReason;
}
export function exitStatus(): i64 {
  return vm().exitStatus;
}
// INIT and STARTUP from another vCPU, as VmApics delivers them.
export function sendInit(i: i32): void {
  vm().apics.init(vm().vcpus[i]);
}
export function sendStartup(i: i32, vector: u8): void {
  vm().apics.startup(vm().vcpus[i], vector);
}
export function raiseInterrupt(vector: u8): void {
  vm().raiseInterrupt(vector);
}
export function takeInterrupt(): u8 {
  return vm().takeInterrupt();
}
export function portRead(port: u16, size: u8): u64 {
  return vm().bus.io.read(port, size);
}
export function portWrite(port: u16, size: u8, value: u64): void {
  vm().bus.io.write(port, size, value);
}
// Guest RAM by guest-physical address (the instructions at RIP, strings).
export function guestRead8(gpa: u64): u8 {
  return vm().memory.read8(gpa);
}
export function guestWrite8(gpa: u64, value: u8): void {
  vm().memory.write8(gpa, value);
}

// ---- the TSC: GuestTsc, the offset the backend was given, the local APIC's timer

export function guestTsc(i: i32): u64 {
  return fake(i).tsc.now();
}
export function tscAdjust(i: i32): u64 {
  return fake(i).tsc.adjust;
}
export function tscOffsetField(i: i32): u64 {
  return fake(i).tsc.offset;
}
export function backendTscOffset(i: i32): u64 {
  return fake(i).tscOffset;
}
export function setTscOffsetting(i: i32, on: bool): void {
  fake(i).tscOffsetting = on;
}
export function toHost(i: i32, guest: u64): u64 {
  return fake(i).tsc.toHost(guest);
}
export function toGuest(i: i32, host: u64): u64 {
  return fake(i).tsc.toGuest(host);
}
// The host TSC at which the vCPU's next timer interrupt is due (what the scheduler idles until).
export function nextTimerInterrupt(i: i32): u64 {
  return vm().nextTimerInterrupt(fake(i));
}
// The vector the vCPU's local APIC would deliver now, or -1 (brings its timer up to the present).
export function apicPendingVector(i: i32): i32 {
  return vm().apics.pendingVector(fake(i));
}
