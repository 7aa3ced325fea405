// The registers of a host PCI function that a hypervisor driver takes over
// (the NVMe and AHCI controllers, vmm/storage/hostdisks.ts; the uplink's
// Ethernet controller, vmm/net/uplink.ts): the memory BAR that holds them,
// mapped if the firmware put it where the host page tables do not reach,
// and the function's command register set for a driver that polls and
// lets the device reach memory (PCI Local Bus Specification 3.0, 6.2.2
// the command register, 6.2.5 BARs).

import { linearBase } from "../arch/shim";
import * as log from "../console/log";
import { UNCACHED } from "../mm/hostpaging";
import { hostMemory } from "../mm/memory";
import { alignDown, alignUp, PAGE_SIZE } from "../mm/range";
import { Bar, BUS_MASTER, INTX_DISABLE, MEMORY_SPACE, PciFunction } from "./functions";

// The host page tables map device memory below 4 GiB (kernel/mm/hostpaging.ts).
const DEVICE_MEMORY_END: u64 = 1 << 32;

// The address of the registers memory BAR `index` of `f` decodes, with
// memory decoding and bus mastering on and INTx off (the drivers poll), or
// 0 if they are out of reach (logged).
export function driverRegisters(f: PciFunction, index: i32, name: string): u64 {
  const bars = f.bars();
  let bar: Bar | null = null;
  for (let i = 0; i < bars.length; i++) if (bars[i].index == index && !bars[i].io) bar = bars[i];
  if (bar === null) {
    log.warn(name + ": BAR" + index.toString() + " holds no memory address; controller skipped");
    return 0;
  }
  if (bar.address >= DEVICE_MEMORY_END && !mapRegisters(f, bar, name)) return 0;
  f.command(MEMORY_SPACE | BUS_MASTER | INTX_DISABLE, 0);
  return bar.address;
}

// Maps a BAR that the firmware put above 4 GiB (OVMF does), where the host
// tables map only RAM, uncached like the PCI hole below; false (logged) if
// it reaches the hypervisor's own window at linearBase().
function mapRegisters(f: PciFunction, bar: Bar, name: string): bool {
  const start = alignDown(bar.address, PAGE_SIZE), end = alignUp(bar.address + f.memoryBarSize(bar), PAGE_SIZE);
  if (end > linearBase()) {
    log.warn(name + ": registers at " + log.hex(bar.address) + ", beyond what the host can map; controller skipped");
    return false;
  }
  hostMemory!.hostTable.map(start, start, end - start, UNCACHED);
  log.debug(name + ": registers at " + log.hex(bar.address) + " mapped uncached, " + log.size(end - start));
  return true;
}
