// What test/unit/as/exits.ts exports (a VM of fake vCPUs driven through
// handleExit()), shared by exits.test.ts, hypercall.test.ts and
// guesttsc.test.ts: its functions, and the numbers of vmm/core/exit.ts's
// and vcpu.ts's const enums, which it exports as globals.
import type { Exports } from "./harness";

type G = WebAssembly.Global;
export interface ExitsExports {
  EXIT_CPUID: G;
  EXIT_HLT: G;
  EXIT_MMIO: G;
  EXIT_HYPERCALL: G;
  EXIT_XSETBV: G;
  EXIT_EXTERNAL_INTERRUPT: G;
  EXIT_INTERRUPT_WINDOW: G;
  EXIT_PREEMPTION_TIMER: G;
  EXIT_PAUSE: G;
  EXIT_MONITOR_MWAIT: G;
  EXIT_RDPMC: G;
  EXIT_TRIPLE_FAULT: G;
  EXIT_INIT: G;
  EXIT_VIRTUALIZATION_INSTRUCTION: G;
  EXIT_INVALID_STATE: G;
  EXIT_UNHANDLED: G;
  NEXT_RESUME: G;
  NEXT_YIELD: G;
  NEXT_HALT: G;
  NEXT_STOPPED: G;
  ACTIVITY_RUNNABLE: G;
  ACTIVITY_HALTED: G;
  ACTIVITY_WAITING_FOR_SIPI: G;
  reset(vcpus: number): void;
  calibrate(tscPerMs: bigint): void;
  initXstate(): void;
  guestRamHost(): bigint;
  reg(i: number, r: number): bigint;
  setReg(i: number, r: number, v: bigint): void;
  setBits(i: number, bits: number): void;
  setCpl(i: number, cpl: number): void;
  setCr4(i: number, cr4: bigint): void;
  setRflags(i: number, rflags: bigint): void;
  rip(i: number): bigint;
  setRip(i: number, rip: bigint): void;
  skips(i: number): number;
  exception(i: number): number;
  exceptions(i: number): number;
  activity(i: number): number;
  xcr0(i: number): bigint;
  simpleExit(i: number, kind: number, length: number, code: bigint, qualification: bigint): number;
  memoryPages(): number;
  ioExit(i: number, port: number, size: number, isWrite: number, isString: number): number;
  rdmsrExit(i: number): number;
  wrmsrExit(i: number): number;
  mmioExit(i: number, gpa: bigint, isWrite: number, bytes: bigint, count: number): number;
  running(): number;
  stopReason(): number;
  exitStatus(): bigint;
  sendInit(i: number): void;
  sendStartup(i: number, vector: number): void;
  raiseInterrupt(vector: number): void;
  takeInterrupt(): number;
  portRead(port: number, size: number): bigint;
  portWrite(port: number, size: number, value: bigint): void;
  guestRead8(gpa: bigint): number;
  guestWrite8(gpa: bigint, value: number): void;
  guestTsc(i: number): bigint;
  tscAdjust(i: number): bigint;
  tscOffsetField(i: number): bigint;
  backendTscOffset(i: number): bigint;
  setTscOffsetting(i: number, on: number): void;
  toHost(i: number, guest: bigint): bigint;
  toGuest(i: number, host: bigint): bigint;
  nextTimerInterrupt(i: number): bigint;
  apicPendingVector(i: number): number;
}

// The names the entry exports for vmm/core/exit.ts's const enums, as numbers.
export function enums(e: Exports<ExitsExports>) {
  const v = (g: G) => g.value as number;
  return {
    Exit: {
      Cpuid: v(e.EXIT_CPUID),
      Hlt: v(e.EXIT_HLT),
      Mmio: v(e.EXIT_MMIO),
      Hypercall: v(e.EXIT_HYPERCALL),
      Xsetbv: v(e.EXIT_XSETBV),
      ExternalInterrupt: v(e.EXIT_EXTERNAL_INTERRUPT),
      InterruptWindow: v(e.EXIT_INTERRUPT_WINDOW),
      PreemptionTimer: v(e.EXIT_PREEMPTION_TIMER),
      Pause: v(e.EXIT_PAUSE),
      MonitorMwait: v(e.EXIT_MONITOR_MWAIT),
      Rdpmc: v(e.EXIT_RDPMC),
      TripleFault: v(e.EXIT_TRIPLE_FAULT),
      Init: v(e.EXIT_INIT),
      VirtualizationInstruction: v(e.EXIT_VIRTUALIZATION_INSTRUCTION),
      InvalidState: v(e.EXIT_INVALID_STATE),
      Unhandled: v(e.EXIT_UNHANDLED),
    },
    Next: { Resume: v(e.NEXT_RESUME), Yield: v(e.NEXT_YIELD), Halt: v(e.NEXT_HALT), Stopped: v(e.NEXT_STOPPED) },
    Activity: {
      Runnable: v(e.ACTIVITY_RUNNABLE),
      Halted: v(e.ACTIVITY_HALTED),
      WaitingForSipi: v(e.ACTIVITY_WAITING_FOR_SIPI),
    },
  };
}

export const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSI = 6, RDI = 7;
export const GP0 = "13:0", UD = "6"; // FakeVcpu's record of #GP(0) and #UD
