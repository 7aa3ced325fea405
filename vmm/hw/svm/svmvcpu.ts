// A vCPU on AMD-V: the VMCB, its permission maps, and the exit decoder.
//
// prepareEntry() sets up an entry through boot/svm.S on the CPU the vCPU is
// loaded on (its host VMCB, an ASID of that CPU), and takeExit() turns the
// #VMEXIT into a backend-neutral Exit. A few exits are finished right here
// because they concern SVM's own invariants (EFER.SVME must stay set while
// the guest runs; the virtual-interrupt trick behind the interrupt window;
// the NMI blocking it tracks, nmiwindow.ts) and never reach the generic
// handler. Works without NRIP save, decode assists and clean bits (QEMU TCG
// has none): instruction lengths are known per exit.
// AMD APM Vol. 2 chapter 15.

import { IA32_EFER, PAT_POWER_ON } from "../../../kernel/arch/msrs";
import {
  ATTR_DEFAULT_32,
  ATTR_LONG,
  RESET_CODE,
  RESET_DATA,
  RESET_LDT,
  TR_ATTRIBUTES,
} from "../../../kernel/arch/segments";
import {
  CR0_PE,
  CR0_PG,
  CR0_RESET,
  DR6_BD,
  DR6_BS,
  DR6_RESET,
  DR7_ENABLES,
  DR7_GD,
  DR7_RESET,
  EFER_FFXSR,
  EFER_LMA,
  EFER_LME,
  EFER_LMSLE,
  EFER_NXE,
  EFER_SCE,
  EFER_SVME,
  EFER_TCE,
  isFault,
  Reg,
  RFLAGS_FIXED,
  RFLAGS_IF,
  RFLAGS_RF,
  RFLAGS_TF,
  RFLAGS_VM,
  Seg,
  VECTOR_AC,
  VECTOR_BP,
  VECTOR_OF,
  VECTOR_DB,
  VECTOR_GP,
} from "../../../kernel/arch/x86";
import { print, println, printHex } from "../../../kernel/console/console";
import { allocPages, freePage, freePages, physOf } from "../../../kernel/mm/linearpages";
import { EntryState } from "../../core/entrystate";
import { REGS_ENTERED_RFLAGS_OFFSET } from "../../core/registers";
import { EntryBlock, FastExit } from "../../core/entryblock";
import { Exit, ExitKind, REFLECTED_EXCEPTIONS } from "../../core/exit";
import { codeBitsOf, fetchModeOf, Vcpu } from "../../core/vcpu";
import { CpuidTable } from "../../emul/cpuidpolicy";
import { yieldsAtOnce } from "../../emul/hypercall";
import { PASSTHROUGH, PASSTHROUGH_READ } from "../../emul/msrpolicy";
import { NmiWindow } from "./nmiwindow";
import { repairedRflags, rflagsCorrupted } from "./rflagsrepair";
import { SvmCpu, SvmFeatures } from "./svm";
import * as V from "./vmcb";

// The EFER bits a guest may set.
const EFER_WRITABLE: u64 = EFER_SCE | EFER_LME | EFER_NXE | EFER_LMSLE | EFER_FFXSR | EFER_TCE;
const TLB_FLUSH_ALL: u8 = 1;
const TLB_FLUSH_ASID: u8 = 3;
const PAUSE_FILTER: u16 = 3000;
const V_IRQ: u32 = 1 << 8;
const V_INTR_PRIO_SHIFT: u32 = 16;
const V_INTR_PRIO: u32 = 0xf << V_INTR_PRIO_SHIFT;
const V_IGN_TPR: u32 = 1 << 20;
const V_INTR_MASKING: u32 = 1 << 24;

// Instruction lengths for exits without NRIP save.
const LENGTH_CPUID: u32 = 2;
const LENGTH_HLT: u32 = 1;
const LENGTH_MSR: u32 = 2;
const LENGTH_RDPMC: u32 = 2;
const LENGTH_VMMCALL: u32 = 3;
const LENGTH_XSETBV: u32 = 3;

export class SvmVcpu extends Vcpu {
  readonly vmcb: V.Vmcb = new V.Vmcb();
  private readonly nmi: NmiWindow = new NmiWindow(this.vmcb);
  // The CPUID answers the fast path gives (emul/cpuidpolicy.ts).
  private readonly cpuid: CpuidTable = new CpuidTable();
  // I/O permission map: 12 KiB, one bit per port (APM 15.10.1); all set: every port exits.
  private readonly iopm: usize = allocPages(3);
  // MSR permission map: 8 KiB, two bits (read, write) per MSR (APM 15.11).
  private readonly msrpm: usize = allocPages(2);
  // The VMCB clean bits after a VMRUN: all, where the CPU has clean bits.
  private readonly cleanAfterRun: u32;
  // The CPU saves the next RIP at instruction intercepts (APM 15.7.1).
  private readonly nripSave: bool;

  // The CPU it is loaded on, and the ASID it has there (SvmCpu).
  private cpu: SvmCpu | null = null;
  private cpuIndex: i32 = -1;
  private asidGeneration: u32 = 0; // 0: none yet on this CPU

