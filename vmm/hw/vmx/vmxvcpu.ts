// A vCPU on Intel VT-x: its VMCS, and the exit decoder.
//
// prepareEntry() sets up an entry through boot/vmx.S and takeExit() turns
// the VM exit into a backend-neutral Exit. A few exits are finished right
// here because they concern VMX's own invariants (control-register bits VMX
// owns, EFER and long-mode activation, the interrupt window) and never
// reach the generic handler. A VMCS is active on at most one CPU: load()
// makes it active and current on the CPU that runs the vCPU, release()
// (VMCLEAR) lets it go to another one (SDM 24.11.1); every method first
// makes it the current VMCS of its CPU, which switches between vCPUs. Intel SDM Vol. 3C
// chapters 24-28; exit qualifications in 27.2.1, event injection in 26.5.

import { IA32_EFER } from "../../../kernel/arch/msrs";
import { readDr, thisCpu, vmclear, vmread, writeDr } from "../../../kernel/arch/shim";
import {
  CR0_PE,
  DR6_BD,
  DR6_BREAKPOINTS,
  DR6_BS,
  DR6_CAUSES,
  DR7_ENABLES,
  DR7_GD,
  isFault,
  Reg,
  RFLAGS_FIXED,
  RFLAGS_IF,
  RFLAGS_RF,
  RFLAGS_TF,
  Seg,
  VECTOR_BP,
  VECTOR_DB,
  VECTOR_GP,
  VECTOR_NMI,
} from "../../../kernel/arch/x86";
import { print, printDec, printHex, println } from "../../../kernel/console/console";
import { PageTable } from "../../../kernel/mm/pagetable";
import { EntryBlock, FastExit } from "../../core/entryblock";
import { EntryState } from "../../core/entrystate";
import { Exit, ExitKind, REFLECTED_EXCEPTIONS } from "../../core/exit";
import { fetchModeOf, Vcpu } from "../../core/vcpu";
import { CpuidTable } from "../../emul/cpuidpolicy";
import { yieldsAtOnce } from "../../emul/hypercall";
import { VmxBitmaps } from "./bitmaps";
import * as C from "./controls";
import { flushVpid, releaseVpid, VmxCpu } from "./cpu";
import { eptPointer, flushEpt } from "./ept";
import { VmxFeatures } from "./features";
import * as F from "./fields";
import {
  codeBits,
  guestCr0,
  guestCr4,
  inLongMode,
  loadPdptes,
  resetToRealMode,
  setEntryState,
  writeCr0,
  writeEfer,
} from "./guestmode";
import { freePage } from "../../../kernel/mm/linearpages";
import { MsrLists } from "./msrlists";
import { firstFailedWrite, Vmcs, write, writeControls, writeHostState } from "./vmcs";

export class VmxVcpu extends Vcpu {
  private readonly vmcs: Vmcs;
  private readonly msrLists: MsrLists = new MsrLists();
  // The CPUID answers the fast path gives (emul/cpuidpolicy.ts).
  private readonly cpuid: CpuidTable = new CpuidTable();
  // How the last VMLAUNCH/VMRESUME failed: 0 (it did not), 1 VMfailInvalid, 2 VMfailValid.
  private failure: u32 = 0;
  // A debugger's step is under way: RFLAGS.TF is the VMM's (stepOnce()).
  private stepping: bool = false;

  private readonly eptp: u64;
  // The CPU whose active VMCS this is, and its number; -1 while clear.
  private cpu: VmxCpu;
  private activeOn: i32;

  // Made on the CPU that creates it, where its VMCS starts out active.
  constructor(
    private cpus: VmxCpu[],
    private features: VmxFeatures,
    bitmaps: VmxBitmaps,
    private nested: PageTable,
    private vpid: u16,
  ) {
    super(true); // the VMCS holds DR7 only
    const here = thisCpu();
    this.cpu = cpus[here];
    this.activeOn = <i32>here;
    this.vmcs = new Vmcs(features.revision);
    this.cpu.use(this.vmcs.phys);
    this.eptp = eptPointer(nested.rootPhys, features);
    writeControls(features, bitmaps, this.eptp, vpid);
    writeHostState();
    this.msrLists.install();
    flushEpt(this.eptp, features);
    flushVpid(features, vpid);
    // Clear, so that any CPU may load it first.
    this.release();
  }

  @inline
  private use(): void {
    this.cpu.use(this.vmcs.phys);
  }

  boundCpu(): i32 {
    return this.activeOn;
  }

  canInspectOn(cpu: u32): bool {
    return super.canInspectOn(cpu) && this.canLoadOn(cpu);
  }

