// The backend-neutral virtual CPU: what the rest of the VMM sees of VT-x and AMD-V.
//
// A backend (hw/vmx, hw/svm) owns the hardware structure (VMCS, VMCB). A
// host CPU runs a vCPU in three steps: load() it once per slice, then for
// each entry prepareEntry() (what linker/shim.c's loop needs to enter) and,
// after the guest ran, takeExit(): the exit as one Exit record (exit.ts),
// which the generic handler (emul/exits.ts) acts on through the methods
// below without learning which backend is underneath. A Vcpu also owns the
// state its VMCS or VMCB does not hold (vcpustate/). Its general-purpose
// registers live in a GuestRegisters block in linear memory (registers.ts),
// saved and restored by the entry stubs in boot/.

import {
  CR0_PE,
  CR0_PG,
  CR4_LA57,
  CR4_PAE,
  CR4_PSE,
  EFER_LMA,
  RFLAGS_IF,
  RFLAGS_VM,
  Reg,
  REGISTER_NAMES,
  Seg,
  VECTOR_PF,
} from "../../kernel/arch/x86";
import { print, printHex, println } from "../../kernel/console/console";
import { vendor } from "../../kernel/cpu/cpuid";
import { DebugRegisters } from "../vcpustate/debugregs";
import { MsrState } from "../vcpustate/msrs";
import { GuestTsc } from "../vcpustate/tsc";
import { ExtendedState } from "../vcpustate/xstate";
import { query } from "../../kernel/cpu/cpuid";
import { EntryBlock } from "./entryblock";
import { EntryState } from "./entrystate";
import { Exit } from "./exit";
import { ExitLog } from "./exitlog";
import { FastPorts } from "./fastports";
import { GuestRegisters } from "./registers";
import { RunState } from "./runstate";
import { StoreMemo } from "./storememo";

// The default operand/address size of the code the guest runs (SDM Vol. 3A
// 3.4.5 "Segment Descriptors", the D and L flags; Vol. 1 3.6.1): 64 in
// 64-bit mode, 16 in real and virtual-8086 mode, else CS.D picks 32 or 16.
export function codeBitsOf(longMode: bool, protectedMode: bool, virtual8086: bool, csDefault32: bool): u32 {
  if (longMode) return 64;
  if (!protectedMode || virtual8086) return 16;
  return csDefault32 ? 32 : 16;
}

// What decides how the CPU fetches and decodes at RIP, in one word: the
// paging mode (CR0.PG, CR4.PAE, PSE and LA57, EFER.LMA) and the code size
// (CR0.PE, RFLAGS.VM, and CS's attributes, as the backend keeps them, in the
// upper half). The bits do not overlap.
export function fetchModeOf(cr0: u64, cr4: u64, efer: u64, rflags: u64, csAttributes: u64): u64 {
  return (cr0 & (CR0_PG | CR0_PE)) | (cr4 & (CR4_PAE | CR4_PSE | CR4_LA57)) | (efer & EFER_LMA) | (rflags & RFLAGS_VM)
    | (csAttributes << 32);
}

// How many times an exception may come back at one RIP before the vCPU
// counts as looping in its delivery (Vcpu.exceptionLoops()).
const EXCEPTION_LOOP_ROUNDS: u32 = 100_000;

// What a vCPU is doing between its slices (SDM Vol. 3A 9.4 for the start-up
// of application processors: they wait for INIT and STARTUP IPIs).
export const enum Activity {
  Runnable,
  Halted,
  WaitingForSipi,
}

