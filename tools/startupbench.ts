// make bench, start-up: the instructions from power-on to the first
// instruction of a Linux VM (the Linux bench's kernel and command line), for
// VMs of several sizes, under QEMU's instruction-counting clock. The goal
// (issue 16) is a start-up that does not grow with the VM's RAM: the
// hypervisor makes RAM ready as it is touched (vmm/core/guestmemory.ts).
// The host has the same RAM for every size, the largest VM's and 512 MiB
// more, so that only the VM's size changes.

import { linuxVmModules } from "./guests/vm";
import { boot } from "./harness/index";
import { BootFailure, CMDLINE, vmBootOptions } from "./linuxbench";

export const SIZES_MIB = [256, 1024, 2048];
const TIMEOUT_MS = 300_000;

export interface StartupBench {
  unit: string;
  // VM RAM in MiB -> TSC at the VM's first entry, from power-on.
  entryByMemoryMib: Record<string, number>;
}

export async function measureStartup(): Promise<StartupBench> {
  const entryByMemoryMib: Record<string, number> = {};
  for (const mib of SIZES_MIB) {
    const machine = await boot({
      ...vmBootOptions(),
      memoryMiB: Math.max(...SIZES_MIB) + 512,
      modules: linuxVmModules("vmlinux", CMDLINE, { memory: mib }),
    });
    try {
      const entry = await machine.waitFor(/vm linux: entered at tsc (\d+)/, TIMEOUT_MS);
      entryByMemoryMib[String(mib)] = Number(entry[1]);
    } catch {
      throw new BootFailure(`start-up: a ${mib} MiB VM was not entered`);
    } finally {
      machine.kill();
    }
  }
  return { unit: "TSC ticks from power-on (virtual ns, one per instruction)", entryByMemoryMib };
}

export function summary(b: StartupBench): string {
  const sizes = Object.entries(b.entryByMemoryMib).map(([mib, t]) => `${mib} MiB ${(t / 1e6).toFixed(1)} M`);
  return `Start-up        first VM entry from power-on: ${sizes.join(", ")}`;
}