  // On a CPU new to the VMCS, the host state is that CPU's (its TSS), and
  // the translations this vCPU left there, cached by VPID and EPTP, may be
  // stale (SDM 28.3.3.4): flushed. The VMCS was cleared, so the next
  // entry is a VMLAUNCH.
  load(cpu: u32): void {
    if (this.activeOn != <i32>cpu) {
      this.activeOn = <i32>cpu;
      this.cpu = this.cpus[cpu];
      this.use();
      writeHostState();
    } else {
      this.use();
    }
    if (this.runState.lastCpu != <i32>cpu) {
      flushEpt(this.eptp, this.features);
      flushVpid(this.features, this.vpid);
    }
  }

  // VMCLEAR writes the VMCS back to memory and leaves it clear, so that
  // another CPU may make it current (SDM 24.11.1, 30.3 "VMCLEAR").
  release(): void {
    if (this.activeOn < 0) return;
    vmclear(this.vmcs.phys);
    this.cpu.forget(this.vmcs.phys);
    this.vmcs.launched = false;
    this.activeOn = -1;
  }

  // The VMCS (cleared: release() ran on its CPU), the MSR lists and the
  // VPID. A vCPU that gets the VPID or the EPT root's page later flushes
  // what they tag on every CPU it arrives on (load()).
  dispose(): void {
    super.dispose();
    this.cpuid.free();
    freePage(this.vmcs.region);
    this.msrLists.free();
    releaseVpid(this.vpid);
  }

  // INVEPT of its EPTP: every translation derived from these EPT tables,
  // whatever the VPID, on this CPU (SDM 28.4.3.1, 30.3 "INVEPT").
  flushNestedTlb(): void {
    flushEpt(this.eptp, this.features);
  }

  prepareEntry(e: EntryBlock): void {
    this.use();
    e.enterVmx(this.vmcs.launched, this.regs.base, changetype<usize>(this));
  }

  // The handler may have made another vCPU's VMCS current on this CPU.
  resumeInPlace(): void {
    this.use();
  }

  takeExit(e: EntryBlock): Exit | null {
    const status = e.vmxStatus;
    if (status != 0) return this.entryFailed(status);
    return this.decode() ? this.exit : null;
  }

  // Called by boot/vmx.S after every VM exit, before anything else looks at
  // it: whether the exit is finished and the guest may run on, or goes to
  // the lane or the long way. Finished here: a CPUID whose leaf the table
  // holds, an IN or OUT to a quiet port, a yield that returns at once. A
  // quick port access and a store the memo may replay take a function of
  // their own (fastQuickIo(), fastStore(); linker/shim.c), which may call out.
  @inline
  fastExit(): FastExit {
    this.exits++;
    const reason = <u32>vmread(F.EXIT_REASON);
    // A debugger's step ends at this exit (decode()). A guest's own step is
    // a pending debug exception, which skipInstruction() leaves in the VMCS
    // on the lane as on the long way.
    if (this.stepping) return FastExit.LongWay;
    if (reason == C.EXIT_IO) return this.firstIo();
    if (reason == C.EXIT_EPT_VIOLATION) return FastExit.Store;
    const regs = this.regs;
    if (reason == C.EXIT_VMCALL) {
      const yields = this.cpl == 0 && yieldsAtOnce(this, regs.address(Reg.Rax), this.longMode);
      return yields ? this.completed(<u32>vmread(F.EXIT_INSTRUCTION_LENGTH)) : FastExit.Lane;
    }
    if (reason != C.EXIT_CPUID) return FastExit.LongWay;
    if (!this.cpuid.answer(<u32>regs.get(Reg.Rax), regs.base, regs.base)) return FastExit.Lane;
    return this.completed(<u32>vmread(F.EXIT_INSTRUCTION_LENGTH));
  }

  // After fastExit()'s QuickIo: the IN or OUT as a quick access to its
  // device (core/fastports.ts), or the lane's.
  @inline
  fastQuickIo(): FastExit {
    const q = <u32>vmread(F.EXIT_QUALIFICATION), rax = this.regs.address(Reg.Rax);
    const quick = this.fastPorts.quickAccess(q >> C.IO_PORT_SHIFT, ioSize(q), (q & C.IO_IN) != 0, rax);
    return quick ? this.completed(<u32>vmread(F.EXIT_INSTRUCTION_LENGTH)) : FastExit.Lane;
  }

  // After fastExit()'s Store: the EPT violation's store replayed from the
  // vCPU's StoreMemo, or the long way. The VMCS gives no instruction length
  // for an EPT violation (SDM Vol. 3C "Information for VM Exits Due to
  // Instruction Execution"): the memo's.
  @inline
  fastStore(): FastExit {
    return this.replaysStore() ? this.completed(this.storeMemo.length) : FastExit.LongWay;
  }

  // The fast path finished the instruction, `length` bytes long.
  @inline
  private completed(length: u32): FastExit {
    this.vmcs.launched = true;
    this.exit.instructionLength = length;
    this.advanceRip();
    return FastExit.Done;
  }