export abstract class Vcpu {
  readonly regs: GuestRegisters = new GuestRegisters();
  readonly exit: Exit = new Exit();
  readonly xstate: ExtendedState = new ExtendedState();
  readonly tsc: GuestTsc = new GuestTsc();
  readonly debugRegisters: DebugRegisters;
  // The MSRs the VMM emulates (emul/msrpolicy.ts).
  readonly msrs: MsrState = new MsrState(vendor() == "AuthenticAMD");
  // Every exit, including those the backend finishes on its fast path
  // without leaving the guest's CPU loop (linker/shim.c).
  exits: u64 = 0;
  // Exits after which the backend repaired the RFLAGS the processor had
  // saved with reserved bits: an emulator's bug, reported when the VM stops.
  rflagsRepairs: u64 = 0;
  // Its VM's port I/O that its backend's fast path finishes (fastports.ts).
  fastPorts: FastPorts = new FastPorts();
  // Nobody else lives on the CPU it runs on, so a yield lets it go on;
  // set by the scheduler at every entry (emul/hypercall.ts yieldsAtOnce()).
  yieldGoesOn: bool = false;
  // The last MMIO store to its local APIC, which its backend's fast path
  // may recognise again (storememo.ts).
  readonly storeMemo: StoreMemo = new StoreMemo();
  activity: Activity = Activity.Runnable;
  // Its local APIC's ID: its index in the VM (CPUID reports it).
  apicId: u32 = 0;
  // A STARTUP IPI's vector, which the vCPU's own CPU applies before it
  // next enters the guest (startAt()), or -1.
  pendingStartup: i32 = -1;
  // The processor's NMI latch: an NMI came and is not delivered yet. One
  // more while it is set is lost (SDM Vol. 3A 6.7.1).
  nmiPending: bool = false;
  // Its machine was reset (Vm.restart()): its own CPU applies powerOn()
  // before it next enters.
  pendingPowerOn: bool = false;
  // A debugger holds it (vmm/debug): the scheduler does not run it, whatever its activity.
  heldByDebugger: bool = false;
  readonly runState: RunState = new RunState();
  readonly exitLog: ExitLog = new ExitLog();

  // `switchesDr6`: the backend's guest state does not hold DR6 (debugregs.ts).
  constructor(switchesDr6: bool) {
    this.debugRegisters = new DebugRegisters(switchesDr6);
  }

  // Makes the vCPU ready to run on host CPU `cpu`: done on that CPU when
  // a slice starts there.
  abstract load(cpu: u32): void;
  // The CPU it is bound to, which must release() it before another CPU
  // may load it (VT-x: the CPU its VMCS is active on); -1 if none.
  boundCpu(): i32 {
    return -1;
  }
  canLoadOn(cpu: u32): bool {
    const bound = this.boundCpu();
    return bound < 0 || bound == <i32>cpu;
  }
  // Unbinds it from the CPU it was loaded on, so that another may load it;
  // done on that CPU.
  release(): void {}
  // Gives back the pages the backend took for it: its VM is destroyed, and
  // it is bound to no CPU (release()).
  dispose(): void {
    this.xstate.free();
    this.regs.free();
  }
  // Whether `cpu` may read its state (dumpState()): it is not in a guest
  // on another CPU.
  canInspectOn(cpu: u32): bool {
    const on = this.runState.runningOn;
    return on < 0 || on == <i32>cpu;
  }
  // Fills `e` for the next entry into the guest.
  abstract prepareEntry(e: EntryBlock): void;
  // The guest runs on from an exit the lane finished (sched/scheduler.ts
  // cpuLane()), through the entry `e` already describes: what the handler
  // changed goes where the stub's re-entry takes it from.
  abstract resumeInPlace(): void;
  // Drops, on the CPU it is loaded on, the translations it cached from its
  // VM's nested page tables: they changed (Vm.nestedTablesChanged()).
  abstract flushNestedTlb(): void;
  // The generation of its VM's nested page tables it last flushed for.
  nestedSeen: u32 = 0;
  // After the run `e` describes: the exit for the generic handler, or null
  // when the backend finished it itself.
  abstract takeExit(e: EntryBlock): Exit | null;

