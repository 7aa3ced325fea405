// A gdb client on the host's second serial port, debugging one VM.
//
// The command line's `gdb=NAME` names the VM (vmm.ts). Its vCPUs are gdb's
// threads 1 to N (VmTarget), and the stub (gdbstub.ts) talks to gdb over
// COM2, which CPU 0 polls with the console's input (sched/scheduler.ts).
// The VM is pinned to CPU 0 too: then whenever the stub runs, none of its
// vCPUs is in a guest, and each one's VMCS or VMCB may be read and written
// there. The debugger holds the VM by marking its vCPUs (Vcpu.heldByDebugger),
// which the scheduler does not run; the other VMs run on. After each exit
// of the VM's vCPUs the scheduler calls debuggerSees(): an INT3 of gdb's
// stops the VM, one of the guest's own goes back to it, and a single step
// ends once the instruction has completed.

import { Seg, VECTOR_BP } from "../../kernel/arch/x86";
import * as log from "../../kernel/console/log";
import { COM2, serialInit, serialPresent, serialRead, serialWrite } from "../../kernel/console/serial";
import { Exit, ExitKind } from "../core/exit";
import { Vcpu } from "../core/vcpu";
import { Vm } from "../core/vm";
import { GuestPageWalker, WalkResult } from "../emul/guestpaging";
import { GDB_CS, GDB_EFLAGS, GDB_RIP, generalRegister } from "./gdbregs";
import { DebugTarget, GdbStub } from "./gdbstub";

// At most this many bytes are taken from COM2 per poll: a client that
// floods the port delays the hypervisor by a bounded amount.
const MAX_BYTES_PER_POLL: i32 = 8192;
const INT3: i32 = 0xcc;
const INT_N: i32 = 0xcd;
// gdb's selectors CS, SS, DS, ES, FS, GS.
const SELECTORS: StaticArray<Seg> = [Seg.Cs, Seg.Ss, Seg.Ds, Seg.Es, Seg.Fs, Seg.Gs];

class VmTarget extends DebugTarget {
  // The vCPU stepping one instruction for gdb, and where it started.
  stepping: Vcpu | null = null;
  stepFrom: u64 = 0;
  private readonly walker: GuestPageWalker = new GuestPageWalker();

  constructor(readonly vm: Vm) {
    super();
  }

  get threads(): i32 {
    return this.vm.vcpus.length;
  }

  // Thread `t`'s vCPU (the stub checks `t`; anything else reads vCPU 0).
  vcpu(t: i32): Vcpu {
    const vcpus = this.vm.vcpus;
    return t >= 1 && t <= vcpus.length ? vcpus[t - 1] : vcpus[0];
  }

  register(t: i32, n: i32): u64 {
    const vcpu = this.vcpu(t);
    if (n < GDB_RIP) return vcpu.gpr(generalRegister(n));
    if (n == GDB_RIP) return vcpu.rip;
    if (n == GDB_EFLAGS) return vcpu.rflags;
    if (n < GDB_CS + 6) return vcpu.segmentSelector(SELECTORS[n - GDB_CS]);
    return 0;
  }

  setRegister(t: i32, n: i32, v: u64): bool {
    const vcpu = this.vcpu(t);
    if (n < GDB_RIP) vcpu.setGpr(generalRegister(n), v);
    else if (n == GDB_RIP) vcpu.rip = v;
    else if (n == GDB_EFLAGS) vcpu.rflags = v;
    else return false;
    return true;
  }

  readByte(t: i32, address: u64): i32 {
    const gpa = this.physical(t, address);
    return gpa < 0 ? -1 : <i32>this.vm.memory.read8(<u64>gpa);
  }

  writeByte(t: i32, address: u64, v: u8): bool {
    const gpa = this.physical(t, address);
    if (gpa >= 0) this.vm.memory.write8(<u64>gpa, v);
    return gpa >= 0;
  }

  // Through the vCPU's own paging, into its VM's RAM; -1 if it goes nowhere.
  private physical(t: i32, linear: u64): i64 {
    const vcpu = this.vcpu(t), memory = this.vm.memory;
    const walk = this.walker.translate(memory, linear, vcpu.cr0, vcpu.cr3, vcpu.cr4, vcpu.efer);
    const gpa = this.walker.physical;
    return walk == WalkResult.Translated && memory.contains(gpa, 1) ? <i64>gpa : -1;
  }

  hold(): void {
    const vcpus = this.vm.vcpus;
    for (let i = 0; i < vcpus.length; i++) {
      vcpus[i].heldByDebugger = true;
      this.vm.apics.notify(vcpus[i]); // its CPU looks again before it enters
    }
  }

