// What the scheduler tells the console: the CPU time of each vCPU and the
// host CPUs it ran on (when its VM stops, and for the console's status key,
// Ctrl-T s), and how long each CPU waited for the hypervisor lock.

import { lockWaited, rdtsc } from "../../kernel/arch/shim";
import { println } from "../../kernel/console/console";
import { ticksToNs } from "../../kernel/time/tsc";
import { Activity, Vcpu } from "../core/vcpu";
import { Vm } from "../core/vm";
import { HostCpu } from "./hostcpu";

// "status: at N ns", then per vCPU "status: vm NAME vcpu I STATE cpu C time
// N ns on C:N ..." (STATE: running, runnable, halted, waiting, stopped; C
// the CPU it runs on or its home).
export function printStatus(vms: Vm[]): void {
  println("status: at " + ticksToNs(rdtsc()).toString() + " ns");
  for (let i = 0; i < vms.length; i++) {
    const vm = vms[i];
    for (let j = 0; j < vm.vcpus.length; j++) {
      const vcpu = vm.vcpus[j], run = vcpu.runState;
      const cpu = run.runningOn >= 0 ? <u32>run.runningOn : run.homeCpu;
      println(
        "status: vm " + vm.name + " vcpu " + j.toString() + " " + stateOf(vm, vcpu) + " cpu " + cpu.toString()
          + " time " + run.describe(),
      );
    }
  }
}

function stateOf(vm: Vm, vcpu: Vcpu): string {
  if (!vm.running) return "stopped";
  if (vcpu.runState.runningOn >= 0) return "running";
  if (vcpu.activity == Activity.Halted) return "halted";
  if (vcpu.activity == Activity.WaitingForSipi) return "waiting";
  return "runnable";
}

// "smp: cpu N waited for the hypervisor lock X.XX% of its M ms", per CPU.
export function reportLockWaits(cpus: HostCpu[]): void {
  const now = rdtsc();
  for (let i = 0; i < cpus.length; i++) {
    const c = cpus[i];
    if (!c.started) continue;
    const total = now - c.joinedAt, waited = lockWaited(c.id);
    const hundredths = total == 0 ? 0 : (waited * 10000) / total;
    println(
      "smp: cpu " + c.id.toString() + " waited for the hypervisor lock " + (hundredths / 100).toString() + "."
        + (hundredths % 100).toString().padStart(2, "0") + "% of its " + (ticksToNs(total) / 1_000_000).toString()
        + " ms",
    );
  }
}