  // An EPT violation of a write that the vCPU's StoreMemo recognises and
  // its local APIC takes quickly (core/storememo.ts), unless the exit
  // interrupted an event's delivery or unblocked NMIs by an IRET (SDM Vol.
  // 3C 28.2.1, Table 28-7: bit 1 a write, bit 12 the NMI unblocking).
  @inline
  private replaysStore(): bool {
    const q = <u32>vmread(F.EXIT_QUALIFICATION);
    if ((q & 2) == 0 || (q & C.NMI_UNBLOCKED_BY_IRET) != 0) return false;
    if ((<u32>vmread(F.IDT_VECTORING_INFO) & C.EVENT_VALID) != 0) return false;
    const cr3 = vmread(F.GUEST_CR3), csBase = vmread(F.GUEST_BASE + 2 * <u32>Seg.Cs);
    return this.storeMemo.matches(vmread(F.GUEST_RIP), cr3, currentFetchMode(), csBase)
      && this.storeMemo.storeToApic(this.regs, vmread(F.GUEST_PHYSICAL_ADDRESS));
  }

  // The I/O exit's IN or OUT in the first part: finished at a quiet port;
  // for the second part where the VM's FastPorts may do a quick access;
  // else the lane's, and a string instruction's or an armed breakpoint's.
  @inline
  private firstIo(): FastExit {
    const q = <u32>vmread(F.EXIT_QUALIFICATION);
    if ((q & (C.IO_STRING | C.IO_REP)) != 0 || (vmread(F.GUEST_DR7) & DR7_ENABLES) != 0) return FastExit.Lane;
    const port = q >> C.IO_PORT_SHIFT, isIn = (q & C.IO_IN) != 0, ports = this.fastPorts;
    if (ports.quietAccess(port, ioSize(q), isIn, this.regs.address(Reg.Rax))) {
      return this.completed(<u32>vmread(F.EXIT_INSTRUCTION_LENGTH));
    }
    return ports.mayBeQuick(port, isIn) ? FastExit.QuickIo : FastExit.Lane;
  }

  // Fills `exit`; returns false for exits finished here.
  private decode(): bool {
    const exit = this.exit;
    const reason = <u32>vmread(F.EXIT_REASON), basic = reason & 0xffff;
    exit.code = basic;
    exit.rip = vmread(F.GUEST_RIP);
    exit.qualification = vmread(F.EXIT_QUALIFICATION);
    exit.instructionLength = 0;
    exit.kind = ExitKind.Unhandled;
    // Entry failed while loading guest state or MSRs: nothing ran (26.7).
    if (reason & C.EXIT_ENTRY_FAILURE) {
      exit.kind = ExitKind.InvalidState;
      return true;
    }
    this.vmcs.launched = true;
    this.redeliverInterruptedEvent();
    if (this.stepping && this.endStep(basic, exit.qualification)) {
      exit.kind = ExitKind.DebugStep;
    } else if (basic == C.EXIT_EXCEPTION_OR_NMI && this.isBreakpoint()) {
      this.instruction(ExitKind.Breakpoint);
    } else if (basic == C.EXIT_IO) {
      const q = <u32>exit.qualification;
      this.instruction(ExitKind.Io);
      exit.port = <u16>(q >> C.IO_PORT_SHIFT);
      exit.size = ioSize(q);
      exit.isWrite = (q & C.IO_IN) == 0;
      exit.isString = (q & C.IO_STRING) != 0;
      exit.breakpointsArmed = (vmread(F.GUEST_DR7) & DR7_ENABLES) != 0;
    } else if (basic == C.EXIT_CPUID) {
      this.instruction(ExitKind.Cpuid);
    } else if (basic == C.EXIT_HLT) {
      this.instruction(ExitKind.Hlt);
    } else if (basic == C.EXIT_RDMSR || basic == C.EXIT_WRMSR) {
      this.instruction(basic == C.EXIT_WRMSR ? ExitKind.MsrWrite : ExitKind.MsrRead);
      exit.msr = <u32>this.regs.get(Reg.Rcx);
      exit.value = this.regs.edxEax();
      if (exit.msr == IA32_EFER) {
        this.msrEfer();
        return false;
      }
    } else if (basic == C.EXIT_VMCALL) {
      this.instruction(ExitKind.Hypercall);
      exit.cpl = this.cpl;
      exit.longMode = this.longMode;
    } else if (basic == C.EXIT_CR_ACCESS) {
      this.instruction(ExitKind.CrAccess);
      if (this.moveToCr()) return false;
    } else if (basic == C.EXIT_XSETBV) {
      this.instruction(ExitKind.Xsetbv);
    } else if (basic == C.EXIT_MONITOR || basic == C.EXIT_MWAIT) {
      this.instruction(ExitKind.MonitorMwait);
    } else if (basic == C.EXIT_RDPMC) {
      this.instruction(ExitKind.Rdpmc);
    } else if (
      (basic >= C.EXIT_VMCLEAR && basic <= C.EXIT_VMXON) || basic == C.EXIT_INVEPT || basic == C.EXIT_INVVPID
    ) {
      this.instruction(ExitKind.VirtualizationInstruction);
    } else if (basic == C.EXIT_EPT_VIOLATION) {
      // Bit 1 of the qualification: the access was a write (Table 28-7).
      // VT-x does not fetch the instruction for us.
      exit.kind = ExitKind.Mmio;
      exit.gpa = vmread(F.GUEST_PHYSICAL_ADDRESS);
      exit.isWrite = (exit.qualification & 2) != 0;
      exit.fetchedBytes = 0;
      this.blockNmisAgainIf(<u32>exit.qualification);
    } else if (basic == C.EXIT_EPT_MISCONFIG) {
      // Our EPT entry is malformed: a hypervisor bug, reported with the address (28.2.3.1).
      exit.qualification = vmread(F.GUEST_PHYSICAL_ADDRESS);
    } else if (basic == C.EXIT_INTERRUPT_WINDOW) {
      this.requestInterruptWindow(false);
      exit.kind = ExitKind.InterruptWindow;
    } else if (basic == C.EXIT_NMI_WINDOW) {
      this.nmiWindow(false);
      exit.kind = ExitKind.NmiWindow;
    } else if (basic == C.EXIT_EXCEPTION_OR_NMI && this.reflectException()) {
      const vector = <u8>vmread(F.EXIT_INTERRUPTION_INFO);
      if (!this.exceptionLoops(vector)) return false;
      exit.kind = ExitKind.ExceptionLoop;
      exit.vector = vector;
    } else if (basic == C.EXIT_EXTERNAL_INTERRUPT || basic == C.EXIT_EXCEPTION_OR_NMI) {
      exit.kind = ExitKind.ExternalInterrupt; // reason 0 and no exception: an NMI
    } else if (basic == C.EXIT_PREEMPTION_TIMER) {
      this.setPreemptionTimer(0); // one-shot: at 0 it would fire again at once
      exit.kind = ExitKind.PreemptionTimer;
    } else if (basic == C.EXIT_TRIPLE_FAULT) {
      exit.kind = ExitKind.TripleFault;
    } else if (basic == C.EXIT_INIT) {
      exit.kind = ExitKind.Init;
    }
    return true;
  }

