// Round-robin over the VMs on one CPU.
//
// Each runnable VM runs for one slice: until it yields, halts, stops, uses
// SLICE_TICKS timer ticks, or takes SLICE_EXITS exits. Two clocks end the
// slice of a guest that never exits: the host's timer interrupt, and (where
// the backend has one) the VMX preemption timer, armed for the slice's
// length in TSC ticks; the latter also works while the guest has IF=0 under
// emulators that ignore external-interrupt exiting then. A VM that takes MAX_BUSY_EXITS exits
// without ever yielding or halting is flooding the hypervisor with exits
// and is stopped. Interrupts raised for a VM are injected at the next entry,
// or as soon as the guest opens its interrupt window.

import * as log from "../kernel/console/log";
import { ticks, tscPerMillisecond, TICK_MICROSECONDS } from "../kernel/cpu/irq";
import { handleExit, Next } from "./exits";
import { MsrState } from "./msrpolicy";
import { Vm, VmState } from "./vm";

const SLICE_EXITS: u64 = 10000;
const SLICE_TICKS: u64 = 2;
const MAX_BUSY_EXITS: u64 = 1_000_000;
// Garbage is collected between rounds, every COLLECT_ROUNDS rounds: the
// "minimal" runtime collects only when called, and only objects reachable
// from globals survive, which is why the slots are a global.
const COLLECT_ROUNDS: u32 = 4096;

class Slot {
  msrs: MsrState = new MsrState();
  exitsAtRest: u64 = 0; // the VM's exit count when it last yielded or halted
  constructor(public vm: Vm) {}
}

let slots: Slot[] = [];

export function runVms(vms: Vm[]): void {
  slots = [];
  for (let i = 0; i < vms.length; i++) slots.push(new Slot(vms[i]));
  for (let round: u32 = 1; ; round++) {
    if (round % COLLECT_ROUNDS == 0) __collect();
    let runnable = 0, halted = 0;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i];
      if (slot.vm.state == VmState.Runnable) { runnable++; runSlice(slot); }
      else if (slot.vm.state == VmState.Halted) halted++;
    }
    if (runnable == 0) {
      // Nothing can wake a halted VM yet (no timers): each would wait forever.
      for (let i = 0; i < slots.length; i++) {
        if (slots[i].vm.state == VmState.Halted) slots[i].vm.stop("halted with nothing left to wake it");
      }
      if (halted == 0) break;
    }
  }
  log.info("all virtual machines have stopped");
}

// The guest's extended registers stay loaded for exactly its slice, its
// debug registers from its slice until another vCPU's (debugregs.ts).
function runSlice(slot: Slot): void {
  const vm = slot.vm, vcpu = vm.vcpu;
  vcpu.xstate.enter();
  vcpu.debugRegisters.enter();
  const rested = runExits(slot);
  vcpu.xstate.leave();
  if (rested) slot.exitsAtRest = vm.exits;
  else if (vm.exits - slot.exitsAtRest >= MAX_BUSY_EXITS) {
    vm.stop("exit flood: " + MAX_BUSY_EXITS.toString() + " exits without yielding or halting");
  }
}

// Runs the VM until its slice ends; true if it yielded, halted or stopped.
function runExits(slot: Slot): bool {
  const vm = slot.vm, vcpu = vm.vcpu;
  const start = ticks();
  vcpu.setPreemptionTimer(SLICE_TICKS * TICK_MICROSECONDS / 1000 * tscPerMillisecond());
  const firstExit = vcpu.exits;
  while (vcpu.exits - firstExit < SLICE_EXITS) {
    deliverInterrupt(vm);
    const exit = vcpu.run();
    if (handleExit(vm, vcpu, slot.msrs, exit) != Next.Resume) return true;
    if (ticks() - start >= SLICE_TICKS) break;
  }
  return false;
}

function deliverInterrupt(vm: Vm): void {
  if (!vm.hasPendingInterrupt) return;
  if (vm.vcpu.canInjectInterrupt()) vm.vcpu.injectInterrupt(vm.takeInterrupt());
  else vm.vcpu.requestInterruptWindow(true);
}
