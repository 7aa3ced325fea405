// The host as the management API sees it and changes it (api/hostfacts.ts):
// its version, CPUs and their model, free memory and clock, its ping, its
// shutdown, its random numbers, and making and destroying VMs, which takes
// the configuration's checks and loaders (setup/kernelvms.ts) and the
// scheduler (sched/scheduler.ts), layers above the API.

import { rdtsc } from "../kernel/arch/shim";
import { brand, vendor } from "../kernel/cpu/cpuid";
import { randomBytes } from "../kernel/cpu/random";
import { cpuCount } from "../kernel/cpu/smp";
import { FrameAllocator } from "../kernel/mm/frames";
import { pagesInUseBytes } from "../kernel/mm/linearpages";
import { ticksToNs, tscPerMillisecond } from "../kernel/time/tsc";
import { HostFacts } from "./api/hostfacts";
import { requestShutdown } from "./core/hostpower";
import { Vm } from "./core/vm";
import { hasManagement } from "./net/ip/management";
import { lastPing, PingFigures, startPing } from "./net/ip/ping";
import { admitVm, retireVm } from "./sched/scheduler";
import { JsonValue } from "./setup/config/json";
import { createVmFromEntry } from "./setup/kernelvms";
import { refusal } from "./setup/vmcreate";

export class KernelHost extends HostFacts {
  constructor(private readonly hypervisorVersion: string, private readonly frames: FrameAllocator) {
    super();
  }
  get version(): string {
    return this.hypervisorVersion;
  }
  get cpus(): u32 {
    return cpuCount();
  }
  get cpuVendor(): string {
    return vendor();
  }
  get cpuModel(): string {
    return brand();
  }
  get freeBytes(): u64 {
    return this.frames.freeBytes;
  }
  get pagesBytes(): u64 {
    return <u64>pagesInUseBytes();
  }
  // The TSC counts from the processor's reset.
  get nowNs(): u64 {
    return ticksToNs(rdtsc());
  }
  startPing(address: u32): bool {
    if (!hasManagement()) return false;
    startPing(address, rdtsc());
    return true;
  }
  get lastPing(): PingFigures | null {
    return lastPing(rdtsc(), tscPerMillisecond());
  }
  shutdown(who: string): void {
    requestShutdown(who, rdtsc(), tscPerMillisecond());
  }
  random(into: Uint8Array): bool {
    return randomBytes(into, 0, into.length, false) == into.length;
  }
  createVm(entry: JsonValue, id: u32, vms: Vm[], errors: string[]): Vm | null {
    const vm = createVmFromEntry(entry, id, vms, errors);
    if (vm !== null) admitVm(vm);
    return vm;
  }
  get refusal(): string {
    return refusal;
  }
  destroyVm(vm: Vm): void {
    retireVm(vm);
  }
}