  constructor(private cpus: SvmCpu[], private features: SvmFeatures, nestedRoot: u64) {
    super(false); // the VMCB holds DR6
    this.cleanAfterRun = features.vmcbClean ? V.CLEAN_ALL : 0;
    this.nripSave = features.nripSave;
    memory.fill(this.iopm, 0xff, 3 * 4096);
    memory.fill(this.msrpm, 0xff, 2 * 4096);
    for (let i = 0; i < PASSTHROUGH.length; i++) this.allowMsr(PASSTHROUGH[i], true, true);
    for (let i = 0; i < PASSTHROUGH_READ.length; i++) this.allowMsr(PASSTHROUGH_READ[i], true, false);

    const vmcb = this.vmcb;
    // INIT too: unintercepted, it would reset the host's CPU (APM 15.13);
    // and INVLPGA, the SVM instruction that sits among these: it would drop
    // TLB entries of any ASID, other VMs' included (APM Vol. 3 "INVLPGA").
    // The two exceptions that could hold the CPU (core/exit.ts).
    vmcb.set32(V.INTERCEPT_EXCEPTIONS, REFLECTED_EXCEPTIONS);
    vmcb.set32(
      V.INTERCEPT_MISC1,
      V.INTERCEPT_INTR | V.INTERCEPT_NMI | V.INTERCEPT_INIT | V.INTERCEPT_RDPMC | V.INTERCEPT_CPUID | V.INTERCEPT_INVD
        | V.INTERCEPT_HLT | V.INTERCEPT_INVLPGA | V.INTERCEPT_IOIO | V.INTERCEPT_MSR | V.INTERCEPT_SHUTDOWN,
    );
    vmcb.set32(
      V.INTERCEPT_MISC2,
      V.INTERCEPT_SVM_INSTRUCTIONS | V.INTERCEPT_MONITOR | V.INTERCEPT_MWAIT | V.INTERCEPT_XSETBV,
    );
    // CR8 is the local APIC's TPR, which the VMM keeps (emul/taskpriority.ts).
    vmcb.set32(V.INTERCEPT_CR, V.INTERCEPT_CR8);
    vmcb.set64(V.IOPM_BASE, physOf(this.iopm));
    vmcb.set64(V.MSRPM_BASE, physOf(this.msrpm));
    vmcb.set32(V.VINTR, V_INTR_MASKING); // the guest's IF masks only virtual interrupts
    vmcb.set64(V.NP_ENABLE, 1);
    vmcb.set64(V.NESTED_CR3, nestedRoot);
    // A guest spinning on PAUSE (a contended lock) exits after PAUSE_FILTER
    // of them, so the scheduler can run someone else (APM 15.14.4).
    if (features.pauseFilter) {
      vmcb.set32(V.INTERCEPT_MISC1, vmcb.get32(V.INTERCEPT_MISC1) | V.INTERCEPT_PAUSE);
      store<u16>(vmcb.base + V.PAUSE_FILTER_COUNT, PAUSE_FILTER);
    }
    this.flushNestedTlb();
  }

  // Clears the intercept bits of `msr` in the MSR permission map.
  private allowMsr(msr: u32, read: bool, write: bool): void {
    let base: i64 = -1;
    if (msr <= 0x1fff) base = 0;
    else if (msr >= 0xc0000000 && msr <= 0xc0001fff) base = 0x800 * 8;
    else if (msr >= 0xc0010000 && msr <= 0xc0011fff) base = 0x1000 * 8;
    if (base < 0) return;
    const bit = <usize>base + <usize>(msr & 0x1fff) * 2;
    const at = this.msrpm + (bit >> 3);
    let byte = load<u8>(at);
    if (read) byte &= ~(<u8>1 << <u8>(bit & 7));
    if (write) byte &= ~(<u8>2 << <u8>(bit & 7));
    store<u8>(at, byte);
  }

  // A VMCB that last ran on another CPU is not in this one's cache: every
  // clean bit must be clear for its first VMRUN here (APM 15.15.3); and its
  // ASID was the other CPU's.
  load(cpu: u32): void {
    if (this.cpuIndex != <i32>cpu) {
      this.vmcb.set32(V.CLEAN_BITS, 0);
      this.asidGeneration = 0;
    }
    this.cpu = this.cpus[cpu];
    this.cpuIndex = <i32>cpu;
  }

  // The VMCB and the permission maps. A VMCB on the same page later starts
  // with no clean bit set, so no CPU uses what it cached of this one; the
  // ASIDs this vCPU had are not handed out again before a flush (SvmCpu).
  dispose(): void {
    super.dispose();
    this.cpuid.free();
    freePage(this.vmcb.base);
    freePages(this.iopm, 3);
    freePages(this.msrpm, 2);
  }

  prepareEntry(e: EntryBlock): void {
    const vmcb = this.vmcb, cpu = this.cpu!;
    if (this.asidGeneration != cpu.generation) this.takeAsid(cpu);
    vmcb.set64(V.RAX, this.regs.get(Reg.Rax));
    e.enterSvm(vmcb.phys, cpu.hostVmcbPhys, this.regs.base, changetype<usize>(this));
  }

  // Only RAX went to the register block (takeExit()); this CPU's ASID stays.
  resumeInPlace(): void {
    this.vmcb.set64(V.RAX, this.regs.get(Reg.Rax));
  }

  // A fresh ASID of `cpu` (the first time on it, or in a new generation).
  private takeAsid(cpu: SvmCpu): void {
    const vmcb = this.vmcb;
    vmcb.set32(V.GUEST_ASID, cpu.allocateAsid());
    this.asidGeneration = cpu.generation;
    if (cpu.takeFlushAll()) store<u8>(vmcb.base + V.TLB_CONTROL, TLB_FLUSH_ALL);
    vmcb.dirty(V.CLEAN_ASID);
  }

