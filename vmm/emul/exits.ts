// The generic exit handler: one backend-neutral Exit in, one decision out.
//
// Both backends funnel every exit they do not finish themselves through
// handleExit(). It emulates what it can (CPUID, port I/O through the device
// bus, MSRs by policy, hypercalls, HLT), injects #GP where hardware would,
// and stops the VM with a reason for everything a guest must not do.

import { IA32_APIC_BASE, IA32_TIME_STAMP_COUNTER, IA32_TSC_ADJUST, IA32_TSC_DEADLINE } from "../../kernel/arch/msrs";
import { CR4_OSXSAVE, EXCEPTION_NAMES, Reg, VECTOR_GP, VECTOR_UD } from "../../kernel/arch/x86";
import * as log from "../../kernel/console/log";
import { openInterruptWindow } from "../../kernel/cpu/irq";
import { Exit, ExitKind, Next } from "../core/exit";
import { raxAfterIn } from "../core/registers";
import { Activity, Vcpu } from "../core/vcpu";
import { Vm } from "../core/vm";
import { validXcr0, xsaveAvailable } from "../vcpustate/xstate";
import { emulateCpuid } from "./cpuidpolicy";
import { hypercall, HypercallResult } from "./hypercall";
import { emulateMmio } from "./mmio";
import { emulatePortString } from "./portstring";
import { emulateTaskPriority } from "./taskpriority";
import { emulateRead, emulateWrite, isLocalApicMsr, readCounter } from "./msrpolicy";
import { MSR_KVM_PV_EOI_EN, pvEoiWord } from "../devices/apic/pveoi";

// RDMSR of an MSR that exits: the vCPU's TSC_ADJUST (vcpustate/tsc.ts),
// its local APIC's, or the policy's (msrpolicy.ts); the value goes to
// EDX:EAX. A TSC deadline is a guest TSC value, and the APIC counts in the
// host's. False for #GP. (The APIC and the policy answer -1 for #GP: none
// of their MSRs can read as all ones.)
function readMsr(vm: Vm, vcpu: Vcpu, msr: u32): bool {
  let value: u64;
  if (msr == IA32_TSC_ADJUST) {
    value = vcpu.tsc.adjust;
  } else if (msr == MSR_KVM_PV_EOI_EN) {
    value = vm.apics.of(vcpu).pvEoi.msr;
  } else {
    const answer = isLocalApicMsr(msr) ? vm.apics.now(vcpu).readMsr(msr) : emulateRead(vcpu.msrs, msr);
    if (answer == -1) return false;
    value = msr == IA32_TSC_DEADLINE && answer != 0 ? vcpu.tsc.toGuest(<u64>answer) : <u64>answer;
  }
  vcpu.regs.setEdxEax(value);
  return true;
}

// WRMSR of an MSR that exits; false for #GP.
function writeMsr(vm: Vm, vcpu: Vcpu, msr: u32, value: u64): bool {
  if (msr == IA32_TSC_ADJUST) return moveTsc(vm, vcpu, vcpu.tsc.moveForAdjust(value));
  if (msr == IA32_TIME_STAMP_COUNTER) return moveTsc(vm, vcpu, vcpu.tsc.moveForTsc(value));
  if (msr == MSR_KVM_PV_EOI_EN) {
    return vm.apics.writePvEoi(vcpu, value, vm.memory.translate(pvEoiWord(value), 4));
  }
  if (!isLocalApicMsr(msr)) return emulateWrite(vcpu.msrs, msr, value);
  const apicValue = msr == IA32_TSC_DEADLINE && value != 0 ? vcpu.tsc.hostDeadline(value) : value;
  if (!vm.apics.now(vcpu).writeMsr(msr, apicValue)) return false;
  // The APIC's window may have moved, or come or gone with its mode.
  if (msr == IA32_APIC_BASE) vm.apicWindowsChanged();
  return true;
}