  // An exit caused by an instruction: its length is valid (27.2.4).
  @inline
  private instruction(kind: ExitKind): void {
    this.exit.kind = kind;
    this.exit.instructionLength = <u32>vmread(F.EXIT_INSTRUCTION_LENGTH);
  }

  // An event whose delivery the exit interrupted (an interrupt we injected
  // whose handler's page is not mapped yet, say) must be delivered again at
  // the next entry (SDM 27.2.3 "Information for VM Exits During Event Delivery").
  private redeliverInterruptedEvent(): void {
    const info = <u32>vmread(F.IDT_VECTORING_INFO);
    if ((info & C.EVENT_VALID) != 0) this.injectAgain(info, F.IDT_VECTORING_ERROR_CODE);
  }

  // Any exit ends a debugger's step, and takes the VMM's TF away before
  // anything emulates an instruction with it. True if the exit is the
  // step's own trap: a #DB whose causes (the qualification, 27.2.1) are the
  // single step alone. A #DB exit leaves the guest's DR6 as it was.
  private endStep(basic: u32, causes: u64): bool {
    this.stepping = false;
    write(F.GUEST_RFLAGS, vmread(F.GUEST_RFLAGS) & ~RFLAGS_TF);
    if (basic != C.EXIT_EXCEPTION_OR_NMI) return false;
    const info = <u32>vmread(F.EXIT_INTERRUPTION_INFO);
    return (info & C.EVENT_TYPE_MASK) == C.EVENT_TYPE_HARDWARE_EXCEPTION && <u8>info == VECTOR_DB
      && (causes & DR6_CAUSES) == DR6_BS;
  }

  // An INT3 the exception bitmap intercepted (interceptBreakpoints()): a
  // software exception, vector 3 (27.2.2).
  private isBreakpoint(): bool {
    const info = <u32>vmread(F.EXIT_INTERRUPTION_INFO);
    return (info & C.EVENT_TYPE_MASK) == C.EVENT_TYPE_SOFTWARE_EXCEPTION && <u8>info == VECTOR_BP;
  }

