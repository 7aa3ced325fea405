// The virtual machine monitor's entry: pick the backend, start the other
// CPUs, build the VMs named by the boot modules (flat binaries,
// setup/flatvms.ts) and by the configuration module (kernels,
// setup/kernelvms.ts), run them until all have stopped.

import { BootModule } from "../kernel/boot/bootinfo";
import * as log from "../kernel/console/log";
import { FrameAllocator } from "../kernel/mm/frames";
import { Backend } from "./core/backend";
import { createVms } from "./setup/flatvms";
import { createConfiguredVms } from "./setup/kernelvms";
import { Virtualization, VirtualizationSupport } from "./hw/detect";
import { runVms } from "./sched/scheduler";
import { formatUtc, readHostClock } from "../kernel/time/wallclock";
import { SvmBackend } from "./hw/svm/backend";
import { VmxBackend } from "./hw/vmx/backend";
import { Rsdp } from "../kernel/acpi/rsdp";
import { startSecondaryCpus } from "../kernel/cpu/smp";
import { startTimer } from "../kernel/cpu/irq";
import { initExtendedState } from "./vcpustate/xstate";

function selectBackend(support: VirtualizationSupport): Backend | null {
  if (support.kind == Virtualization.Svm) return new SvmBackend();
  if (support.kind == Virtualization.Vmx) return new VmxBackend();
  return null;
}

// The backend in use, for the secondary CPUs as they start (and to keep it
// reachable for the garbage collector).
let activeBackend: Backend | null = null;

export function runVmm(
  support: VirtualizationSupport,
  modules: BootModule[],
  frames: FrameAllocator,
  rsdp: Rsdp | null,
): void {
  const backend = selectBackend(support);
  if (backend === null) {
    log.error("vmm: no backend for " + support.name + " yet; no virtual machine can run");
    return;
  }
  initExtendedState();
  const problem = backend.initCpu();
  if (problem !== null) {
    log.error("vmm: " + problem);
    return;
  }
  activeBackend = backend;
  startSecondaryCpus(rsdp, frames);
  // Before the VMs: their vCPUs' CPUID tables report the calibrated TSC.
  startTimer();
  const wall = readHostClock();
  log.info("rtc: the host's clock reads " + formatUtc(wall) + "; VMs' RTCs show it");
  const vms = createVms(modules, frames, backend);
  const configured = createConfiguredVms(modules, frames, backend, <u32>vms.length);
  for (let i = 0; i < configured.length; i++) vms.push(configured[i]);
  if (vms.length == 0) {
    log.info("vmm: no virtual machines configured");
    return;
  }
  runVms(vms);
}

// Runs on each secondary CPU as it comes up (kernel/cpu/smp.ts).
export function startCpu(cpu: u32): void {
  const backend = activeBackend;
  if (backend === null) return;
  const problem = backend.startCpu(cpu);
  if (problem !== null) log.warn("vmm: cpu " + cpu.toString() + ": " + problem);
}