  takeExit(e: EntryBlock): Exit | null {
    this.regs.set(Reg.Rax, this.vmcb.get64(V.RAX));
    return this.decode() ? this.exit : null;
  }

  // Called by boot/svm.S after every #VMEXIT, before anything else looks at
  // it: whether the exit is finished and the guest may run on, or goes to
  // the lane or the long way. Finished here: a CPUID whose leaf the table
  // holds, an IN or OUT to a quiet port, a yield that returns at once. A
  // quick port access and a store the memo may replay take a function of
  // their own (fastQuickIo(), fastStore(); linker/shim.c), which may call out.
  @inline
  fastExit(): FastExit {
    const vmcb = this.vmcb.base; // a local: every store below could alias a field
    this.exits++;
    // The flush asked for happened at this VMRUN. And until we change
    // something, the CPU may keep its cached copy of the VMCB (APM 15.15.3);
    // every writer of a covered field calls dirty().
    store<u8>(vmcb, 0, V.TLB_CONTROL);
    store<u32>(vmcb, this.cleanAfterRun, V.CLEAN_BITS);
    // QEMU 7.2 at times saves the guest's RFLAGS with bits set that the
    // guest never set, reserved ones among them (rflagsrepair.ts).
    const rflags = load<u64>(vmcb, V.RFLAGS);
    if (rflagsCorrupted(rflags)) {
      store<u64>(vmcb, repairedRflags(rflags, load<u64>(this.regs.base + REGS_ENTERED_RFLAGS_OFFSET)), V.RFLAGS);
      this.rflagsRepairs++;
    }
    const code = load<u64>(vmcb, V.EXIT_CODE);
    if (code == V.EXIT_IOIO) return this.firstIo(vmcb);
    if (code == V.EXIT_NPF) return singleStepping(vmcb) ? FastExit.LongWay : FastExit.Store;
    if ((code != V.EXIT_CPUID && code != V.EXIT_VMMCALL) || singleStepping(vmcb)) return this.decline(vmcb, code);
    if (code == V.EXIT_VMMCALL) {
      return this.fastYield(vmcb) ? completed(vmcb, load<u64>(vmcb, V.RIP) + <u64>LENGTH_VMMCALL) : FastExit.Lane;
    }
    if (!this.cpuid.answer(<u32>load<u64>(vmcb, V.RAX), vmcb + V.RAX, this.regs.base)) return FastExit.Lane;
    return completed(vmcb, this.nripSave ? load<u64>(vmcb, V.NEXT_RIP) : load<u64>(vmcb, V.RIP) + <u64>LENGTH_CPUID);
  }

  // After fastExit()'s QuickIo: the IN or OUT as a quick access to its
  // device (core/fastports.ts), or the lane's.
  @inline
  fastQuickIo(): FastExit {
    const vmcb = this.vmcb.base, info = load<u64>(vmcb, V.EXIT_INFO1);
    const quick = this.fastPorts.quickAccess(ioPort(info), ioSize(info), (info & V.IOIO_IN) != 0, vmcb + V.RAX);
    return quick ? completed(vmcb, load<u64>(vmcb, V.EXIT_INFO2)) : FastExit.Lane;
  }

  // After fastExit()'s Store: the nested page fault's store replayed from
  // the vCPU's StoreMemo, or the long way.
  @inline
  fastStore(): FastExit {
    const vmcb = this.vmcb.base;
    if (!this.replaysStore(vmcb)) return FastExit.LongWay;
    return completed(vmcb, load<u64>(vmcb, V.RIP) + <u64>this.storeMemo.length);
  }

  // The exit goes on to the lane if it is an instruction the lane finishes
  // and the guest is not single-stepping: a step's #DB, and the NMI
  // window's own step, are the long way's.
  @inline
  private decline(vmcb: usize, code: u64): FastExit {
    const lane = (code == V.EXIT_CPUID || code == V.EXIT_IOIO || code == V.EXIT_VMMCALL) && !singleStepping(vmcb);
    return lane ? FastExit.Lane : FastExit.LongWay;
  }

  // The IOIO exit's IN or OUT in the first part: finished at a quiet
  // port; for the second part where the VM's FastPorts may do a quick
  // access; else the lane's, and a string instruction's, an armed
  // breakpoint's or a single step's.
  @inline
  private firstIo(vmcb: usize): FastExit {
    if (singleStepping(vmcb)) return FastExit.LongWay;
    const info = load<u64>(vmcb, V.EXIT_INFO1);
    if ((info & (V.IOIO_STRING | V.IOIO_REP)) != 0 || (load<u64>(vmcb, V.DR7) & DR7_ENABLES) != 0) return FastExit.Lane;
    const port = ioPort(info), isIn = (info & V.IOIO_IN) != 0, ports = this.fastPorts;
    if (ports.quietAccess(port, ioSize(info), isIn, vmcb + V.RAX)) {
      return completed(vmcb, load<u64>(vmcb, V.EXIT_INFO2));
    }
    return ports.mayBeQuick(port, isIn) ? FastExit.QuickIo : FastExit.Lane;
  }