  // An exception of REFLECTED_EXCEPTIONS (core/exit.ts), given back to the
  // guest as the CPU would have delivered it; but if the exit interrupted
  // the delivery of another event, that one goes again instead (above).
  // False for an NMI, the other cause of exit reason 0.
  private reflectException(): bool {
    const info = <u32>vmread(F.EXIT_INTERRUPTION_INFO);
    if ((info & C.EVENT_TYPE_MASK) == C.EVENT_TYPE_NMI) return false;
    if ((<u32>vmread(F.IDT_VECTORING_INFO) & C.EVENT_VALID) != 0) return true;
    this.blockNmisAgainIf(info);
    if (<u8>info == VECTOR_DB) {
      // A #DB exit leaves DR6 and DR7 alone and puts the causes in the
      // qualification (SDM Vol. 3C "Architectural State Before a VM Exit").
      const causes = this.exit.qualification & DR6_CAUSES;
      writeDr(6, (readDr(6) & ~DR6_CAUSES) | causes);
      if (causes & DR6_BD) write(F.GUEST_DR7, vmread(F.GUEST_DR7) & ~DR7_GD);
      // Nor does it note a single step still pending under STI or MOV SS
      // blocking, which VM entry then insists on (SDM Vol. 3C "Checks on
      // Guest Non-Register State").
      const blocked = (<u32>vmread(F.GUEST_INTERRUPTIBILITY) & C.BLOCKING_STI_OR_MOV_SS) != 0;
      if (blocked && (vmread(F.GUEST_RFLAGS) & RFLAGS_TF) != 0) {
        write(F.GUEST_PENDING_DEBUG, vmread(F.GUEST_PENDING_DEBUG) | DR6_BS);
      }
    }
    this.injectAgain(info, F.EXIT_INTERRUPTION_ERROR_CODE);
    return true;
  }

  // `info` (an exception's interruption information or an EPT violation's
  // qualification) says the exit came in an IRET that had unblocked NMIs:
  // the IRET runs again, and until it completes NMIs stay blocked (27.2.3).
  // Exits during event delivery never say so.
  private blockNmisAgainIf(info: u32): void {
    if ((info & C.NMI_UNBLOCKED_BY_IRET) == 0 || (<u32>vmread(F.IDT_VECTORING_INFO) & C.EVENT_VALID) != 0) return;
    write(F.GUEST_INTERRUPTIBILITY, <u32>vmread(F.GUEST_INTERRUPTIBILITY) | C.BLOCKING_NMI);
  }

  // The next entry delivers the event `info` describes (an interruption-
  // information field, SDM 24.9.2-24.9.3), its error code from `errorCodeField`.
  private injectAgain(info: u32, errorCodeField: u32): void {
    write(F.ENTRY_INTERRUPTION_INFO, info & C.EVENT_REINJECT_MASK);
    if (info & C.EVENT_ERROR_CODE) write(F.ENTRY_EXCEPTION_ERROR_CODE, vmread(errorCodeField));
    // Software interrupts and exceptions (types 4-6, ICEBP's #DB among them)
    // need their instruction's length.
    const type = info & C.EVENT_TYPE_MASK;
    if (type >= (4 << 8) && type <= (6 << 8)) write(F.ENTRY_INSTRUCTION_LENGTH, vmread(F.EXIT_INSTRUCTION_LENGTH));
    if (type == C.EVENT_TYPE_HARDWARE_EXCEPTION && isFault(<u8>info)) {
      write(F.GUEST_RFLAGS, vmread(F.GUEST_RFLAGS) | RFLAGS_RF);
    }
  }

  // MOV to CR0 or CR4 that touched a bit we own (guestmode.ts), and MOV to
  // or from CR8; CLTS and LMSW go to the generic handler. True if finished here.
  private moveToCr(): bool {
    const q = this.exit.qualification; // CR number, access type, register (Table 27-3)
    const cr = <u32>q & 15, type = (<u32>q >> 4) & 3;
    if (cr == 8 && type <= 1) return this.moveCr8(type == 0, <Reg>((q >> 8) & 15));
    if (type != 0 || (cr != 0 && cr != 4)) return false;
    // The CR4 bits we own are VMX's, which the guest may not set.
    if (cr == 4) {
      this.injectException(VECTOR_GP, true, 0);
      return true;
    }
    const r = <i32>(q >> 8) & 15;
    let value = this.gpr(<Reg>r);
    if (!inLongMode()) value &= 0xffff_ffff;
    if (!writeCr0(this.features, this.nested, value)) {
      this.injectException(VECTOR_GP, true, 0);
      return true;
    }
    // A new paging mode: fresh PDPTEs if PAE, and no stale translations.
    loadPdptes(this.features, this.nested);
    flushVpid(this.features, this.vpid);
    this.skipInstruction();
    return true;
  }

  // CR8 is the local APIC's task-priority register: without a TPR shadow
  // every access exits, and the generic handler takes it to the APIC.
  private moveCr8(toCr8: bool, r: Reg): bool {
    this.exit.kind = ExitKind.TaskPriority;
    this.exit.isWrite = toCr8;
    this.exit.register = <i32>r;
    return false;
  }