  // A step lets only its vCPU go; the others stay held until `c`.
  resume(step: i32): bool {
    if (step != 0) {
      const vcpu = this.vcpu(step);
      if (!vcpu.stepOnce()) return false;
      this.stepping = vcpu;
      this.stepFrom = vcpu.rip;
      vcpu.heldByDebugger = false;
      this.vm.apics.notify(vcpu);
      return true;
    }
    const vcpus = this.vm.vcpus;
    for (let i = 0; i < vcpus.length; i++) {
      vcpus[i].heldByDebugger = false;
      this.vm.apics.notify(vcpus[i]);
    }
    return true;
  }

  interceptBreakpoints(on: bool): void {
    const vcpus = this.vm.vcpus;
    for (let i = 0; i < vcpus.length; i++) vcpus[i].interceptBreakpoints(on);
  }

  kill(): void {
    this.vm.stop("killed by the debugger");
  }
}

class Session {
  readonly target: VmTarget;
  readonly stub: GdbStub;
  exitReported: bool = false;

  constructor(readonly vm: Vm) {
    const target = new VmTarget(vm);
    this.target = target;
    this.stub = new GdbStub(target);
  }
}

let session: Session | null = null;

// Makes the VM named `name` gdb's, on COM2; false if there is none.
export function startDebugSession(vms: Vm[], name: string): bool {
  for (let i = 0; i < vms.length; i++) {
    const vm = vms[i];
    if (vm.name != name) continue;
    if (!serialPresent(COM2)) {
      log.warn("gdb: no UART answers at COM2; vm " + name + " is not debugged");
      return false;
    }
    vm.share.affinity = 1; // CPU 0, where the stub runs
    serialInit(COM2);
    session = new Session(vm);
    log.info("gdb: vm " + name + " waits for a debugger on COM2; its vCPUs run on CPU 0");
    return true;
  }
  log.warn("gdb: no vm " + name + " to debug");
  return false;
}

// Whether CPU 0 should look at COM2 even while it idles.
export function debuggerListens(): bool {
  return session !== null;
}

// On CPU 0: what gdb sent, answered; and the end of the VM, reported.
export function pollDebugger(): void {
  const s = session;
  if (s === null) return;
  const stub = s.stub;
  for (let i = 0; i < MAX_BYTES_PER_POLL; i++) {
    const c = serialRead(COM2);
    if (c < 0) break;
    stub.receive(<u8>c);
  }
  if (!s.vm.running && !s.exitReported) {
    s.exitReported = true;
    stub.exited(s.vm.exitStatus);
  }
  flush(stub);
}

// After an exit of `vcpu` that the VMM handled (`exit`: null if the
// backend finished it): the debugger's part.
export function debuggerSees(vm: Vm, vcpu: Vcpu, exit: Exit | null): void {
  if (!debuggerWatches(vm)) return;
  const s = session!, target = s.target, thread = <i32>vcpu.apicId + 1;
  if (exit !== null && exit.kind == ExitKind.Breakpoint) {
    const at = linearRip(vcpu), opcode = target.readByte(thread, at);
    if (opcode == INT3 && s.stub.hasBreakpoint(at)) s.stub.stopped(thread, true);
    else if (opcode == INT_N) vcpu.reflectBreakpoint(<u8>target.readByte(thread, at + 1), 2);
    else vcpu.reflectBreakpoint(VECTOR_BP, 1);
  }
  if (target.stepping === vcpu) {
    // Done when the step's trap came, or the VMM completed the instruction
    // (an I/O port, CPUID); an exit before it ran (an interrupt) steps again.
    if ((exit !== null && exit.kind == ExitKind.DebugStep) || vcpu.rip != target.stepFrom) {
      target.stepping = null;
      s.stub.stopped(thread, false);
    } else {
      vcpu.stepOnce();
    }
  }
  flush(s.stub);
}

// A vCPU stepping for gdb takes no interrupt: its step would land in the
// handler (sched/scheduler.ts delivers them).
// Whether a debugger is attached to `vm`: it must see each of its exits.
export function debuggerWatches(vm: Vm): bool {
  const s = session;
  return s !== null && s.vm === vm;
}

export function steppedByDebugger(vcpu: Vcpu): bool {
  const s = session;
  return s !== null && s.target.stepping === vcpu;
}

// CS.base + RIP outside 64-bit mode, where CS's base counts (SDM Vol. 3A 3.4.4).
function linearRip(vcpu: Vcpu): u64 {
  if (vcpu.longMode) return vcpu.rip;
  return (vcpu.segmentBase(Seg.Cs) + vcpu.rip) & 0xffff_ffff;
}

function flush(stub: GdbStub): void {
  const out = stub.output;
  if (out.length == 0) return;
  for (let i = 0; i < out.length; i++) serialWrite(COM2, <u8>out.charCodeAt(i));
  stub.output = "";
}
