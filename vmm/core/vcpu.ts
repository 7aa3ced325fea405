// The backend-neutral virtual CPU: what the rest of the VMM sees of VT-x and AMD-V.
//
// A backend (vmm/vmx, vmm/svm) owns the hardware structure (VMCS, VMCB) and
// turns each hardware exit into one Exit: a small, reusable record with a kind
// and the few fields that kind needs. The generic handler (exits.ts) acts on
// it through the methods below and never learns which backend is underneath.
// The general-purpose registers live in a GuestRegisters block in linear
// memory, saved and restored by the entry stubs in boot/.

import { allocPages } from "../../kernel/mm/linearpages";
import { CpuidTable } from "../emul/cpuidpolicy";
import { GuestTsc } from "../vcpustate/tsc";
import { DebugRegisters } from "../vcpustate/debugregs";
import { ExtendedState } from "../vcpustate/xstate";
import { EntryState } from "../setup/loaders/entrystate";
import { print, printHex, println } from "../../kernel/console/console";

export const enum ExitKind {
  None,
  Cpuid,
  Hlt,
  Io,            // port, size, isWrite; the value is in/for guest RAX
  MsrRead,       // msr (ECX)
  MsrWrite,      // msr (ECX), value (EDX:EAX)
  Mmio,          // gpa: a guest-physical access nothing maps (EPT violation / #NPF)
  Hypercall,     // VMCALL / VMMCALL
  CrAccess,      // a control-register access the backend could not handle itself
  Xsetbv,
  ExternalInterrupt,
  InterruptWindow,
  PreemptionTimer,
  Pause,         // the guest spins on PAUSE (pause-loop exiting / pause filter)
  MonitorMwait,  // MONITOR or MWAIT, which CPUID tells the guest it does not have
  Rdpmc,         // RDPMC: the guest has no performance counters
  TripleFault,   // shutdown
  Init,          // an INIT signal (VT-x exits on it unconditionally; AMD-V intercepts it)
  VirtualizationInstruction, // the guest executed VMX/SVM instructions
  InvalidState,  // the hardware refused to enter the guest
  Unhandled,     // anything else: `code` has the raw hardware reason
}

export class Exit {
  kind: ExitKind = ExitKind.None;
  // Raw hardware exit code (VMX basic exit reason / SVM EXITCODE), for reports.
  code: u64 = 0;
  // Length of the exiting instruction, when the backend knows it (0 otherwise).
  instructionLength: u32 = 0;
  port: u16 = 0;
  size: u8 = 0;          // bytes: 1, 2 or 4
  isWrite: bool = false;
  isString: bool = false; // INS/OUTS (with or without REP)
  msr: u32 = 0;
  value: u64 = 0;
  gpa: u64 = 0;
  qualification: u64 = 0; // backend detail for reports (exit qualification / EXITINFO1)
  // Mmio: the bytes of the faulting instruction, when the CPU fetched them
  // for us (AMD decode assists, APM 15.8.4); fetchedBytes is 0 otherwise.
  readonly instructionBytes: StaticArray<u8> = new StaticArray<u8>(MAX_INSTRUCTION_LENGTH);
  fetchedBytes: u8 = 0;
}

const RFLAGS_IF: u64 = 1 << 9;

// The longest x86 instruction (SDM Vol. 2A 2.3.11).
export const MAX_INSTRUCTION_LENGTH = 15;

// Slots of the register block, in the order the entry stubs store them.
export const enum Reg { Rax, Rcx, Rdx, Rbx, Rsp, Rbp, Rsi, Rdi, R8, R9, R10, R11, R12, R13, R14, R15 }
export const REGISTER_NAMES: string[] = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];

// The block the entry stubs use: 16 GPRs, then the guest's x87/SSE state
// (FXSAVE format, 512 bytes, 16-byte aligned), so the hypervisor's own SSE
// use never leaks into the guest. Layout shared with boot/svm.S and boot/vmx.S.
export const REGS_FXSAVE_OFFSET: usize = 128;

export class GuestRegisters {
  readonly base: usize;
  constructor() {
    this.base = allocPages(1);
    // A valid FXSAVE image: default x87 control word and MXCSR (SDM Vol. 1 10.5.1).
    store<u16>(this.base + REGS_FXSAVE_OFFSET, 0x37f);
    store<u32>(this.base + REGS_FXSAVE_OFFSET + 24, 0x1f80);
  }
  @inline get(r: Reg): u64 { return load<u64>(this.base + (<usize>r << 3)); }
  @inline set(r: Reg, v: u64): void { store<u64>(this.base + (<usize>r << 3), v); }
}

// The default operand/address size of the code the guest runs (SDM Vol. 3A
// 3.4.5 "Segment Descriptors", the D and L flags; Vol. 1 3.6.1): 64 in
// 64-bit mode, 16 in real and virtual-8086 mode, else CS.D picks 32 or 16.
export function codeBitsOf(longMode: bool, protectedMode: bool, virtual8086: bool, csDefault32: bool): u32 {
  if (longMode) return 64;
  if (!protectedMode || virtual8086) return 16;
  return csDefault32 ? 32 : 16;
}

// Segment registers, for guest state set-up and dumps.
export const enum Seg { Es, Cs, Ss, Ds, Fs, Gs, Ldtr, Tr }