  // RDMSR/WRMSR of EFER, which lives in the VMCS.
  private msrEfer(): void {
    const exit = this.exit;
    if (exit.kind == ExitKind.MsrRead) {
      this.regs.setEdxEax(vmread(F.GUEST_EFER));
    } else if (!writeEfer(this.features, exit.value)) {
      this.injectException(VECTOR_GP, true, 0);
      return;
    }
    this.skipInstruction();
  }

  private entryFailed(status: u32): Exit {
    const exit = this.exit;
    this.failure = status;
    exit.kind = ExitKind.InvalidState;
    exit.code = status == 2 ? vmread(F.VM_INSTRUCTION_ERROR) : 0;
    exit.qualification = status;
    return exit;
  }

  get rip(): u64 {
    this.use();
    return vmread(F.GUEST_RIP);
  }
  set rip(v: u64) {
    this.use();
    write(F.GUEST_RIP, v);
  }
  get rsp(): u64 {
    this.use();
    return vmread(F.GUEST_RSP);
  }
  set rsp(v: u64) {
    this.use();
    write(F.GUEST_RSP, v);
  }
  get rflags(): u64 {
    this.use();
    return vmread(F.GUEST_RFLAGS);
  }
  set rflags(v: u64) {
    this.use();
    write(F.GUEST_RFLAGS, v | RFLAGS_FIXED);
  }
  get cr0(): u64 {
    this.use();
    return guestCr0(this.features);
  }
  get cr3(): u64 {
    this.use();
    return vmread(F.GUEST_CR3);
  }
  set cr2(v: u64) {
    this.regs.cr2 = v;
  }
  get cr4(): u64 {
    this.use();
    return guestCr4(this.features);
  }
  get efer(): u64 {
    this.use();
    return vmread(F.GUEST_EFER);
  }
  // The CPL is SS.DPL (SDM Vol. 3C, "Checks on Guest Segment Registers":
  // 0 in real mode, 3 in virtual-8086 mode).
  get cpl(): u32 {
    this.use();
    return (<u32>vmread(F.GUEST_ACCESS_RIGHTS + 2 * <u32>Seg.Ss) >> 5) & 3;
  }
  get longMode(): bool {
    this.use();
    return inLongMode();
  }
  segmentBase(seg: Seg): u64 {
    this.use();
    return vmread(F.GUEST_BASE + 2 * <u32>seg);
  }
  segmentSelector(seg: Seg): u16 {
    this.use();
    return <u16>vmread(F.GUEST_SELECTOR + 2 * <u32>seg);
  }
  get codeBits(): u32 {
    this.use();
    return codeBits(this.features);
  }
  get fetchMode(): u64 {
    this.use();
    return currentFetchMode();
  }

  resetToRealMode(segment: u16, offset: u16): void {
    this.use();
    resetToRealMode(this.features, segment, offset);
    this.regs.cr2 = 0;
  }

  protected setEntryState(s: EntryState): void {
    this.use();
    setEntryState(this.features, s, this.nested);
    flushVpid(this.features, this.vpid);
  }

  skipInstruction(): void {
    this.use();
    this.advanceRip();
  }

  // Inlined into the fast path, which already made the VMCS current.
  @inline
  private advanceRip(): void {
    write(F.GUEST_RIP, vmread(F.GUEST_RIP) + <u64>this.exit.instructionLength);
    // A completed instruction ends the STI / MOV SS interrupt shadow it sat in (SDM Vol. 2B
    // "STI", Vol. 3A 6.8.3 "Masking Exceptions and Interrupts When Switching Stacks").
    const blocking = <u32>vmread(F.GUEST_INTERRUPTIBILITY);
    if (blocking & C.BLOCKING_STI_OR_MOV_SS) write(F.GUEST_INTERRUPTIBILITY, blocking & ~C.BLOCKING_STI_OR_MOV_SS);
    // With TF set the CPU would take a single-step #DB after the instruction.
    if ((vmread(F.GUEST_RFLAGS) & RFLAGS_TF) != 0) this.pendDebugTrap(DR6_BS);
  }

  get dr7(): u64 {
    this.use();
    return vmread(F.GUEST_DR7);
  }

  interceptBreakpoints(on: bool): void {
    this.use();
    write(F.EXCEPTION_BITMAP, REFLECTED_EXCEPTIONS | (on ? 1 << VECTOR_BP : 0));
  }

  // Injected as the software exception it was, with the INT3's length:
  // the CPU saves the RIP after it (26.6.1). (Only INT3 exits here.)
  reflectBreakpoint(vector: u8, length: u32): void {
    this.use();
    write(F.ENTRY_INTERRUPTION_INFO, <u32>vector | C.EVENT_TYPE_SOFTWARE_EXCEPTION | C.EVENT_VALID);
    write(F.ENTRY_INSTRUCTION_LENGTH, length);
  }