  abstract get rip(): u64;
  abstract set rip(v: u64);
  abstract get rsp(): u64;
  abstract set rsp(v: u64);
  abstract get rflags(): u64;
  abstract set rflags(v: u64);
  abstract get cr0(): u64;
  abstract get cr3(): u64;
  abstract get cr4(): u64;
  abstract get efer(): u64;
  // The current privilege level, 0 (kernel) to 3 (user).
  abstract get cpl(): u32;
  // RFLAGS.IF: a halted CPU wakes for a maskable interrupt only with it set.
  get interruptsEnabled(): bool {
    return (this.rflags & RFLAGS_IF) != 0;
  }
  // Halted with interrupts enabled: what an interrupt (or a timer) would
  // wake; halted with IF=0, only an NMI or INIT would (SDM Vol. 2A "HLT").
  // RFLAGS cannot change while the vCPU halts, so IF is read once, by
  // halt(), on the vCPU's own CPU.
  get awaitsInterrupt(): bool {
    return this.activity == Activity.Halted && this.haltedWithInterrupts;
  }
  // Halted where an NMI would wake it: outside an NMI handler, whose
  // blocking keeps the NMI latched and the CPU halted (6.7.1).
  get awaitsNmi(): bool {
    return this.activity == Activity.Halted && !this.haltedWithNmisBlocked;
  }
  get isRunnable(): bool {
    return this.activity == Activity.Runnable;
  }
  private haltedWithInterrupts: bool = false;
  private haltedWithNmisBlocked: bool = false;

  halt(): void {
    this.haltedWithInterrupts = this.interruptsEnabled;
    this.haltedWithNmisBlocked = this.nmisBlocked;
    this.activity = Activity.Halted;
  }
  // True in 64-bit mode (EFER.LMA and CS.L): hypercall arguments are 64-bit.
  abstract get longMode(): bool;
  // The base of segment `seg` (ES to GS) as the guest's descriptor cache
  // holds it, whether or not the mode uses it (64-bit mode ignores all but
  // FS's and GS's, SDM Vol. 3A 3.4.4).
  abstract segmentBase(seg: Seg): u64;
  // The selector of segment `seg` (ES to GS).
  abstract segmentSelector(seg: Seg): u16;
  // The default operand and address size the guest executes with: 64 (long
  // mode), 32 (CS.D in protected mode) or 16.
  abstract get codeBits(): u32;
  // fetchModeOf() the vCPU's state.
  abstract get fetchMode(): u64;

  // Puts the vCPU in the architectural reset state, but starting at
  // CS:IP = `segment`:`offset` in real mode (SDM Vol. 3A 10.1.1, APM Vol. 2 14.1.3).
  abstract resetToRealMode(segment: u16, offset: u16): void;

  // Whether applyPending() has something to do: a reset or a STARTUP.
  get hasPending(): bool {
    return this.pendingPowerOn || this.pendingStartup >= 0;
  }

  // What a reset of its machine and STARTUP IPIs left for the vCPU's own
  // CPU, applied before it next enters. A reset: the power-up state, and
  // for the boot vCPU `boot`, the entry state of the kernel loaded again.
  // A STARTUP: the INIT state (SDM Vol. 3A 9.1.1 Table 9-1) but at CS =
  // vector << 8, base vector << 12, IP = 0; the general registers 0 but
  // EDX, the processor signature (9.1.4).
  applyPending(boot: EntryState | null): void {
    if (this.pendingPowerOn) {
      this.pendingPowerOn = false;
      this.powerOn();
      if (this.apicId == 0 && boot !== null) this.enterKernel(boot);
    }
    if (this.pendingStartup < 0) return;
    this.startAt(<u8>this.pendingStartup);
    this.pendingStartup = -1;
  }

  // Power-up (9.1.1): the reset state at F000:FFF0, the general and x87/SSE
  // registers, the MSRs the VMM keeps and XCR0 at their power-up values.
  // The TSC runs on (a reset sets it to 0; nothing relies on that), and
  // DR0-DR3 keep their values, which the reset DR7 disables.
  private powerOn(): void {
    this.regs.powerOn();
    this.resetAt(0xf000, 0xfff0);
    this.msrs.powerOn();
    this.msrs.loadTscAux();
    this.xstate.powerOn();
  }

  private startAt(vector: u8): void {
    this.resetAt(<u16>vector << 8, 0);
  }

  // The reset state (9.1.1) at `segment`:`offset` in real mode: the general
  // registers 0 but EDX, the processor signature (9.1.4).
  private resetAt(segment: u16, offset: u16): void {
    this.resetToRealMode(segment, offset);
    for (let r = 0; r < 16; r++) this.regs.set(<Reg>r, 0);
    this.regs.set(Reg.Rdx, query(1).eax);
  }