  // A nested page fault of a write that the vCPU's StoreMemo recognises
  // and its local APIC takes quickly (core/storememo.ts), unless the exit
  // interrupted an event's delivery (APM 15.7.2). EXITINFO1 is a page
  // fault's error code, bit 1 a write; EXITINFO2 the address (15.25.6).
  @inline
  private replaysStore(vmcb: usize): bool {
    if ((load<u64>(vmcb, V.EXIT_INFO1) & 2) == 0 || (load<u64>(vmcb, V.EXIT_INT_INFO) & V.EVENT_VALID) != 0) {
      return false;
    }
    const memo = this.storeMemo, csBase = this.segmentBase(Seg.Cs);
    return memo.matches(load<u64>(vmcb, V.RIP), this.cr3, this.fetchMode, csBase)
      && memo.storeToApic(this.regs, load<u64>(vmcb, V.EXIT_INFO2));
  }

  // A yield hypercall of the guest's kernel that returns at once (emul/hypercall.ts).
  @inline
  private fastYield(vmcb: usize): bool {
    return this.cpl == 0 && yieldsAtOnce(this, vmcb + V.RAX, this.longMode);
  }

  // Fills `exit`; returns false for exits finished here.
  private decode(): bool {
    const vmcb = this.vmcb, exit = this.exit;
    const code = vmcb.get64(V.EXIT_CODE);
    const info1 = vmcb.get64(V.EXIT_INFO1), info2 = vmcb.get64(V.EXIT_INFO2);
    // An event the exit interrupted must be delivered again (APM 15.7.2),
    // but for one the guest's own instruction raised, which runs again.
    const interrupted = vmcb.get64(V.EXIT_INT_INFO);
    if ((interrupted & V.EVENT_VALID) != 0 && !this.raisedByGuestInstruction(interrupted)) {
      vmcb.set64(V.EVENT_INJECTION, interrupted);
    }
    exit.code = code;
    exit.rip = vmcb.get64(V.RIP);
    exit.qualification = info1;
    exit.instructionLength = 0;
    exit.kind = ExitKind.Unhandled;
    if (this.nmi.atExit(code)) {
      exit.kind = this.nmi.debuggerTrap ? ExitKind.DebugStep : ExitKind.NmiWindow;
    } else if (code == V.EXIT_EXCEPTION_BASE + VECTOR_BP || code == V.EXIT_SWINT) {
      exit.kind = ExitKind.Breakpoint;
    } else if (code == V.EXIT_IRET) {
      this.nmi.iretIntercepted();
      exit.kind = ExitKind.NmiWindow;
    } else if (code == V.EXIT_CPUID) {
      exit.kind = ExitKind.Cpuid;
      exit.instructionLength = LENGTH_CPUID;
    } else if (code == V.EXIT_CR8_READ || code == V.EXIT_CR8_WRITE) {
      exit.kind = ExitKind.TaskPriority;
      exit.isWrite = code == V.EXIT_CR8_WRITE;
      // Without decode assists the generic handler decodes the MOV.
      exit.register = (info1 & V.CR_ACCESS_MOV) != 0 ? <i32>(info1 & 15) : -1;
    } else if (code == V.EXIT_IOIO) {
      exit.kind = ExitKind.Io;
      exit.port = <u16>ioPort(info1);
      exit.size = ioSize(info1);
      exit.isWrite = (info1 & V.IOIO_IN) == 0;
      exit.isString = (info1 & V.IOIO_STRING) != 0;
      exit.breakpointsArmed = (vmcb.get64(V.DR7) & DR7_ENABLES) != 0;
      exit.instructionLength = <u32>(info2 - vmcb.get64(V.RIP)); // EXITINFO2 is the next RIP
    } else if (code == V.EXIT_MSR) {
      const msr = <u32>this.regs.get(Reg.Rcx);
      const write = info1 == 1;
      exit.msr = msr;
      exit.value = this.regs.edxEax();
      exit.instructionLength = LENGTH_MSR;
      if (msr == IA32_EFER) return !this.emulateEfer(write);
      exit.kind = write ? ExitKind.MsrWrite : ExitKind.MsrRead;
    } else if (code == V.EXIT_HLT) {
      exit.kind = ExitKind.Hlt;
      exit.instructionLength = LENGTH_HLT;
    } else if (code == V.EXIT_VMMCALL) {
      exit.kind = ExitKind.Hypercall;
      exit.instructionLength = LENGTH_VMMCALL;
      exit.cpl = this.cpl;
      exit.longMode = this.longMode;
    } else if (code == V.EXIT_PAUSE) {
      exit.kind = ExitKind.Pause;
    } else if (code == V.EXIT_MONITOR || code == V.EXIT_MWAIT || code == V.EXIT_MWAIT_ARMED) {
      exit.kind = ExitKind.MonitorMwait;
    } else if (code == V.EXIT_RDPMC) {
      exit.kind = ExitKind.Rdpmc;
      exit.instructionLength = LENGTH_RDPMC;
    } else if (code == V.EXIT_XSETBV) {
      exit.kind = ExitKind.Xsetbv;
      exit.instructionLength = LENGTH_XSETBV;
    } else if (code == V.EXIT_NPF) {
      // EXITINFO1 is a page-fault error code (bit 1: write), EXITINFO2 the
      // address (APM 15.25.6); with decode assists the VMCB also holds the
      // instruction's first bytes (15.8.4).
      exit.kind = ExitKind.Mmio;
      exit.gpa = info2;
      exit.isWrite = (info1 & 2) != 0;
      exit.fetchedBytes = this.features.decodeAssists ? this.vmcb.fetchedInstruction(exit.instructionBytes) : 0;
    } else if (code == V.EXIT_VINTR) {
      this.requestInterruptWindow(false);
      exit.kind = ExitKind.InterruptWindow;
    } else if (code == V.EXIT_INTR || code == V.EXIT_NMI) {
      exit.kind = ExitKind.ExternalInterrupt;
    } else if (code == V.EXIT_EXCEPTION_BASE + VECTOR_DB || code == V.EXIT_EXCEPTION_BASE + VECTOR_AC) {
      // Given back to the guest, unless the exit interrupted another
      // event's delivery, which goes again instead (above). Unlike VT-x,
      // the CPU has already updated the VMCB's DR6 (APM Vol. 2 15.12.2).
      const vector = <u8>(code - V.EXIT_EXCEPTION_BASE);
      if ((interrupted & V.EVENT_VALID) == 0) {
        if (vector == VECTOR_DB && (vmcb.get64(V.DR6) & DR6_BD) != 0) {
          vmcb.set64(V.DR7, vmcb.get64(V.DR7) & ~DR7_GD);
          vmcb.dirty(V.CLEAN_DEBUG_REGISTERS);
        }
        this.injectException(vector, vector == VECTOR_AC, <u32>info1);
      }
      if (!this.exceptionLoops(vector)) return false;
      exit.kind = ExitKind.ExceptionLoop;
      exit.vector = vector;
    } else if (code == V.EXIT_SHUTDOWN) {
      exit.kind = ExitKind.TripleFault;
    } else if (code == V.EXIT_INIT) {
      exit.kind = ExitKind.Init;
    } else if ((code >= V.EXIT_VMRUN && code <= V.EXIT_SKINIT) || code == V.EXIT_INVLPGA) {
      exit.kind = ExitKind.VirtualizationInstruction;
    } else if ((code & 0xffff_ffff) == V.EXIT_INVALID) {
      exit.kind = ExitKind.InvalidState;
    }
    return true;
  }

