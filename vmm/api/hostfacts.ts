// The host's facts as the management API tells them (host.get, /metrics,
// Redfish's Processors), its ping from the management address
// (ping.start, ping.get), its shutdown (host.shutdown), making and
// destroying VMs (vm.create, vm.destroy) and its random numbers
// (Redfish's session tokens): from the kernel (vmm/host.ts), or made up
// by a unit test.

import { Vm } from "../core/vm";
import { PingFigures } from "../net/ip/ping";
import { JsonValue } from "../setup/config/json";

export abstract class HostFacts {
  abstract get version(): string;
  abstract get cpus(): u32;
  // The CPUs' vendor ("AuthenticAMD", CPUID leaf 0) and brand string
  // (leaves 0x80000002-4, "" if it has none), which the vCPUs report too.
  abstract get cpuVendor(): string;
  abstract get cpuModel(): string;
  abstract get freeBytes(): u64;
  // The hypervisor's own pages in use: page tables, VMCBs and VMCSs, bitmaps.
  abstract get pagesBytes(): u64;
  // Since the host started.
  abstract get nowNs(): u64;
  // Starts echoes to `address` (a.b.c.d as a << 24 | ... | d); false if
  // the host has no management address to send them from.
  abstract startPing(address: u32): bool;
  // The last ping's figures, or null if none was started.
  abstract get lastPing(): PingFigures | null;
  // Powers off every VM still running and then the host; `who` asked.
  abstract shutdown(who: string): void;
  // A VM made from one configuration entry (as in the file's "vms"),
  // numbered `id`, beside the host's VMs `vms`, which it joins; null if
  // the entry has problems (added to `errors`) or the host lacks what it
  // needs (refusal says what).
  abstract createVm(entry: JsonValue, id: u32, vms: Vm[], errors: string[]): Vm | null;
  abstract get refusal(): string;
  // The stopped VM leaves the host's list now; what it held goes back once
  // no CPU holds a vCPU of it.
  abstract destroyVm(vm: Vm): void;
  // Fills `into` from the CPU's random number generator; false if it has none.
  abstract random(into: Uint8Array): bool;
}
