// The one record every VM exit becomes, and what its handler decides.
//
// A backend (hw/vmx, hw/svm) turns each hardware exit it does not finish
// itself into an Exit: a small, reusable record with a kind and the few
// fields that kind needs. The generic handler (emul/exits.ts) acts on it
// and never learns which backend is underneath.

import { MAX_INSTRUCTION_LENGTH, VECTOR_AC, VECTOR_DB } from "../../kernel/arch/x86";

// The guest's exceptions that both backends intercept, only to give them
// straight back (each backend's reflectException()). A guest can make #AC
// recur while #AC is delivered (CPL 3, CR0.AM, EFLAGS.AC and a misaligned
// stack) or #DB while #DB is delivered (a data breakpoint where the IST
// stack takes the frame): unintercepted, either loops inside the processor
// with no window for an interrupt and holds the host's CPU for good
// (CVE-2015-5307, CVE-2015-8104). Intercepted, each round is an exit, and
// the scheduler takes the CPU back; a vCPU that goes round at one RIP with
// no interrupt taken in between is stopped (Vcpu.exceptionLoops()).
export const REFLECTED_EXCEPTIONS: u32 = (1 << VECTOR_DB) | (1 << VECTOR_AC);

export const enum ExitKind {
  None,
  Cpuid,
  Hlt,
  Io, // port, size, isWrite; the value is in/for guest RAX
  MsrRead, // msr (ECX)
  MsrWrite, // msr (ECX), value (EDX:EAX)
  Mmio, // gpa: a guest-physical access nothing maps (EPT violation / #NPF)
  Hypercall, // VMCALL / VMMCALL
  CrAccess, // a control-register access the backend could not handle itself
  TaskPriority, // MOV to or from CR8: isWrite, register (-1: unknown, decode the instruction)
  Xsetbv,
  ExternalInterrupt,
  InterruptWindow,
  NmiWindow, // the guest can take an NMI (VT-x NMI-window exit; AMD-V IRET, then its single step)
  PreemptionTimer,
  Pause, // the guest spins on PAUSE (pause-loop exiting / pause filter)
  MonitorMwait, // MONITOR or MWAIT, which CPUID tells the guest it does not have
  Rdpmc, // RDPMC: the guest has no performance counters
  TripleFault, // shutdown
  ExceptionLoop, // vector: raised again while delivered, round after round (Vcpu.exceptionLoops())
  Init, // an INIT signal (VT-x exits on it unconditionally; AMD-V intercepts it)
  VirtualizationInstruction, // the guest executed VMX/SVM instructions
  InvalidState, // the hardware refused to enter the guest
  Breakpoint, // an INT3, intercepted while a debugger has breakpoints (vmm/debug)
  DebugStep, // the trap after the one instruction Vcpu.stepOnce() let run
  Unhandled, // anything else: `code` has the raw hardware reason
}

export class Exit {
  kind: ExitKind = ExitKind.None;
  // Raw hardware exit code (VMX basic exit reason / SVM EXITCODE), for reports.
  code: u64 = 0;
  // The guest's RIP when it exited, for the exit log (core/exitlog.ts).
  rip: u64 = 0;
  // Length of the exiting instruction, when the backend knows it (0 otherwise).
  instructionLength: u32 = 0;
  port: u16 = 0;
  size: u8 = 0; // bytes: 1, 2 or 4
  isWrite: bool = false;
  isString: bool = false; // INS/OUTS (with or without REP)
  // Io: the guest's DR7 arms a breakpoint, perhaps an I/O one, which the
  // handler must then look for (Vcpu.noteIoBreakpoints()); read by the
  // backend while it decodes, so that the common case costs no more.
  breakpointsArmed: bool = false;
  // Hypercall: the privilege level and the mode the guest called from,
  // read by the backend while it decodes, where the VMCB or VMCS is at hand.
  cpl: u32 = 0;
  longMode: bool = false;
  msr: u32 = 0;
  vector: u8 = 0; // ExceptionLoop: the exception
  register: i32 = -1; // TaskPriority: the general register, or -1
  value: u64 = 0;
  gpa: u64 = 0;
  qualification: u64 = 0; // backend detail for reports (exit qualification / EXITINFO1)
  // Mmio: the bytes of the faulting instruction, when the CPU fetched them
  // for us (AMD decode assists, APM 15.8.4); fetchedBytes is 0 otherwise.
  readonly instructionBytes: StaticArray<u8> = new StaticArray<u8>(MAX_INSTRUCTION_LENGTH);
  fetchedBytes: u8 = 0;
}

// What the handler of an exit decided: enter the guest again, give the CPU
// to another vCPU, wait for an interrupt, or never run this VM again.
export const enum Next {
  Resume,
  Yield,
  Halt,
  Stopped,
}