  // EFER reads hide SVME; writes keep it set (VMRUN fails without it) and
  // keep LMA, which the CPU owns. LME cannot change while paging is on
  // (APM Vol. 2 3.1.7). A bad write takes #GP. Always true: the exit is done.
  private emulateEfer(write: bool): bool {
    const current = this.vmcb.get64(V.EFER);
    if (!write) {
      this.regs.setEdxEax(current & ~EFER_SVME);
    } else {
      const value = this.exit.value;
      const lmeWhilePaging = ((value ^ current) & EFER_LME) != 0 && (this.cr0 & CR0_PG) != 0;
      if (value & ~(EFER_WRITABLE | EFER_LMA) || lmeWhilePaging) {
        this.injectException(VECTOR_GP, true, 0);
        return true;
      }
      this.vmcb.set64(V.EFER, (value & EFER_WRITABLE) | (current & EFER_LMA) | EFER_SVME);
      this.vmcb.dirty(V.CLEAN_CONTROL_REGISTERS);
    }
    this.skipInstruction();
    return true;
  }

  get rip(): u64 {
    return this.vmcb.get64(V.RIP);
  }
  set rip(v: u64) {
    this.vmcb.set64(V.RIP, v);
  }
  get rsp(): u64 {
    return this.vmcb.get64(V.RSP);
  }
  set rsp(v: u64) {
    this.vmcb.set64(V.RSP, v);
  }
  get rflags(): u64 {
    return this.vmcb.get64(V.RFLAGS);
  }
  // RFLAGS is save-state the CPU reloads at every VMRUN: no clean bit covers it (APM 15.15.3).
  set rflags(v: u64) {
    this.vmcb.set64(V.RFLAGS, v | RFLAGS_FIXED);
  }
  get cr0(): u64 {
    return this.vmcb.get64(V.CR0);
  }
  get cr3(): u64 {
    return this.vmcb.get64(V.CR3);
  }
  set cr2(v: u64) {
    this.vmcb.set64(V.CR2, v);
    this.vmcb.dirty(V.CLEAN_CR2);
  }
  get cr4(): u64 {
    return this.vmcb.get64(V.CR4);
  }
  get efer(): u64 {
    return this.vmcb.get64(V.EFER) & ~EFER_SVME;
  }
  // The VMCB keeps the CPL in a field of its own (APM Vol. 2 15.5.1).
  get cpl(): u32 {
    return load<u8>(this.vmcb.base + V.CPL) & 3;
  }
  // CS.L is bit 9 of the VMCB attribute word (descriptor bit 53).
  get longMode(): bool {
    return (this.vmcb.get64(V.EFER) & EFER_LMA) != 0 && (this.vmcb.segmentAttributes(V.SaveSeg.Cs) & ATTR_LONG) != 0;
  }
  // The VMCB's save area lists ES to GS in the encoding order Seg follows (APM Table B-2).
  segmentBase(seg: Seg): u64 {
    return this.vmcb.segmentBase(<V.SaveSeg><i32>seg);
  }
  segmentSelector(seg: Seg): u16 {
    return <u16>this.vmcb.segmentSelector(<i32>seg);
  }
  get fetchMode(): u64 {
    const vmcb = this.vmcb;
    const cs = <u64>vmcb.segmentAttributes(V.SaveSeg.Cs);
    return fetchModeOf(vmcb.get64(V.CR0), vmcb.get64(V.CR4), vmcb.get64(V.EFER), vmcb.get64(V.RFLAGS), cs);
  }
  get codeBits(): u32 {
    const cs = this.vmcb.segmentAttributes(V.SaveSeg.Cs);
    return codeBitsOf(
      this.longMode,
      (this.cr0 & CR0_PE) != 0,
      (this.rflags & RFLAGS_VM) != 0,
      (cs & ATTR_DEFAULT_32) != 0,
    );
  }