  // RFLAGS.TF with #DB intercepted (core/exit.ts), as AMD-V steps
  // (hw/svm/nmiwindow.ts): a #DB trap after the next instruction (SDM Vol.
  // 3B 18.3.1.4). (The monitor trap flag, 25.5.2, would hide the step from
  // the guest better, but under Bochs 2.7 its exit never came.) A guest
  // that single-steps itself already exits after the instruction.
  stepOnce(): bool {
    this.use();
    const rflags = vmread(F.GUEST_RFLAGS);
    if ((rflags & RFLAGS_TF) != 0) return true;
    write(F.GUEST_RFLAGS, rflags | RFLAGS_TF);
    // Under STI or MOV SS blocking, VM entry wants the step's trap noted as
    // pending (SDM Vol. 3C "Checks on Guest Non-Register State").
    if ((<u32>vmread(F.GUEST_INTERRUPTIBILITY) & C.BLOCKING_STI_OR_MOV_SS) != 0) {
      write(F.GUEST_PENDING_DEBUG, vmread(F.GUEST_PENDING_DEBUG) | DR6_BS);
    }
    this.stepping = true;
    return true;
  }

  // The pending debug exceptions field makes VM entry deliver the #DB,
  // DR6 updated (SDM Vol. 3C 24.4.2 Table 24-4, 26.6.3); bit 12 says an
  // enabled breakpoint was met.
  pendDebugTrap(causes: u64): void {
    this.use();
    const enabledBreakpoint: u64 = (causes & DR6_BREAKPOINTS) != 0 ? C.PENDING_ENABLED_BREAKPOINT : 0;
    write(F.GUEST_PENDING_DEBUG, vmread(F.GUEST_PENDING_DEBUG) | causes | enabledBreakpoint);
  }

  injectException(vector: u8, hasError: bool, errorCode: u32): void {
    this.use();
    // Under unrestricted guest, real mode delivers no error code, and VM
    // entry fails if we ask for one (26.2.1.3).
    const withError = hasError && (vmread(F.GUEST_CR0) & CR0_PE) != 0;
    if (isFault(vector)) write(F.GUEST_RFLAGS, vmread(F.GUEST_RFLAGS) | RFLAGS_RF);
    write(
      F.ENTRY_INTERRUPTION_INFO,
      <u32>vector | C.EVENT_TYPE_HARDWARE_EXCEPTION | C.EVENT_VALID | (withError ? C.EVENT_ERROR_CODE : 0),
    );
    if (withError) write(F.ENTRY_EXCEPTION_ERROR_CODE, errorCode);
  }

  injectInterrupt(vector: u8): void {
    this.use();
    write(F.ENTRY_INTERRUPTION_INFO, <u32>vector | C.EVENT_TYPE_EXTERNAL | C.EVENT_VALID);
  }

  // VM entry sets virtual-NMI blocking as it delivers the NMI, and the
  // guest's IRET clears it (26.6.1.2, 25.3).
  injectNmi(): void {
    this.use();
    write(F.ENTRY_INTERRUPTION_INFO, <u32>VECTOR_NMI | C.EVENT_TYPE_NMI | C.EVENT_VALID);
  }

  get nmisBlocked(): bool {
    this.use();
    return (<u32>vmread(F.GUEST_INTERRUPTIBILITY) & C.BLOCKING_NMI) != 0;
  }

  // VM entry refuses an NMI under MOV SS blocking or virtual-NMI blocking,
  // and some processors under STI blocking too (26.3.1.5): all three must be
  // clear. A pending debug trap or another event goes first, as for an
  // interrupt.
  canInjectNmi(): bool {
    this.use();
    return (<u32>vmread(F.GUEST_INTERRUPTIBILITY) & (C.BLOCKING_STI_OR_MOV_SS | C.BLOCKING_NMI)) == 0
      && (vmread(F.GUEST_PENDING_DEBUG) & (DR6_BREAKPOINTS | DR6_BS)) == 0
      && (<u32>vmread(F.ENTRY_INTERRUPTION_INFO) & C.EVENT_VALID) == 0;
  }

  // NMI-window exiting: an exit before the first instruction at which no
  // virtual-NMI, MOV SS or STI blocking holds (25.2), after any event the
  // entry delivers.
  requestNmiWindow(): void {
    this.use();
    this.nmiWindow(true);
  }

  private nmiWindow(on: bool): void {
    const proc = <u32>vmread(F.PROC_CONTROLS);
    write(F.PROC_CONTROLS, on ? proc | C.PROC_NMI_WINDOW : proc & ~C.PROC_NMI_WINDOW);
  }

