// The virtual machine monitor's entry: pick the backend, start the other
// CPUs, build the VMs named by the boot modules (flat binaries,
// setup/flatvms.ts) and by the configuration module (kernels,
// setup/kernelvms.ts), and give them to the scheduler, which every CPU
// then runs them from.

import { BootModule } from "../kernel/boot/bootinfo";
import * as log from "../kernel/console/log";
import { FrameAllocator } from "../kernel/mm/frames";
import { Backend } from "./core/backend";
import { createVms } from "./setup/flatvms";
import { configuredApiToken, createConfiguredVms } from "./setup/kernelvms";
import { Virtualization, VirtualizationSupport } from "./hw/detect";
import { startScheduler } from "./sched/scheduler";
import { formatUtc, readHostClock } from "../kernel/time/wallclock";
import { SvmBackend } from "./hw/svm/backend";
import { VmxBackend } from "./hw/vmx/backend";
import { Rsdp } from "../kernel/acpi/rsdp";
import { startSecondaryCpus } from "../kernel/cpu/smp";
import { startTimer } from "../kernel/cpu/irq";
import { scanHostDisks } from "./storage/hostdisks";
import { scanPci } from "../kernel/pci/functions";
import { initExtendedState } from "./vcpustate/xstate";
import { startDebugSession } from "./debug/session";
import { startApi } from "./api/service";
import { KernelHost } from "./host";

function selectBackend(support: VirtualizationSupport): Backend | null {
  if (support.kind == Virtualization.Svm) return new SvmBackend();
  if (support.kind == Virtualization.Vmx) return new VmxBackend();
  return null;
}

// Picks the backend, starts the other CPUs, builds the VMs and hands them
// to the scheduler; false if there is nothing to run (no VM, and no API to
// create one). `debugged` names the
// VM a gdb client may debug on COM2 (debug/session.ts), "" for none;
// `apiToken` (or the configuration's, vmm/setup/config/api.ts) opens the
// management API on COM2 otherwise (api/service.ts),
// and `version` is the hypervisor's, which it reports. The CPUs then run
// the VMs from their loops (linker/shim.c, sched/scheduler.ts cpuNext()).
export function runVmm(
  support: VirtualizationSupport,
  modules: BootModule[],
  frames: FrameAllocator,
  rsdp: Rsdp | null,
  debugged: string,
  apiToken: string,
  version: string,
): bool {
  const backend = selectBackend(support);
  if (backend === null) {
    log.error("vmm: no backend for " + support.name + " yet; no virtual machine can run");
    return false;
  }
  initExtendedState();
  const problem = backend.initCpu();
  if (problem !== null) {
    log.error("vmm: " + problem);
    return false;
  }
  startSecondaryCpus(rsdp, frames);
  // Before the VMs: their vCPUs' CPUID tables report the calibrated TSC.
  startTimer();
  const wall = readHostClock();
  log.info("rtc: the host's clock reads " + formatUtc(wall) + "; VMs' RTCs show it");
  // Before the VMs, which may name the host's partitions as their disks;
  // after the timer, whose calibration the disks' timeouts count in. The
  // configuration decides what becomes of the host's Ethernet controller.
  const pci = scanPci();
  scanHostDisks(pci);
  const vms = createVms(modules, frames, backend);
  const configured = createConfiguredVms(modules, frames, backend, <u32>vms.length, pci);
  for (let i = 0; i < configured.length; i++) vms.push(configured[i]);
  // The command line's token wins over the configuration's.
  const token = apiToken.length > 0 ? apiToken : configuredApiToken();
  // With the API, VMs may be created later; without it, nothing would run.
  if (vms.length == 0) {
    log.info("vmm: no virtual machines configured" + (token.length > 0 ? "; the management API may create them" : ""));
    if (token.length == 0) return false;
  }
  if (debugged.length > 0) startDebugSession(vms, debugged);
  if (token.length > 0) startApi(vms, new KernelHost(version, frames), token, debugged.length > 0);
  startScheduler(vms, backend, frames);
  return true;
}
