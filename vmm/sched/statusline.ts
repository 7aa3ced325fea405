// The screen's status line (kernel/console/screen.ts): each VM with its
// number (the one Ctrl-T takes), its state and the share of one host CPU its
// vCPUs had since the last update, and a "*" on the VM the console types
// into: " Typervisor | 0 debian* running 87% | 1 debian-2 idle 0% | ...".

import { rdtsc } from "../../kernel/arch/shim";
import { setStatusLine } from "../../kernel/console/screen";
import { Vm } from "../core/vm";

let lastUpdate: u64 = 0;
// Per VM (by index), its vCPUs' ticks in the guest at the last update.
const lastTicks: u64[] = [];

export function updateStatusLine(vms: Vm[], focus: i32): void {
  const now = rdtsc(), elapsed = max<u64>(now - lastUpdate, 1);
  let text = " Typervisor";
  for (let i = 0; i < vms.length; i++) {
    const vm = vms[i];
    let ticks: u64 = 0;
    for (let j = 0; j < vm.vcpus.length; j++) ticks += vm.vcpus[j].runState.ticks;
    if (lastTicks.length <= i) lastTicks.push(0);
    const percent = ((ticks - lastTicks[i]) * 100) / elapsed;
    lastTicks[i] = ticks;
    const state = !vm.running ? "stopped" : percent > 0 ? "running" : "idle";
    text += " | " + i.toString() + " " + vm.name + (i == focus ? "*" : "") + " " + state + " " + percent.toString()
      + "%";
  }
  lastUpdate = now;
  setStatusLine(text);
}
