// Round-robin over the VMs on one CPU.
//
// Each runnable vCPU runs for one slice: until it yields, halts, stops, runs
// SLICE_MS milliseconds, or takes SLICE_EXITS exits. Two clocks end the
// slice of a guest that never exits: the host's alarm (kernel/cpu/irq.ts),
// which also rings when the vCPU's next timer interrupt is due, and (where
// the backend has one) the VMX preemption timer. A VM that takes
// MAX_BUSY_EXITS exits without ever yielding or halting is flooding the
// hypervisor with exits and is stopped. Interrupts raised for a VM are
// injected at the next entry, or as soon as the guest opens its interrupt
// window.

import * as log from "../../kernel/console/log";
import { pause, rdtsc } from "../../kernel/arch/shim";
import { openInterruptWindow, setAlarm } from "../../kernel/cpu/irq";
import { tscPerMillisecond } from "../../kernel/time/tsc";
import { announceConsoles, pollConsoleInput } from "./consolefocus";
import { Next } from "../core/exit";
import { Activity, Vcpu } from "../core/vcpu";
import { Vm } from "../core/vm";
import { handleExit } from "../emul/exits";

const SLICE_EXITS: u64 = 10000;
const SLICE_MS: u64 = 20;
const MAX_BUSY_EXITS: u64 = 1_000_000;
// Garbage is collected between rounds, every COLLECT_ROUNDS rounds: the
// "minimal" runtime collects only when called, and only objects reachable
// from globals survive, which is why the slots are a global.
const COLLECT_ROUNDS: u32 = 4096;
// The console's input is looked at once a millisecond between slices (and
// all the time while idle): often enough for typing and for the host
// UART's 16-byte FIFO at 115200 baud, and it keeps the look (about 100
// instructions) off the rounds of VMs that yield often.
const INPUT_POLL_MS: u64 = 1;

// One vCPU in the round: a VM has one slot per vCPU.
class Slot {
  exitsAtRest: u64 = 0; // the vCPU's exit count when it last yielded or halted
  constructor(public vm: Vm, public vcpu: Vcpu) {}
}

let slots: Slot[] = [];

export function runVms(vms: Vm[]): void {
  slots = [];
  for (let i = 0; i < vms.length; i++) {
    const vm = vms[i];
    for (let j = 0; j < vm.vcpus.length; j++) slots.push(new Slot(vm, vm.vcpus[j]));
  }
  announceConsoles(vms);
  let nextInputPoll: u64 = 0;
  for (let round: u32 = 1;; round++) {
    if (round % COLLECT_ROUNDS == 0) __collect();
    const now = rdtsc();
    if (now >= nextInputPoll) {
      pollConsoleInput(vms);
      nextInputPoll = now + INPUT_POLL_MS * tscPerMillisecond();
    }
    let runnable = 0;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i];
      if (!slot.vm.running) continue;
      slot.vm.wakeIfPending(slot.vcpu);
      if (slot.vcpu.activity == Activity.Runnable) {
        runnable++;
        runSlice(slot);
      }
    }
    if (runnable == 0 && !idleUntilWakeUp(vms)) break;
  }
  log.info("all virtual machines have stopped");
}

// No vCPU can run: wait for the first timer (local APIC, PIT) of a halted
// vCPU or a key typed for a VM, taking the host's own timer ticks meanwhile.
// A VM that neither a timer nor a key could wake would wait forever and is
// stopped. False when no VM is left.
function idleUntilWakeUp(vms: Vm[]): bool {
  let wakeUp = u64.MAX_VALUE, running = 0;
  for (let i = 0; i < vms.length; i++) {
    const vm = vms[i];
    if (!vm.running) continue;
    const next = vm.nextWakeUp();
    if (next == u64.MAX_VALUE && !vm.waitsForInput) vm.stop("halted with nothing left to wake it");
    else {
      running++;
      wakeUp = min(wakeUp, next);
    }
  }
  while (running > 0 && rdtsc() < wakeUp) {
    if (pollConsoleInput(vms)) break;
    openInterruptWindow();
    pause();
  }
  return running > 0;
}

// The guest's extended registers stay loaded for exactly its slice, its
// debug registers from its slice until another vCPU's (debugregs.ts).
function runSlice(slot: Slot): void {
  const vm = slot.vm, vcpu = slot.vcpu;
  // The boot vCPU's first entry (no exit yet, as every slice takes one): the
  // VM's power-on, for make bench's "VM entry to /init".
  if (vcpu.exits == 0 && vcpu.apicId == 0) log.info("vm " + vm.name + ": entered at tsc " + rdtsc().toString());
  vcpu.xstate.enter();
  vcpu.debugRegisters.enter();
  const rested = runExits(slot);
  vcpu.xstate.leave();
  if (rested) slot.exitsAtRest = vcpu.exits;
  else if (vcpu.exits - slot.exitsAtRest >= MAX_BUSY_EXITS) {
    vm.stop("exit flood: " + MAX_BUSY_EXITS.toString() + " exits without yielding or halting", vcpu);
  }
}

// Runs the VM until its slice ends; true if it yielded, halted or stopped.
// The VMX preemption timer is armed for the slice's length in TSC ticks; it
// also works while the guest has IF=0 under emulators that ignore
// external-interrupt exiting then. The host's alarm rings at the slice's end
// or when the vCPU's next timer interrupt is due (its local APIC timer, the
// PIT), so that the interrupt arrives on time even in a guest that waits for
// it in a loop without exits (Linux's check that the PIT's IRQ0 arrives,
// check_timer()).
function runExits(slot: Slot): bool {
  const vm = slot.vm, vcpu = slot.vcpu;
  const slice = SLICE_MS * tscPerMillisecond();
  const end = rdtsc() + slice;
  vcpu.setPreemptionTimer(slice);
  const firstExit = vcpu.exits;
  while (vcpu.exits - firstExit < SLICE_EXITS) {
    deliverInterrupt(vm, vcpu);
    setAlarm(min(end, vm.nextTimerInterrupt(vcpu)));
    const exit = vcpu.run();
    vm.exitStats.count(exit.kind);
    if (handleExit(vm, vcpu, exit) != Next.Resume) return true;
    if (rdtsc() >= end) break;
  }
  return false;
}

// An interrupt for the vCPU: first what its local APIC has for it, then the
// VM's external interrupts, which go to the boot vCPU. Injected now if the
// guest can take one, else at its interrupt window.
function deliverInterrupt(vm: Vm, vcpu: Vcpu): void {
  // The legacy devices first: bringing them up to now may raise an IRQ that
  // the I/O APIC passes to a local APIC.
  const external = vcpu.apicId == 0 && vm.pollExternalInterrupt();
  const fromApic = vm.apics.pendingVector(vcpu);
  if (fromApic < 0 && !external) return;
  if (!vcpu.canInjectInterrupt()) {
    vcpu.requestInterruptWindow(true);
    return;
  }
  if (fromApic >= 0) {
    vm.apics.of(vcpu).acknowledge(<u8>fromApic);
    vcpu.injectInterrupt(<u8>fromApic);
  } else {
    vcpu.injectInterrupt(vm.takeInterrupt());
  }
}