// Moves the vCPU's TSC by `delta`. An armed TSC deadline keeps its value
// in the guest's TSC, so the APIC, which counts in the host's, is given it
// anew: the timer fires when the moved TSC reaches it (SDM Vol. 3A 11.5.4.1).
function moveTsc(vm: Vm, vcpu: Vcpu, delta: u64): bool {
  const apic = vm.apics.now(vcpu);
  const armed = <u64>apic.readMsr(IA32_TSC_DEADLINE);
  const deadline = armed != 0 ? vcpu.tsc.toGuest(armed) : 0;
  if (!vcpu.moveTsc(delta)) return false;
  if (deadline != 0) apic.writeMsr(IA32_TSC_DEADLINE, vcpu.tsc.hostDeadline(deadline));
  return true;
}

// The hypervisor's heap a VM may make grow, in 64 KiB pages of linear
// memory: 8 MiB, far beyond what any exit should keep (the common ones
// keep nothing, exits.test.ts).
const HEAP_SHARE_PAGES: i32 = 128;

// Handles an exit, and charges the VM with the linear memory it made the
// heap grow by. The heap grows only when live objects and uncollected
// garbage fill it (the scheduler collects after each 1 MiB of growth), so
// growth is what an exit kept, or what it found no room for; a VM charged
// beyond its share is stopped before the heap reaches its limit and traps
// the whole hypervisor.
export function handleExit(vm: Vm, vcpu: Vcpu, exit: Exit): Next {
  const pages = memory.size();
  const next = dispatch(vm, vcpu, exit);
  const grown = memory.size() - pages;
  if (grown <= 0 || !vm.running) return next;
  vm.heapPages += grown;
  if (vm.heapPages <= HEAP_SHARE_PAGES) return next;
  vm.stop(
    "its exits made the hypervisor's heap grow by " + (vm.heapPages * 64).toString() + " KiB, beyond its share of "
      + (HEAP_SHARE_PAGES * 64).toString() + " KiB",
    vcpu,
  );
  return Next.Stopped;
}