  // VM entry refuses an external interrupt unless IF=1 and no STI/MOV SS
  // shadow (26.3.1.5). A pending single-step trap goes first, as it would
  // on the CPU (Vol. 3A Table 6-2), and an injected event would lose it.
  canInjectInterrupt(): bool {
    this.use();
    return (vmread(F.GUEST_RFLAGS) & RFLAGS_IF) != 0
      && (<u32>vmread(F.GUEST_INTERRUPTIBILITY) & C.BLOCKING_STI_OR_MOV_SS) == 0
      && (vmread(F.GUEST_PENDING_DEBUG) & (DR6_BREAKPOINTS | DR6_BS)) == 0
      && (<u32>vmread(F.ENTRY_INTERRUPTION_INFO) & C.EVENT_VALID) == 0;
  }

  // Interrupt-window exiting: an exit as soon as the guest can take an interrupt (25.2).
  requestInterruptWindow(on: bool): void {
    this.use();
    const proc = <u32>vmread(F.PROC_CONTROLS);
    write(F.PROC_CONTROLS, on ? proc | C.PROC_INTERRUPT_WINDOW : proc & ~C.PROC_INTERRUPT_WINDOW);
  }

  // The VMX-preemption timer counts down in the guest once every 2^rate TSC
  // ticks and exits at zero (25.5.1). Where the CPU can save its value at
  // each exit, it measures guest time across exits; otherwise every entry
  // restarts it. It cannot be saved unless active (26.2.1.2), so both switch together.
  setPreemptionTimer(ticks: u64): void {
    const f = this.features;
    if (!f.preemptionTimer) return;
    this.use();
    const save = f.savesPreemptionTimer ? C.EXIT_SAVE_PREEMPTION_TIMER : 0;
    const pin = <u32>vmread(F.PIN_CONTROLS), exit = <u32>vmread(F.EXIT_CONTROLS);
    if (ticks == 0) {
      write(F.PIN_CONTROLS, pin & ~C.PIN_PREEMPTION_TIMER);
      write(F.EXIT_CONTROLS, exit & ~save);
      return;
    }
    write(F.PREEMPTION_TIMER_VALUE, min<u64>(ticks >> f.preemptionTimerRate, 0xffff_ffff));
    write(F.PIN_CONTROLS, pin | C.PIN_PREEMPTION_TIMER);
    write(F.EXIT_CONTROLS, exit | save);
  }

  // With "use TSC offsetting", RDTSC, RDTSCP and RDMSR of
  // IA32_TIME_STAMP_COUNTER return the TSC plus this field (SDM Vol. 3C,
  // "VMX Non-Root Operation", instructions that cause VM exits conditionally).
  protected setTscOffset(offset: u64): bool {
    if (!(this.features.proc & C.PROC_TSC_OFFSETTING)) return false;
    this.use();
    write(F.TSC_OFFSET, offset);
    return true;
  }

  dumpState(): void {
    if (this.activeOn < 0) this.load(thisCpu());
    this.use();
    print("  vmx exit reason 0x");
    printHex(vmread(F.EXIT_REASON));
    print(" qualification 0x");
    printHex(vmread(F.EXIT_QUALIFICATION));
    print(" guest-physical 0x");
    printHex(vmread(F.GUEST_PHYSICAL_ADDRESS));
    println("");
    if (this.failure == 1) println("  VMLAUNCH/VMRESUME failed: VMfailInvalid (no current VMCS)");
    if (this.failure == 2) {
      const error = <u32>vmread(F.VM_INSTRUCTION_ERROR);
      print("  VMLAUNCH/VMRESUME failed: VM-instruction error ");
      printDec(error);
      print(" (");
      print(C.entryErrorName(error));
      println(")");
    }
    if (firstFailedWrite >= 0) {
      print("  a VMWRITE failed: field 0x");
      printHex(<u64>firstFailedWrite);
      println("");
    }
    this.dumpArchitecturalState(vmread(F.GUEST_SELECTOR + 2 * <u32>Seg.Cs), vmread(F.GUEST_BASE + 2 * <u32>Seg.Cs));
  }
}

// An I/O exit's access size, from its qualification (SDM Vol. 3C Table 28-5).
function ioSize(q: u32): u8 {
  return <u8>((q & C.IO_SIZE_MASK) + 1);
}

// Vcpu.fetchMode of the current VMCS's guest. The CPU's own CR0 and CR4,
// not the guest's view through the read shadows: they say how it fetched.
function currentFetchMode(): u64 {
  const cs = vmread(F.GUEST_ACCESS_RIGHTS + 2 * <u32>Seg.Cs);
  return fetchModeOf(vmread(F.GUEST_CR0), vmread(F.GUEST_CR4), vmread(F.GUEST_EFER), vmread(F.GUEST_RFLAGS), cs);
}

// The fast path's entry from boot/vmx.S, for the vCPU in the guest.
export function vmxFastExit(vcpu: VmxVcpu): FastExit {
  return vcpu.fastExit();
}
export function vmxFastQuickIo(vcpu: VmxVcpu): FastExit {
  return vcpu.fastQuickIo();
}
export function vmxFastStore(vcpu: VmxVcpu): FastExit {
  return vcpu.fastStore();
}