  resetToRealMode(segment: u16, offset: u16): void {
    const vmcb = this.vmcb;
    const code = RESET_CODE, data = RESET_DATA;
    vmcb.setSegment(V.SaveSeg.Cs, segment, code, 0xffff, <u64>segment << 4);
    vmcb.setSegment(V.SaveSeg.Es, 0, data, 0xffff, 0);
    vmcb.setSegment(V.SaveSeg.Ss, 0, data, 0xffff, 0);
    vmcb.setSegment(V.SaveSeg.Ds, 0, data, 0xffff, 0);
    vmcb.setSegment(V.SaveSeg.Fs, 0, data, 0xffff, 0);
    vmcb.setSegment(V.SaveSeg.Gs, 0, data, 0xffff, 0);
    vmcb.setSegment(V.SaveSeg.Gdtr, 0, 0, 0xffff, 0);
    vmcb.setSegment(V.SaveSeg.Idtr, 0, 0, 0xffff, 0);
    vmcb.setSegment(V.SaveSeg.Ldtr, 0, RESET_LDT, 0xffff, 0);
    vmcb.setSegment(V.SaveSeg.Tr, 0, TR_ATTRIBUTES, 0xffff, 0);
    vmcb.set64(V.CR0, CR0_RESET);
    vmcb.set64(V.CR2, 0);
    vmcb.set64(V.CR3, 0);
    vmcb.set64(V.CR4, 0);
    vmcb.set64(V.EFER, EFER_SVME);
    vmcb.set64(V.RFLAGS, RFLAGS_FIXED);
    vmcb.set64(V.RIP, offset);
    vmcb.set64(V.RSP, 0);
    vmcb.set64(V.DR6, DR6_RESET);
    vmcb.set64(V.DR7, DR7_RESET);
    vmcb.set64(V.G_PAT, PAT_POWER_ON);
    store<u8>(vmcb.base + V.CPL, 0);
    // Nothing is pending at reset: an event left for injection (say, one
    // whose delivery an INIT interrupted) would make VMRUN fail, as an
    // exception with an error code in real mode.
    vmcb.set64(V.EVENT_INJECTION, 0);
    vmcb.set64(V.INTERRUPT_SHADOW, 0);
    this.requestInterruptWindow(false);
    this.nmi.reset();
    vmcb.set32(V.CLEAN_BITS, 0);
  }

  // A loaded kernel's entry state (core/entrystate.ts) over the reset state,
  // which supplies what it does not name (DR6/DR7, PAT, clean bits). It
  // passes VMRUN's consistency checks (APM Vol. 2 15.5.1 "Basic Operation",
  // "Canonicalization and Consistency Checks") by construction: EFER.SVME
  // set; CR0.PG only with CR0.PE, CR0.CD clear; with EFER.LME and CR0.PG,
  // CR4.PAE set and CS not both L and D; no reserved bit in CR3, CR4, EFER.
  // In long mode the loader sets EFER.LMA along with LME, as the CPU would
  // have when paging came on. CPL is SS.DPL: 0.
  protected setEntryState(s: EntryState): void {
    this.resetToRealMode(0, 0);
    const vmcb = this.vmcb, c = s.cs, d = s.data, tr = s.tr;
    vmcb.setSegment(V.SaveSeg.Cs, c.selector, c.attributes, c.limit, c.base);
    vmcb.setSegment(V.SaveSeg.Es, d.selector, d.attributes, d.limit, d.base);
    vmcb.setSegment(V.SaveSeg.Ss, d.selector, d.attributes, d.limit, d.base);
    vmcb.setSegment(V.SaveSeg.Ds, d.selector, d.attributes, d.limit, d.base);
    vmcb.setSegment(V.SaveSeg.Fs, d.selector, d.attributes, d.limit, d.base);
    vmcb.setSegment(V.SaveSeg.Gs, d.selector, d.attributes, d.limit, d.base);
    vmcb.setSegment(V.SaveSeg.Gdtr, 0, 0, s.gdtLimit, s.gdtBase);
    vmcb.setSegment(V.SaveSeg.Idtr, 0, 0, 0, 0);
    vmcb.setSegment(V.SaveSeg.Ldtr, 0, 0, 0, 0); // a null LDT selector
    vmcb.setSegment(V.SaveSeg.Tr, tr.selector, tr.attributes, tr.limit, tr.base);
    vmcb.set64(V.CR0, s.cr0);
    vmcb.set64(V.CR3, s.cr3);
    vmcb.set64(V.CR4, s.cr4);
    vmcb.set64(V.EFER, s.efer | EFER_SVME);
    vmcb.set64(V.RFLAGS, s.rflags | RFLAGS_FIXED);
    vmcb.set64(V.RIP, s.rip);
    vmcb.set64(V.RSP, s.rsp);
    this.flushNestedTlb();
  }

  // NEXT_RIP is saved for instruction intercepts only; at a #NPF it is 0
  // (APM 15.7.1), and the MMIO decoder has measured the instruction instead.
  skipInstruction(): void {
    const vmcb = this.vmcb;
    const fromNextRip = this.nripSave && this.exit.kind != ExitKind.Mmio;
    vmcb.set64(V.RIP, fromNextRip ? vmcb.get64(V.NEXT_RIP) : vmcb.get64(V.RIP) + <u64>this.exit.instructionLength);
    // A completed instruction ends the STI / MOV SS shadow it sat in (APM 15.21.5).
    vmcb.set64(V.INTERRUPT_SHADOW, vmcb.get64(V.INTERRUPT_SHADOW) & ~(<u64>1));
    // With TF set the CPU would take a single-step #DB after the instruction,
    // DR6.BS set (APM Vol. 2 13.1.1).
    if ((vmcb.get64(V.RFLAGS) & RFLAGS_TF) != 0) this.pendDebugTrap(DR6_BS);
  }

