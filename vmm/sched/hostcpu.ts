// One host CPU as the scheduler sees it: its run queue, the slot whose
// slice runs on it, and the entry block its loop in linker/shim.c reads.

import { EntryBlock } from "../core/entryblock";
import { Vcpu } from "../core/vcpu";
import { Vm } from "../core/vm";

// A vCPU in the scheduler's hands: which VM it belongs to, and whether
// another CPU waits for it to be released.
export class Slot {
  // The CPU that asked for it to be released, or -1.
  releaseFor: i32 = -1;
  constructor(public vm: Vm, public vcpu: Vcpu) {}

  get runnable(): bool {
    return this.vm.running && !this.vm.paused && this.vcpu.isRunnable && !this.vcpu.heldByDebugger;
  }

  // The CPU that must let it go before another may run it: where its VMCS
  // is active or its debug registers are loaded; -1 if none.
  boundTo(): i32 {
    const bound = this.vcpu.boundCpu();
    return bound >= 0 ? bound : this.vcpu.debugRegisters.ownerCpu();
  }

  // On `cpu`, the CPU it is bound to: lets it go (boundTo() is -1 after).
  unbind(cpu: u32): void {
    this.vcpu.release();
    this.vcpu.debugRegisters.release(cpu);
  }
}

export const NO_LANE: i32 = -1;

export class HostCpu {
  readonly entry: EntryBlock = new EntryBlock();
  // The vCPUs whose home this CPU is.
  readonly queue: Slot[] = [];
  // Bound to this CPU, wanted by another.
  readonly releases: Slot[] = [];
  // The slot whose slice runs here, or null.
  current: Slot | null = null;
  // The last action given was a guest entry, whose exit comes next.
  entered: bool = false;
  // Halted in its loop, waiting for an interrupt: a kick wakes it.
  idle: bool = false;
  // Virtualization and the alarm are on (at the CPU's first call), or
  // could not be turned on: the CPU runs nothing.
  started: bool = false;
  failed: bool = false;
  // Its exit count when the current slice started.
  sliceExits: u64 = 0;
  // Something changed that the next decision must look at (an interrupt
  // or a STARTUP for a vCPU at home here, a release asked for, a kick).
  // Until then, and until `lookAt`, an exit the guest may resume from goes
  // straight back in (scheduler.ts decide()).
  look: bool = true;
  lookAt: u64 = 0;
  // The outcome (a Next) of an exit the lane handled but did not resume
  // from (scheduler.ts cpuLane()), for cpuNext(); or NO_LANE.
  laneNext: i32 = NO_LANE;
  // When this CPU must next look for others than its current vCPU: a timer
  // of a vCPU at home here (homeDeadline()) and, on CPU 0, the host's own
  // polling (the console, the API, the network).
  homeAt: u64 = 0;
  // homeAt moved while the current vCPU ran on (scheduler.ts wokeInPlace()):
  // its alarm is set again before the guest resumes.
  alarmMoved: bool = false;
  // TSC ticks since it joined, and when it did.
  joinedAt: u64 = 0;

  constructor(readonly id: u32) {}

  // Takes `slot` out of the queue, the others keeping their order. Each
  // slice's end does (scheduler.ts endSlice()), so the ones behind it move
  // up in place: splice() would allocate the array of what it took out.
  remove(slot: Slot): void {
    const q = this.queue, i = q.indexOf(slot);
    if (i < 0) return;
    for (let j = i + 1; j < q.length; j++) unchecked(q[j - 1] = q[j]);
    q.pop();
  }
}