  // Puts the vCPU in the state a kernel loader asked for (setup/loaders/,
  // through setup/loaders/entrystate.ts): 32-bit protected or 64-bit
  // long mode with flat segments, the protocol's registers (EAX/EBX for
  // multiboot, RSI for Linux, EBX for PVH), every other general register 0.
  enterKernel(s: EntryState): void {
    for (let i = 0; i < 16; i++) this.regs.set(<Reg>i, 0);
    this.regs.set(Reg.Rax, s.rax);
    this.regs.set(Reg.Rbx, s.rbx);
    this.regs.set(Reg.Rsi, s.rsi);
    this.setEntryState(s);
  }

  // The backend's part of enterKernel(): segments with their hidden parts,
  // GDTR, CR0/CR3/CR4/EFER, RIP, RSP, RFLAGS, in its VMCB or VMCS.
  protected abstract setEntryState(s: EntryState): void;

  // Skips the instruction that caused the current exit, and raises the
  // single-step trap the CPU would take after it with RFLAGS.TF set.
  abstract skipInstruction(): void;

  // A general register by number; RSP lives in the VMCS or VMCB, the
  // others in the register block.
  gpr(r: Reg): u64 {
    return r == Reg.Rsp ? this.rsp : this.regs.get(r);
  }
  setGpr(r: Reg, v: u64): void {
    if (r == Reg.Rsp) this.rsp = v;
    else this.regs.set(r, v);
  }

  // For a debugger (vmm/debug). With `on`, an INT3 exits as ExitKind.Breakpoint
  // instead of raising #BP in the guest, RIP on the INT3 (on AMD-V an INT n
  // may exit so too, see hw/svm/svmvcpu.ts).
  abstract interceptBreakpoints(on: bool): void;
  // Gives the guest the INT3 (vector 3, 1 byte) or INT n (`length` 2) at
  // RIP that exited as a Breakpoint: its handler returns after the
  // instruction (SDM Vol. 3A 6.5, a trap saves the next RIP).
  abstract reflectBreakpoint(vector: u8, length: u32): void;
  // Lets one instruction run and exits after it: the next exit of any kind
  // ends the step, and is ExitKind.DebugStep if it is the trap after that
  // instruction. False if the CPU cannot.
  abstract stepOnce(): bool;

  // The guest's DR7 (in the VMCS or VMCB).
  abstract get dr7(): u64;
  // A #DB trap after the current instruction with DR6 causes `causes` (B0-B3,
  // BS), which the guest takes before its next instruction (SDM Vol. 3B
  // 18.3.1.2, 18.3.1.4), ahead of any external interrupt.
  abstract pendDebugTrap(causes: u64): void;

  // Called by the backend for each exception it gives back to the guest
  // (REFLECTED_EXCEPTIONS): true once the same one has come back at the
  // same RIP EXCEPTION_LOOP_ROUNDS times in a row, with no interrupt taken
  // in between. Then it is raised again while it is delivered, and no
  // instruction can complete; on hardware the CPU would hang for good. A
  // guest single-stepping or hitting a breakpoint moves RIP, or takes its
  // timer's interrupts, and never gets here.
  protected exceptionLoops(vector: u8): bool {
    const rip = this.rip;
    if (vector != this.loopVector || rip != this.loopRip) {
      this.loopVector = vector;
      this.loopRip = rip;
      this.loopRounds = 0;
    }
    return ++this.loopRounds >= EXCEPTION_LOOP_ROUNDS;
  }
  private loopVector: u8 = 0;
  private loopRip: u64 = 0;
  private loopRounds: u32 = 0;

  // The vCPU took an interrupt: whatever it was doing, it was not stuck.
  tookInterrupt(): void {
    this.loopRounds = 0;
  }

  // After the VMM completed the IN or OUT of `exit` for the guest, which no
  // CPU saw: the #DB trap of an enabled I/O breakpoint (DR7 L or G bit) that
  // it met. The backend noted while decoding whether any is armed
  // (Exit.breakpointsArmed): inlined, the common case costs a load.
  @inline
  noteIoBreakpoints(exit: Exit): void {
    if (exit.breakpointsArmed) this.trapOnIoBreakpoints(exit.port, exit.size);
  }