  get dr7(): u64 {
    return this.vmcb.get64(V.DR7);
  }

  // The #BP intercept, as the APM has it; and the INTn intercept, because
  // QEMU 7.2's TCG checks that one, not #BP's, at an INT3. An INT n of the
  // guest then exits as a Breakpoint too, and goes back to it.
  interceptBreakpoints(on: bool): void {
    const vmcb = this.vmcb, misc = vmcb.get32(V.INTERCEPT_MISC1) & ~V.INTERCEPT_INTN;
    vmcb.set32(V.INTERCEPT_EXCEPTIONS, REFLECTED_EXCEPTIONS | (on ? 1 << VECTOR_BP : 0));
    vmcb.set32(V.INTERCEPT_MISC1, on ? misc | V.INTERCEPT_INTN : misc);
    vmcb.dirty(V.CLEAN_INTERCEPTS);
  }

  // Whether `event`, cut short by an exit, is the guest's own INT n, INT3
  // or INTO: its instruction did not complete, and RIP is still on it, so
  // the guest runs it again. Injected instead, its frame would hold the
  // VMCB's RIP (QEMU pushes it; a CPU with NRIP_SAVE would push NEXT_RIP)
  // and the handler would return to run it a second time. AMD types INT3
  // and INTO as exceptions, QEMU as software interrupts. While a debugger
  // intercepts INT3 and INT n, none of the guest's is delivered, and such
  // an event is one reflectBreakpoint() injected, RIP already past it.
  private raisedByGuestInstruction(event: u64): bool {
    const type = event & V.EVENT_TYPE_MASK, vector = <u8>(event & V.EVENT_VECTOR_MASK);
    const intercepted = (this.vmcb.get32(V.INTERCEPT_MISC1) & V.INTERCEPT_INTN) != 0;
    if (type == V.EVENT_TYPE_SOFTWARE_INTERRUPT || (type == V.EVENT_TYPE_EXCEPTION && vector == VECTOR_BP)) {
      return !intercepted;
    }
    return type == V.EVENT_TYPE_EXCEPTION && vector == VECTOR_OF;
  }

  // Either intercept leaves RIP on the instruction; an event injected
  // through EVENTINJ saves the RIP it finds, so it moves past first (APM
  // Vol. 2 15.12, 15.20): #BP as an exception, INT n as a software interrupt.
  reflectBreakpoint(vector: u8, length: u32): void {
    this.rip = this.rip + <u64>length;
    if (vector == VECTOR_BP) this.injectException(VECTOR_BP, false, 0);
    else this.vmcb.set64(V.EVENT_INJECTION, <u64>vector | V.EVENT_TYPE_SOFTWARE_INTERRUPT | V.EVENT_VALID);
  }

  // RFLAGS.TF with #DB intercepted, as the NMI window steps (nmiwindow.ts).
  stepOnce(): bool {
    this.nmi.stepForDebugger();
    return true;
  }

  // AMD-V has no pending-debug state: the causes go into the VMCB's DR6,
  // and the #DB is injected.
  pendDebugTrap(causes: u64): void {
    const vmcb = this.vmcb;
    vmcb.set64(V.DR6, vmcb.get64(V.DR6) | causes);
    vmcb.dirty(V.CLEAN_DEBUG_REGISTERS);
    this.injectException(VECTOR_DB, false, 0);
  }

  injectException(vector: u8, hasError: bool, errorCode: u32): void {
    // Real mode delivers no error codes; injecting one there fails VMRUN.
    if ((this.cr0 & CR0_PE) == 0) hasError = false;
    if (isFault(vector)) this.rflags = this.rflags | RFLAGS_RF;
    this.vmcb.set64(
      V.EVENT_INJECTION,
      <u64>vector | V.EVENT_TYPE_EXCEPTION | V.EVENT_VALID
        | (hasError ? V.EVENT_ERROR_VALID | (<u64>errorCode << 32) : 0),
    );
  }

  // An interrupt goes in as a virtual interrupt (V_IRQ with its vector, APM
  // 15.21.4), which the guest takes before its first instruction when its
  // IF allows, as canInjectInterrupt() checked. EVENTINJ would do the same
  // on the hardware, but QEMU 7.2's AMD-V delivers an injected INTR and
  // keeps its vector as a pending exception, which it delivers a second
  // time, IF or not, when the CPU next leaves its execution loop
  // (docs/smp.md, "Four emulator bugs").
  injectInterrupt(vector: u8): void {
    const vmcb = this.vmcb;
    const vintr = vmcb.get32(V.VINTR) & ~V_INTR_PRIO;
    vmcb.set32(V.VINTR, vintr | V_IRQ | V_IGN_TPR | ((<u32>vector >> 4) << V_INTR_PRIO_SHIFT));
    vmcb.set32(V.VINTR_VECTOR, vector);
    vmcb.set32(V.INTERCEPT_MISC1, vmcb.get32(V.INTERCEPT_MISC1) & ~V.INTERCEPT_VINTR);
    vmcb.dirty(V.CLEAN_INTERCEPTS | V.CLEAN_TPR);
  }

