// A guest's NMI blocking on AMD-V, which the VMM tracks itself.
//
// A CPU blocks NMIs from an NMI's delivery until the next IRET completes
// (APM Vol. 2 8.2.3). An NMI injected through EVENTINJ blocks them in the
// guest as well, but without the NMI virtualization feature (QEMU 7.2 has
// none) the VMCB shows no such state and no exit says when it ends. So at
// each injection the IRET intercept goes on; it exits before the IRET runs
// (APM 15.9), and the first exit at another RIP means the IRET completed.
// To deliver a latched NMI right after that IRET, or right after an STI or
// MOV SS shadow, the VMM single-steps the guest over the one instruction:
// TF set, the #DB intercepted, the trap after it taken as the window and
// hidden from the guest. A maskable interrupt waiting out a shadow and a
// debugger's single step (vmm/debug, Vcpu.stepOnce()) are the same step
// with other purposes.

import { DR6_BS, RFLAGS_IF, RFLAGS_TF } from "../../../kernel/arch/x86";
import * as V from "./vmcb";

const EXIT_DEBUG_TRAP: u64 = V.EXIT_EXCEPTION_BASE + 1;

export class NmiWindow {
  // Between an injected NMI and the guest's next completed IRET.
  blocked: bool = false;
  // Where the IRET intercept stopped the guest, or -1.
  private iretAt: i64 = -1;
  // A single step of the VMM's is under way, over an IRET if `overIret`;
  // DR6 as the guest had it before.
  private stepping: bool = false;
  private overIret: bool = false;
  private guestDr6: u64 = 0;
  // The step under way is (also) the debugger's; and whether the trap
  // atExit() last hid ended one.
  private forDebugger: bool = false;
  debuggerTrap: bool = false;

  constructor(private vmcb: V.Vmcb) {}

  // Power-up: nothing blocked, nothing intercepted.
  reset(): void {
    this.blocked = false;
    this.iretAt = -1;
    this.stepping = false;
    this.forDebugger = false;
    this.interceptIret(false);
  }

  // Whether an NMI injected now would be delivered: none blocking, no
  // interrupt shadow, no other event on its way in (EVENTINJ holds one).
  canInject(): bool {
    const vmcb = this.vmcb;
    return !this.blocked && (vmcb.get64(V.INTERRUPT_SHADOW) & 1) == 0
      && (vmcb.get64(V.EVENT_INJECTION) & V.EVENT_VALID) == 0;
  }

  inject(): void {
    this.vmcb.set64(V.EVENT_INJECTION, 2 | V.EVENT_TYPE_NMI | V.EVENT_VALID);
    this.blocked = true;
    this.interceptIret(true);
  }

  // The IRET intercept: the IRET is about to run; the intercept has done its work.
  iretIntercepted(): void {
    this.iretAt = <i64>this.vmcb.get64(V.RIP);
    this.interceptIret(false);
  }

  // An exit after an NMI could not be injected. Where the IRET intercept
  // is still to come, it is the window; else one instruction is stepped.
  // No step when the guest single-steps itself (its own trap exits), or
  // when an event goes in first (an injected one, or a virtual interrupt
  // the guest takes at once): its handler would find the VMM's TF in the
  // RFLAGS it saved. Then the next exit of any kind looks again; the
  // scheduler's alarm bounds the wait.
  open(interruptQueued: bool): void {
    const vmcb = this.vmcb, rflags = vmcb.get64(V.RFLAGS);
    if ((this.blocked && this.iretAt < 0) || this.stepping || (rflags & RFLAGS_TF) != 0) return;
    if ((vmcb.get64(V.EVENT_INJECTION) & V.EVENT_VALID) != 0) return;
    if (interruptQueued && (rflags & RFLAGS_IF) != 0) return;
    this.startStep(this.blocked);
  }

  // A maskable interrupt's window under an interrupt shadow (svmvcpu.ts,
  // requestInterruptWindow()): one instruction stepped, unless an event
  // goes in first, whose delivery ends the shadow, or a step is under way
  // or the guest's own. True if a step will end the shadow.
  stepOverShadow(): bool {
    const vmcb = this.vmcb;
    if (this.stepping) return true;
    if ((vmcb.get64(V.EVENT_INJECTION) & V.EVENT_VALID) != 0 || (vmcb.get64(V.RFLAGS) & RFLAGS_TF) != 0) return false;
    this.startStep(this.blocked && this.iretAt >= 0);
    return true;
  }

  // The debugger's step, the same way. A guest that single-steps itself
  // already exits after the instruction: nothing to add.
  stepForDebugger(): void {
    if (this.stepping) this.forDebugger = true;
    else if ((this.vmcb.get64(V.RFLAGS) & RFLAGS_TF) == 0) {
      this.forDebugger = true;
      this.startStep(this.blocked && this.iretAt >= 0);
    }
  }

  private startStep(overIret: bool): void {
    const vmcb = this.vmcb;
    this.stepping = true;
    this.overIret = overIret;
    this.guestDr6 = vmcb.get64(V.DR6);
    vmcb.set64(V.RFLAGS, vmcb.get64(V.RFLAGS) | RFLAGS_TF);
  }

  // At every exit, before anything reads the guest's state: notes a
  // completed IRET and ends a step. True if the exit is the step's own
  // trap, which the guest must not see.
  atExit(code: u64): bool {
    const vmcb = this.vmcb;
    if (this.iretAt >= 0 && vmcb.get64(V.RIP) != <u64>this.iretAt) {
      this.blocked = false;
      this.iretAt = -1;
    }
    if (!this.stepping) return false;
    this.stepping = false;
    this.debuggerTrap = this.forDebugger && code == EXIT_DEBUG_TRAP;
    this.forDebugger = false;
    // A completed IRET loaded the guest's own RFLAGS; else TF is still ours.
    if (!this.overIret || this.blocked) vmcb.set64(V.RFLAGS, vmcb.get64(V.RFLAGS) & ~RFLAGS_TF);
    if (code != EXIT_DEBUG_TRAP) return false;
    // The trap is the step's alone if it added nothing to DR6 but BS.
    const dr6 = (vmcb.get64(V.DR6) & ~DR6_BS) | (this.guestDr6 & DR6_BS);
    vmcb.set64(V.DR6, dr6);
    vmcb.dirty(V.CLEAN_DEBUG_REGISTERS);
    return dr6 == this.guestDr6;
  }

  private interceptIret(on: bool): void {
    const vmcb = this.vmcb, misc = vmcb.get32(V.INTERCEPT_MISC1) & ~V.INTERCEPT_IRET;
    vmcb.set32(V.INTERCEPT_MISC1, on ? misc | V.INTERCEPT_IRET : misc);
    vmcb.dirty(V.CLEAN_INTERCEPTS);
  }
}