function dispatch(vm: Vm, vcpu: Vcpu, exit: Exit): Next {
  switch (exit.kind) {
    case ExitKind.Cpuid:
      emulateCpuid(vm, vcpu);
      vcpu.skipInstruction();
      return Next.Resume;
    case ExitKind.Io:
      return portIo(vm, vcpu, exit);
    case ExitKind.MsrRead:
    case ExitKind.MsrWrite: {
      const done = exit.kind == ExitKind.MsrRead
        ? readMsr(vm, vcpu, exit.msr)
        : writeMsr(vm, vcpu, exit.msr, exit.value);
      if (!done) {
        vcpu.injectException(VECTOR_GP, true, 0);
        return Next.Resume;
      }
      vcpu.skipInstruction();
      return Next.Resume;
    }
    case ExitKind.Hypercall: {
      // Only the guest's kernel may call the hypervisor: to its user
      // programs VMCALL and VMMCALL are the undefined opcodes they are
      // outside a VM.
      if (exit.cpl != 0) {
        vcpu.injectException(VECTOR_UD, false, 0);
        return Next.Resume;
      }
      const result = hypercall(vm, vcpu, exit.longMode);
      if (result == HypercallResult.Stopped) return Next.Stopped;
      vcpu.skipInstruction();
      return result == HypercallResult.Yield ? Next.Yield : Next.Resume;
    }
    case ExitKind.Hlt: {
      vcpu.skipInstruction();
      // An INIT or STARTUP from another CPU came while this exit waited for
      // the lock: it decides what the vCPU does next, not the HLT.
      if (!vcpu.isRunnable) return Next.Halt;
      if (vcpu.pendingStartup >= 0) return Next.Resume;
      // What the VM's devices wait for outside it may have ended: a look
      // now costs no exit, and its interrupt ends the halt below.
      const pin = vm.intr;
      if (pin !== null) pin.lookOnHalt();
      // An interrupt already waiting ends the halt at once, if the guest
      // takes interrupts; an NMI does, unless NMIs are blocked.
      if (vcpu.interruptsEnabled && vm.hasInterruptFor(vcpu)) return Next.Resume;
      if (vcpu.nmiPending && !vcpu.nmisBlocked) return Next.Resume;
      vcpu.halt();
      return Next.Halt;
    }
    case ExitKind.Init:
      // An INIT signal reached the CPU while this vCPU ran: it is this vCPU's.
      vm.apics.init(vcpu);
      return Next.Halt;
    case ExitKind.Xsetbv:
      setXcr(vcpu);
      return Next.Resume;
    case ExitKind.InterruptWindow:
    case ExitKind.NmiWindow:
    // The debugger's (vmm/debug), which the scheduler hands it after this.
    case ExitKind.Breakpoint:
    case ExitKind.DebugStep:
      return Next.Resume;
    case ExitKind.ExternalInterrupt:
      // A host interrupt (our timer) ended the guest's run: take it now.
      openInterruptWindow();
      return Next.Resume;
    case ExitKind.PreemptionTimer:
      return Next.Yield;
    case ExitKind.Pause:
      // The guest waits for a lock someone else holds: let others run.
      return Next.Yield;
    case ExitKind.MonitorMwait:
      // CPUID.1:ECX.MONITOR is clear for the guest, and then both raise #UD
      // (SDM Vol. 2B "MONITOR", "MWAIT"; APM Vol. 3 likewise).
      vcpu.injectException(VECTOR_UD, false, 0);
      return Next.Resume;
    case ExitKind.Rdpmc: {
      const value = readCounter(vcpu.msrs, <u32>vcpu.regs.get(Reg.Rcx));
      if (value < 0) {
        vcpu.injectException(VECTOR_GP, true, 0);
        return Next.Resume;
      }
      vcpu.regs.setEdxEax(<u64>value);
      vcpu.skipInstruction();
      return Next.Resume;
    }
    case ExitKind.Mmio:
      return emulateMmio(vm, vcpu, exit);
    case ExitKind.TripleFault:
      vm.stop("triple fault: the guest shut down its CPU", vcpu);
      return Next.Stopped;
    case ExitKind.TaskPriority:
      return emulateTaskPriority(vm, vcpu, exit);
    case ExitKind.ExceptionLoop:
      vm.stop(
        "exception loop: " + EXCEPTION_NAMES[exit.vector] + " raised again while it is delivered, at rip "
          + log.hex(vcpu.rip) + "; no instruction can complete",
        vcpu,
      );
      return Next.Stopped;
    case ExitKind.VirtualizationInstruction:
      vm.stop("the guest executed a virtualization instruction (nested virtualization is not offered)", vcpu);
      return Next.Stopped;
    case ExitKind.InvalidState:
      vm.stop("the CPU refused to enter the guest: invalid guest state (exit code " + log.hex(exit.code) + ")", vcpu);
      return Next.Stopped;
    default:
      vm.stop("unhandled exit: code " + log.hex(exit.code) + ", qualification " + log.hex(exit.qualification), vcpu);
      return Next.Stopped;
  }
}

// IN/OUT through the device bus. The value travels in AL, AX or EAX.
// INS and OUTS take memory instead (portstring.ts).
function portIo(vm: Vm, vcpu: Vcpu, exit: Exit): Next {
  if (exit.isString) return emulatePortString(vm, vcpu, exit);
  const rax = vcpu.regs.get(Reg.Rax);
  if (exit.isWrite) {
    vm.bus.io.write(exit.port, exit.size, rax);
  } else {
    vcpu.regs.set(Reg.Rax, raxAfterIn(rax, exit.size, vm.bus.io.read(exit.port, exit.size)));
  }
  vcpu.skipInstruction();
  vcpu.noteIoBreakpoints(exit);
  return vm.running ? Next.Resume : Next.Stopped;
}

// XSETBV: only XCR0 exists; #UD without CR4.OSXSAVE, #GP for an invalid value
// (Intel SDM Vol. 2C "XSETBV").
function setXcr(vcpu: Vcpu): void {
  if ((vcpu.cr4 & CR4_OSXSAVE) == 0 || !xsaveAvailable()) {
    vcpu.injectException(VECTOR_UD, false, 0);
    return;
  }
  const value = vcpu.regs.edxEax();
  if ((vcpu.regs.get(Reg.Rcx) & 0xffff_ffff) != 0 || !validXcr0(value)) {
    vcpu.injectException(VECTOR_GP, true, 0);
    return;
  }
  vcpu.xstate.change(value);
  vcpu.skipInstruction();
}
