// What a CPU's loop (linker/shim.c cpu_loop()) does next, as the kernel
// left it in linear memory: idle, enter a guest through the backend's stub,
// or stop; and the TSC around the guest's run, which the loop stamps. The
// layout is shim.c's struct entry_block.

import { allocPage } from "../../kernel/mm/linearpages";

export const enum Action {
  Idle,
  EnterSvm,
  EnterVmx,
  Stop,
}

// What a backend's exit fast path tells the world-switch stub (boot/svm.S,
// boot/vmx.S; FAST_EXIT_* in boot/guest-regs.h).
export const enum FastExit {
  // Back to the CPU's loop.
  LongWay,
  // Finished: the guest runs on.
  Done,
  // Not finished here: an exit for the lane (sched/scheduler.ts cpuLane()).
  Lane,
  // Not decided yet: linker/shim.c passes these on to the fast path's
  // functions that may call out, and the stub never sees them. A quick
  // port access to try (fastQuickIo()), a store the memo may replay
  // (fastStore()).
  QuickIo,
  Store,
}

const ACTION: usize = 0;
const VCPU: usize = 4;
const REGS: usize = 8;
const LAUNCHED: usize = 12;
const GUEST_VMCB: usize = 16;
const HOST_VMCB: usize = 24;
const ENTERED_TSC: usize = 32;
const EXITED_TSC: usize = 40;
const VMX_STATUS: usize = 48;
const IN_GUEST: usize = 52;

export class EntryBlock {
  // A page of its own: each CPU writes only its own block.
  readonly base: usize = allocPage();

  get action(): Action {
    return <Action>load<u32>(this.base + ACTION);
  }
  set action(a: Action) {
    store<u32>(this.base + ACTION, <u32>a);
  }

  // An AMD-V guest: its VMCB and the CPU's host VMCB (physical), its register block, the vCPU.
  enterSvm(guestVmcb: u64, hostVmcb: u64, regs: usize, vcpu: usize): void {
    store<u64>(this.base + GUEST_VMCB, guestVmcb);
    store<u64>(this.base + HOST_VMCB, hostVmcb);
    this.enter(Action.EnterSvm, regs, vcpu);
  }

  // A VT-x guest, whose VMCS is current on this CPU: VMLAUNCH or VMRESUME.
  enterVmx(launched: bool, regs: usize, vcpu: usize): void {
    store<u32>(this.base + LAUNCHED, launched ? 1 : 0);
    this.enter(Action.EnterVmx, regs, vcpu);
  }

  // Set here, under the hypervisor lock, and cleared by the CPU once the
  // guest's run is over: while set, the CPU may be in the guest.
  private enter(action: Action, regs: usize, vcpu: usize): void {
    store<u32>(this.base + REGS, <u32>regs);
    store<u32>(this.base + VCPU, <u32>vcpu);
    store<u32>(this.base + IN_GUEST, 1);
    this.action = action;
  }

  // The address of the flag, for waitForGuestExit().
  get inGuestFlag(): usize {
    return this.base + IN_GUEST;
  }

  get enteredTsc(): u64 {
    return load<u64>(this.base + ENTERED_TSC);
  }
  get exitedTsc(): u64 {
    return load<u64>(this.base + EXITED_TSC);
  }
  // VT-x: 0 after a VM exit; 1 (VMfailInvalid) or 2 (VMfailValid) if the entry failed.
  get vmxStatus(): u32 {
    return load<u32>(this.base + VMX_STATUS);
  }
}