// What a vCPU is doing between its slices (SDM Vol. 3A 9.4 for the start-up
// of application processors: they wait for INIT and STARTUP IPIs).
export const enum Activity { Runnable, Halted, WaitingForSipi }

export abstract class Vcpu {
  readonly regs: GuestRegisters = new GuestRegisters();
  readonly exit: Exit = new Exit();
  readonly xstate: ExtendedState = new ExtendedState();
  readonly cpuid: CpuidTable = new CpuidTable();
  readonly tsc: GuestTsc = new GuestTsc(this);
  readonly debugRegisters: DebugRegisters;
  // Every exit, including those the backend finishes on its fast path
  // without returning from run().
  exits: u64 = 0;
  activity: Activity = Activity.Runnable;
  // Its local APIC's ID: its index in the VM (CPUID reports it).
  apicId: u32 = 0;

  // `switchesDr6`: the backend's guest state does not hold DR6 (debugregs.ts).
  constructor(switchesDr6: bool) {
    this.debugRegisters = new DebugRegisters(switchesDr6);
  }

  // Enters the guest and returns at the first exit it does not finish on
  // its own fast path; fills `exit`.
  abstract run(): Exit;

  abstract get rip(): u64;
  abstract set rip(v: u64);
  abstract get rsp(): u64;
  abstract get rflags(): u64;
  abstract get cr0(): u64;
  abstract get cr3(): u64;
  abstract get cr4(): u64;
  abstract get efer(): u64;
  // RFLAGS.IF: a halted CPU wakes for a maskable interrupt only with it set.
  get interruptsEnabled(): bool { return (this.rflags & RFLAGS_IF) != 0; }
  // Halted with interrupts enabled: what an interrupt (or a timer) would
  // wake; halted with IF=0, only an NMI or INIT would (SDM Vol. 2A "HLT").
  get awaitsInterrupt(): bool { return this.activity == Activity.Halted && this.interruptsEnabled; }
  // True in 64-bit mode (EFER.LMA and CS.L): hypercall arguments are 64-bit.
  abstract get longMode(): bool;
  // The code segment's base, and the default operand and address size the
  // guest executes with: 64 (long mode), 32 (CS.D in protected mode) or 16.
  abstract get csBase(): u64;
  abstract get codeBits(): u32;

  // Puts the vCPU in the architectural reset state, but starting at
  // CS:IP = `segment`:`offset` in real mode (SDM Vol. 3A 10.1.1, APM Vol. 2 14.1.3).
  abstract resetToRealMode(segment: u16, offset: u16): void;

  // Puts the vCPU in the state a kernel loader asked for (vmm/loaders/,
  // through entryStateOf() in entrystate.ts): 32-bit protected or 64-bit
  // long mode with flat segments, the protocol's registers (EAX/EBX for
  // multiboot, RSI for Linux, EBX for PVH), every other general register 0.
  enterKernel(s: EntryState): void {
    for (let i = 0; i < 16; i++) this.regs.set(<Reg>i, 0);
    this.regs.set(Reg.Rax, s.loaded.rax);
    this.regs.set(Reg.Rbx, s.loaded.rbx);
    this.regs.set(Reg.Rsi, s.loaded.rsi);
    this.setEntryState(s);
  }

  // The backend's part of enterKernel(): segments with their hidden parts,
  // GDTR, CR0/CR3/CR4/EFER, RIP, RSP, RFLAGS, in its VMCB or VMCS.
  protected abstract setEntryState(s: EntryState): void;

  // Skips the instruction that caused the current exit.
  abstract skipInstruction(): void;

  // Event injection: an exception (with error code if `hasError`) or an
  // external interrupt, delivered at the next entry.
  abstract injectException(vector: u8, hasError: bool, errorCode: u32): void;
  abstract injectInterrupt(vector: u8): void;
  // True if the guest can take an external interrupt now (IF=1, no interrupt shadow).
  abstract canInjectInterrupt(): bool;
  // Ask for an InterruptWindow exit as soon as the guest can take an interrupt.
  abstract requestInterruptWindow(on: bool): void;
  // Arms (ticks > 0) or disarms the preemption timer.
  abstract setPreemptionTimer(ticks: u64): void;
  // The guest's TSC becomes the host's plus `offset` (guesttsc.ts); false if
  // the backend cannot offset it.
  abstract setTscOffset(offset: u64): bool;

  // Backend name and a dump of its state for a stopped VM's report.
  abstract dumpState(): void;

  // The architectural part of a dump, the same on both backends; the
  // backend passes CS, which each keeps in its own format.
  protected dumpArchitecturalState(csSelector: u64, csBase: u64): void {
    print("  rip 0x"); printHex(this.rip, 16); print(" rsp 0x"); printHex(this.rsp, 16);
    print(" rflags 0x"); printHex(this.rflags, 8); print(" cs 0x"); printHex(csSelector, 4);
    print(" cs.base 0x"); printHex(csBase); println("");
    print("  cr0 0x"); printHex(this.cr0, 8); print(" cr3 0x"); printHex(this.cr3, 8);
    print(" cr4 0x"); printHex(this.cr4, 8); print(" efer 0x"); printHex(this.efer, 4); println("");
    for (let i = 0; i < 16; i++) {
      if (i == <i32>Reg.Rsp) continue;
      print("  "); print(REGISTER_NAMES[i]); print("=0x"); printHex(this.regs.get(<Reg>i), 16);
      if (i % 4 == 3) println("");
    }
    println("");
  }
}
