// make bench, scale: whether an exit's round trip grows with the number of
// VMs on the host (issue 16). N copies of the bench guest
// (test/guests/bench.c) run side by side on one CPU, N = 1, 16 and 64, 16
// MiB each, under QEMU's instruction-counting clock; each times loops of
// CPUID and of OUT to the POST port (the exit fast path). A loop that the
// scheduler preempted also counts the other VMs' slices, so the figure per
// N is the smallest over the VMs (one round trip with N VMs present), the
// median beside it. Also reported: what one VM costs the hypervisor beyond
// its RAM, from its "hypervisor memory" log line (vmm/setup/footprint.ts).

import { boot } from "./harness/index";

export const VM_COUNTS = [1, 16, 64];
const VM_MIB = 16;
const TIMEOUT_MS = 600_000;

export interface RoundTrips {
  min: number;
  median: number;
}
export interface ScaleBench {
  unit: string;
  // VMs present -> figures per round trip.
  cpuidByVms: Record<string, RoundTrips>;
  outByVms: Record<string, RoundTrips>;
  // The hypervisor's memory per 1-vCPU VM beyond its RAM, in KiB.
  footprintKiB: number;
}

export class ScaleBenchFailure extends Error {}

// The figures `name` ("cpuid", "out") of every VM's "BENCH name ticks" line.
export function figuresOf(output: string, name: string): number[] {
  return [...output.matchAll(new RegExp(`BENCH ${name} (\\d+)`, "g"))].map((m) => Number(m[1]));
}

export function roundTrips(figures: number[]): RoundTrips {
  const sorted = [...figures].sort((a, b) => a - b);
  return { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)] };
}

export async function measureScale(): Promise<ScaleBench> {
  const cpuidByVms: Record<string, RoundTrips> = {}, outByVms: Record<string, RoundTrips> = {};
  let footprintKiB = 0;
  for (const n of VM_COUNTS) {
    const machine = await boot({
      platform: "qemu",
      icount: true,
      memoryMiB: 512 + n * VM_MIB,
      cmdline: "exit=emulator",
      modules: Array.from({ length: n }, (_, i) => ({
        path: "build/guests/bench.bin",
        args: `vm=bench${i} mem=${VM_MIB}`,
      })),
    });
    await machine.waitForExit(TIMEOUT_MS);
    const cpuid = figuresOf(machine.output, "cpuid"), out = figuresOf(machine.output, "out");
    if (cpuid.length !== n || out.length !== n) {
      throw new ScaleBenchFailure(`scale: ${cpuid.length} of ${n} bench VMs reported`);
    }
    cpuidByVms[String(n)] = roundTrips(cpuid);
    outByVms[String(n)] = roundTrips(out);
    footprintKiB = Number(/vm bench0: hypervisor memory (\d+) KiB/.exec(machine.output)?.[1]);
  }
  return { unit: "TSC ticks (= instructions) per round trip", cpuidByVms, outByVms, footprintKiB };
}

export function summary(b: ScaleBench): string {
  const row = (figures: Record<string, RoundTrips>) =>
    Object.entries(figures).map(([n, f]) => `${n} VMs ${f.min} (median ${f.median})`).join(", ");
  return `Scale           cpuid: ${row(b.cpuidByVms)}\n                out: ${row(b.outByVms)}\n`
    + `                hypervisor memory per 1-vCPU VM: ${b.footprintKiB} KiB`;
}