  private trapOnIoBreakpoints(port: u64, size: u8): void {
    const dr7 = this.dr7;
    const met = this.debugRegisters.ioBreakpointsMet(dr7, this.cr4, port, size);
    let enabled: u64 = 0;
    for (let i = 0; i < 4; i++) if (((dr7 >> (2 * i)) & 3) != 0) enabled |= <u64>1 << i;
    if ((met & enabled) != 0) this.pendDebugTrap(met);
  }

  // The guest's CR2: the VMCB's on AMD-V; on VT-x the register block's,
  // which boot/vmx.S loads before each entry.
  abstract set cr2(v: u64);

  // A page fault at `linear` with `errorCode` (SDM Vol. 3A 4.7), for an
  // access the VMM made for the guest: CR2 holds the address.
  injectPageFault(linear: u64, errorCode: u32): void {
    this.cr2 = linear;
    this.injectException(VECTOR_PF, true, errorCode);
  }

  // Event injection: an exception (with error code if `hasError`), an
  // external interrupt or an NMI, delivered at the next entry.
  abstract injectException(vector: u8, hasError: bool, errorCode: u32): void;
  abstract injectInterrupt(vector: u8): void;
  abstract injectNmi(): void;
  // Between an NMI's delivery and the next IRET the CPU blocks NMIs (SDM
  // Vol. 3A 6.7.1, APM Vol. 2 8.2.3); read on the vCPU's own CPU.
  abstract get nmisBlocked(): bool;
  // True if the guest can take an NMI now: none blocking, no STI or MOV SS
  // shadow, no other event on its way in.
  abstract canInjectNmi(): bool;
  // Ask for an exit as soon as the guest can take an NMI, once (cleared by
  // that exit, an NmiWindow, or by the next exit of any kind).
  abstract requestNmiWindow(): void;
  // True if the guest can take an external interrupt now (IF=1, no interrupt shadow).
  abstract canInjectInterrupt(): bool;
  // Ask for an InterruptWindow exit as soon as the guest can take an interrupt.
  abstract requestInterruptWindow(on: bool): void;
  // Arms (ticks > 0) or disarms the preemption timer.
  abstract setPreemptionTimer(ticks: u64): void;
  // The guest's TSC becomes the host's plus `offset`; false if the backend
  // cannot offset it.
  protected abstract setTscOffset(offset: u64): bool;

  // Moves the guest's TSC, and IA32_TSC_ADJUST with it, by `delta` (two's
  // complement; vcpustate/tsc.ts); false if the backend cannot.
  moveTsc(delta: u64): bool {
    if (!this.setTscOffset(this.tsc.offset + delta)) return false;
    this.tsc.moved(delta);
    return true;
  }

  // Backend name and a dump of its state for a stopped VM's report.
  abstract dumpState(): void;

  // The architectural part of a dump, the same on both backends; the
  // backend passes CS, which each keeps in its own format.
  protected dumpArchitecturalState(csSelector: u64, csBase: u64): void {
    print("  rip 0x");
    printHex(this.rip, 16);
    print(" rsp 0x");
    printHex(this.rsp, 16);
    print(" rflags 0x");
    printHex(this.rflags, 8);
    print(" cs 0x");
    printHex(csSelector, 4);
    print(" cs.base 0x");
    printHex(csBase);
    println("");
    print("  cr0 0x");
    printHex(this.cr0, 8);
    print(" cr3 0x");
    printHex(this.cr3, 8);
    print(" cr4 0x");
    printHex(this.cr4, 8);
    print(" efer 0x");
    printHex(this.efer, 4);
    println("");
    for (let i = 0; i < 16; i++) {
      if (i == <i32>Reg.Rsp) continue;
      print("  ");
      print(REGISTER_NAMES[i]);
      print("=0x");
      printHex(this.regs.get(<Reg>i), 16);
      if (i % 4 == 3) println("");
    }
    println("");
  }
}
