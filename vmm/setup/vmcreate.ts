// Creating a VM: its RAM, its nested page tables and its vCPUs. Flat-binary
// VMs (flatvms.ts) and kernel VMs (kernelvms.ts) are both made here; each
// then adds its platform's devices.

import * as log from "../../kernel/console/log";
import { FrameAllocator } from "../../kernel/mm/frames";
import { PageTable } from "../../kernel/mm/pagetable";
import { LARGE_PAGE_SIZE, PAGE_SIZE } from "../../kernel/mm/range";
import { cpuCount } from "../../kernel/cpu/smp";
import { Backend } from "../core/backend";
import { CpuShare } from "../core/cpushare";
import { GuestMemory } from "../core/guestmemory";
import { Vcpu } from "../core/vcpu";
import { NestedRam, Vm } from "../core/vm";
import { HIGH_RAM_START, LOW_RAM_END } from "../platform/pc/pcimap";

// Why the last VM that could not be made was not: what the management
// API's vm.create answers (api/service.ts).
export let refusal: string = "";

// The VM `name` is not made, for `reason`: said on the console, and kept.
export function notStarted(name: string, reason: string): void {
  refusal = reason;
  log.error("vm " + name + ": " + reason + "; not started");
}

// `mib` MiB of RAM for the VM `name`, host frames at guest-physical 0 up to
// the PC's memory hole and the rest from 4 GiB on (platform/pc/pcimap.ts),
// which read as zero (GuestMemory zeroes each chunk when it is first touched);
// null (reported) if there is not that much contiguous free memory.
export function allocateRam(name: string, mib: u64, frames: FrameAllocator): GuestMemory | null {
  const bytes = mib << 20;
  const hpa = frames.allocContiguous(bytes / PAGE_SIZE, LARGE_PAGE_SIZE);
  if (hpa == 0) {
    notStarted(name, "not enough free memory for " + mib.toString() + " MiB");
    return null;
  }
  const memory = new GuestMemory();
  const low = min(bytes, LOW_RAM_END);
  memory.add(0, hpa, low, true);
  if (bytes > low) memory.add(HIGH_RAM_START, hpa + low, bytes - low, true);
  return memory;
}

// A VM on `memory`: nested page tables mapping exactly its ready RAM, `cpus`
// vCPUs (the application processors waiting for INIT and STARTUP) with their
// local APICs, no devices yet. Null (reported, the RAM released) when
// the backend has no vCPU for it.
export function createVmOn(
  id: u32,
  name: string,
  memory: GuestMemory,
  frames: FrameAllocator,
  backend: Backend,
  cpus: u32,
  share: CpuShare,
): Vm | null {
  const nested = new PageTable(backend.nestedFormat());
  const vcpus: Vcpu[] = [];
  for (let i: u32 = 0; i < cpus; i++) {
    const vcpu = backend.createVcpu(nested);
    if (vcpu === null) {
      notStarted(name, "out of address-space identifiers for vCPU " + i.toString());
      for (let j = 0; j < vcpus.length; j++) vcpus[j].dispose();
      nested.free();
      memory.giveBack(frames);
      return null;
    }
    vcpus.push(vcpu);
  }
  const vm = new Vm(id, name, vcpus, memory);
  vm.nested = nested;
  memory.attach(new NestedRam(vm));
  vm.share.affinity = share.affinity;
  vm.share.weight = share.weight;
  vm.share.capPercent = share.capPercent;
  return vm;
}

// A VM's share of the host's CPUs (core/cpushare.ts): `affinity` a mask of
// host CPUs, `weight` relative, `cap` in percent of one CPU (0: none). Null
// (reported) if the affinity names no CPU this host has.
export function shareOf(name: string, affinity: u32, weight: u32, cap: u32): CpuShare | null {
  const host = cpuCount() >= 32 ? <u32>0xffff_ffff : (<u32>1 << cpuCount()) - 1;
  if ((affinity & host) == 0) {
    notStarted(name, "affinity: none of its CPUs is one of this host's (0 to " + (cpuCount() - 1).toString() + ")");
    return null;
  }
  const share = new CpuShare();
  share.affinity = affinity & host;
  share.weight = weight;
  share.capPercent = cap;
  return share;
}