  injectNmi(): void {
    this.nmi.inject();
  }

  get nmisBlocked(): bool {
    return this.nmi.blocked;
  }

  canInjectNmi(): bool {
    return this.nmi.canInject();
  }

  requestNmiWindow(): void {
    this.nmi.open(this.interruptQueued);
  }

  canInjectInterrupt(): bool {
    return (this.rflags & RFLAGS_IF) != 0 && (this.vmcb.get64(V.INTERRUPT_SHADOW) & 1) == 0
      && (this.vmcb.get64(V.EVENT_INJECTION) & V.EVENT_VALID) == 0 && !this.interruptQueued;
  }

  // An interrupt injected but not yet taken: the exit came first. It stays
  // for the next entry.
  private get interruptQueued(): bool {
    const vmcb = this.vmcb;
    return (vmcb.get32(V.VINTR) & V_IRQ) != 0 && (vmcb.get32(V.INTERCEPT_MISC1) & V.INTERCEPT_VINTR) == 0;
  }

  // A pending virtual interrupt with the VINTR intercept exits exactly when
  // the guest could take it (APM 15.21.4), which is the window we want. An
  // interrupt already queued opens no window: the next waits for the exit
  // after it.
  //
  // Under an STI or MOV SS shadow the window opens after the instruction it
  // covers (APM 15.21.5), but QEMU 7.2 does not load the shadow at VMRUN:
  // the VINTR exit came at once, at the RIP of the exit that found the
  // shadow, with the shadow gone, and the interrupt then went in ahead of
  // the HLT of an "sti; hlt", which then slept for good (docs/smp.md,
  // "Four emulator bugs"). So that one instruction is stepped instead,
  // which opens the window on both.
  requestInterruptWindow(on: bool): void {
    if (on && this.interruptQueued) return;
    const vmcb = this.vmcb;
    if (on && (vmcb.get64(V.INTERRUPT_SHADOW) & 1) != 0 && this.nmi.stepOverShadow()) on = false;
    const vintr = vmcb.get32(V.VINTR) & ~(V_IRQ | V_IGN_TPR);
    const misc = vmcb.get32(V.INTERCEPT_MISC1) & ~V.INTERCEPT_VINTR;
    vmcb.set32(V.VINTR, on ? vintr | V_IRQ | V_IGN_TPR : vintr);
    vmcb.set32(V.INTERCEPT_MISC1, on ? misc | V.INTERCEPT_VINTR : misc);
    vmcb.dirty(V.CLEAN_INTERCEPTS | V.CLEAN_TPR);
  }

  // AMD-V has no preemption timer; the scheduler bounds slices by exits.
  setPreemptionTimer(ticks: u64): void {}

  // RDTSC, RDTSCP and RDMSR of the TSC in the guest add the VMCB's
  // TSC_OFFSET, which is always on (APM Vol. 2 Appendix B, VMCB control
  // area); its clean bit is the intercepts'.
  protected setTscOffset(offset: u64): bool {
    this.vmcb.set64(V.TSC_OFFSET, offset);
    this.vmcb.dirty(V.CLEAN_INTERCEPTS);
    return true;
  }

  // Flushes this guest's TLB entries at the next VMRUN: only its ASID where
  // the CPU can, everything otherwise (APM 15.16.1).
  flushNestedTlb(): void {
    store<u8>(this.vmcb.base + V.TLB_CONTROL, this.features.flushByAsid ? TLB_FLUSH_ASID : TLB_FLUSH_ALL);
  }

  dumpState(): void {
    const vmcb = this.vmcb;
    print("  svm exit code 0x");
    printHex(vmcb.get64(V.EXIT_CODE));
    print(" info1 0x");
    printHex(vmcb.get64(V.EXIT_INFO1));
    print(" info2 0x");
    printHex(vmcb.get64(V.EXIT_INFO2));
    println("");
    this.dumpArchitecturalState(vmcb.segmentSelector(V.SaveSeg.Cs), vmcb.segmentBase(V.SaveSeg.Cs));
  }
}

// An IOIO exit's port and access size, from EXITINFO1 (APM 15.10.2).
function ioPort(info: u64): u32 {
  return <u32>(info >> V.IOIO_PORT_SHIFT) & 0xffff;
}
function ioSize(info: u64): u8 {
  return <u8>((info >> V.IOIO_SIZE_SHIFT) & V.IOIO_SIZE_MASK);
}

// The fast path finished the instruction: RIP moves to `next`, and the
// completed instruction ends an STI / MOV SS shadow (APM 15.21.5).
function completed(vmcb: usize, next: u64): FastExit {
  store<u64>(vmcb, next, V.RIP);
  store<u64>(vmcb, load<u64>(vmcb, V.INTERRUPT_SHADOW) & ~(<u64>1), V.INTERRUPT_SHADOW);
  return FastExit.Done;
}

// Single-stepping: skipInstruction() owes the guest a #DB, which the fast
// path leaves to it.
function singleStepping(vmcb: usize): bool {
  return (load<u64>(vmcb, V.RFLAGS) & RFLAGS_TF) != 0;
}

// The fast path's entry from boot/svm.S, for the vCPU in the guest.
export function svmFastExit(vcpu: SvmVcpu): FastExit {
  return vcpu.fastExit();
}
export function svmFastQuickIo(vcpu: SvmVcpu): FastExit {
  return vcpu.fastQuickIo();
}
export function svmFastStore(vcpu: SvmVcpu): FastExit {
  return vcpu.fastStore();
}
