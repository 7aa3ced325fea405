// make bench, start-up: the instructions from the hypervisor's first
// instruction to the first instruction of a Linux VM (the Linux bench's
// kernel and command line), for VMs of several sizes, under QEMU's
// instruction-counting clock; the firmware and the boot loader before it are
// reported apart. The goals (issue 16): at most 5 M, and a start-up that
// does not grow with the VM's RAM: the hypervisor makes RAM ready as it is
// touched (vmm/core/guestmemory.ts).
// The host has the same RAM for every size, so that only the VM's size
// changes: the largest VM's and 4 GiB more, as a VM's RAM is one block of
// the host's and QEMU puts the host's RAM past 3.5 GiB above 4 GiB.

import { linuxVmModules } from "./guests/vm";
import { boot } from "./harness/index";
import { BootFailure, CMDLINE, vmBootOptions } from "./linuxbench";

export const SIZES_MIB = [256, 1024, 4096];
const TIMEOUT_MS = 300_000;
const FIRST_INSTRUCTION = /boot: the hypervisor's first instructions ran at tsc (\d+)/;

export interface StartupBench {
  unit: string;
  // VM RAM in MiB -> TSC ticks from the hypervisor's first instruction to
  // the VM's first entry.
  entryByMemoryMib: Record<string, number>;
  // VM RAM in MiB -> TSC at the hypervisor's first instruction (firmware
  // and boot loader).
  firmwareByMemoryMib: Record<string, number>;
}

export async function measureStartup(): Promise<StartupBench> {
  const entryByMemoryMib: Record<string, number> = {};
  const firmwareByMemoryMib: Record<string, number> = {};
  for (const mib of SIZES_MIB) {
    const machine = await boot({
      ...vmBootOptions(),
      memoryMiB: Math.max(...SIZES_MIB) + 4096,
      modules: linuxVmModules("vmlinux", CMDLINE, { memory: mib }),
    });
    try {
      const entry = await machine.waitFor(/vm linux: entered at tsc (\d+)/, TIMEOUT_MS);
      const start = Number(FIRST_INSTRUCTION.exec(machine.output)![1]);
      firmwareByMemoryMib[String(mib)] = start;
      entryByMemoryMib[String(mib)] = Number(entry[1]) - start;
    } catch {
      throw new BootFailure(`start-up: a ${mib} MiB VM was not entered`);
    } finally {
      machine.kill();
    }
  }
  return {
    unit: "TSC ticks (virtual ns, one per instruction)",
    entryByMemoryMib,
    firmwareByMemoryMib,
  };
}

export function summary(b: StartupBench): string {
  const sizes = Object.entries(b.entryByMemoryMib).map(([mib, t]) => `${mib} MiB ${(t / 1e6).toFixed(1)} M`);
  const firmware = Math.min(...Object.values(b.firmwareByMemoryMib));
  return `Start-up        first VM entry from the hypervisor's first instruction: ${
    sizes.join(", ")
  } (firmware before it ${(firmware / 1e6).toFixed(1)} M)`;
}
