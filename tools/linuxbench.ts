// make bench, the Linux part: how long Debian's kernel takes from power-on
// to /init booted bare under QEMU, and in a Typervisor VM under QEMU's
// AMD-V, and the ratio of the two (target: at most 1.3). tools/bench.ts
// runs it after the exit round trips; docs/linux-bench.md has the method
// and the figures.
//
// The clock is the TSC. Under -icount shift=0,sleep=off it counts virtual
// nanoseconds from the emulator's power-on: one per instruction, and when
// every CPU halts it jumps to the next timer deadline instead of sleeping.
// With the CPU model below, ICOUNT_ARGS' RTC and the console in a file
// (tools/harness/serialfile.ts) each figure is the same on every run, to the
// last digit, whatever else the host runs. Both boots get the same kernel
// (the PVH vmlinux), initramfs, command line, CPU model and RAM; /init's
// first command, tscstamp (tools/guests/tscstamp.c), prints the TSC.
// Typervisor passes its guests the host's TSC without an offset, so the
// VM's stamp counts from the same power-on; the hypervisor also prints the
// TSC at the VM's first entry and, when the VM stops, its exits by kind
// (vmm/core/exitstats.ts).

import { bootGuest, DEFAULT_APPEND, GuestBootOptions } from "./guests/boot";
import { ensureGuests } from "./guests/debian";
import { parseTscStamp } from "./guests/tscstamp";
import { HOST_MEMORY_MIB, linuxVmModules, VM_MEMORY_MIB, VM_NAME } from "./guests/vm";
import { boot, BootOptions, Machine } from "./harness/index";

export const TARGET_RATIO = 1.3;
export const CMDLINE = `${DEFAULT_APPEND} typervisor.poweroff`;
export const PLATFORM = "QEMU 7.2 TCG -cpu max,-rdrand,-rdseed -icount shift=0,sleep=off -rtc clock=vm";
const BOOT_TIMEOUT_MS = 900_000;

export interface VmFigures {
  // TSC at the VM's first entry and at /init, both from power-on.
  entry: number;
  toInit: number;
  entryToInit: number;
  // Over the VM's whole life (to its power-off): every exit, the ones that
  // reached handleExit() by kind, and the rest.
  exits: number;
  exitsByKind: Record<string, number>;
  finishedInBackend: number;
}

export interface LinuxBench {
  unit: string;
  platform: string;
  kernel: string;
  cmdline: string;
  bare: { toInit: number; wallSeconds: number };
  vm: VmFigures & { backend: string; wallSeconds: number };
  // VM to /init over bare to /init, both from power-on (the figure the
  // target applies to), and the VM's from its first entry instead.
  ratio: number;
  ratioFromVmEntry: number;
  target: number;
  met: boolean;
}

// A boot that did not get as far as /init, with what the console says about why.
export class BootFailure extends Error {}

function failure(what: string, output: string): BootFailure {
  const reason = /vm \S+: stopped: .*|panic: .*|Kernel panic.*/.exec(output);
  return new BootFailure(`${what}: no tscstamp line${reason ? ` (${reason[0].trim()})` : ""}`);
}

export function parseBare(output: string): number {
  const toInit = parseTscStamp(output);
  if (toInit === null) throw failure("bare", output);
  return toInit;
}

// The console of the hypervisor with the VM: the entry line, the stamp in the
// VM's lines, and the exit report of vm.ts and exitstats.ts.
export function parseVm(output: string, name = VM_NAME): VmFigures {
  const text = output.replace(/\r/g, "");
  const entry = new RegExp(`vm ${name}: entered at tsc (\\d+)\n`).exec(text);
  const toInit = parseTscStamp(
    text.split("\n").filter((l) => l.startsWith(`[${name}] `)).map((l) => l.slice(name.length + 3)).join("\n") + "\n",
  );
  if (!entry || toInit === null) throw failure("in a VM", text);
  const stopped = new RegExp(
    `vm ${name}: stopped after (\\d+) exits\nvm ${name}: exits handled:(.*); (\\d+) finished in the backend\n`,
  ).exec(text);
  if (!stopped) throw new BootFailure(`in a VM: no exit report after /init`);
  const exitsByKind: Record<string, number> = {};
  for (const m of stopped[2].matchAll(/ ([a-z-]+) (\d+)/g)) exitsByKind[m[1]] = Number(m[2]);
  return {
    entry: Number(entry[1]),
    toInit,
    entryToInit: toInit - Number(entry[1]),
    exits: Number(stopped[1]),
    exitsByKind,
    finishedInBackend: Number(stopped[3]),
  };
}

export function ratios(bare: number, vm: VmFigures): Pick<LinuxBench, "ratio" | "ratioFromVmEntry" | "target" | "met"> {
  const round = (x: number) => Math.round(x * 1000) / 1000;
  const ratio = round(vm.toInit / bare);
  return { ratio, ratioFromVmEntry: round(vm.entryToInit / bare), target: TARGET_RATIO, met: ratio <= TARGET_RATIO };
}

async function collect(machine: Machine): Promise<{ output: string; wallSeconds: number }> {
  const started = Date.now();
  await machine.waitForExit(BOOT_TIMEOUT_MS);
  return { output: machine.output, wallSeconds: Math.round((Date.now() - started) / 100) / 10 };
}

// The same CPU model and clock for both; the bare machine has the VM's RAM.
// Without RDRAND and RDSEED, whose values QEMU takes from the host's random
// source, Linux's boot takes the same path on every run: with them its
// random seeds, and so its instruction counts, differ each time (by up to
// half a percent; docs/linux-bench.md). The hypervisor passes the host's
// CPUID on, so the guest lacks them too.
export const CPU = "max,-rdrand,-rdseed";
export const BARE_BOOT: GuestBootOptions = {
  vmlinux: true,
  cpu: CPU,
  icount: true,
  memoryMiB: VM_MEMORY_MIB,
  append: CMDLINE,
};

export function vmBootOptions(): BootOptions {
  return {
    platform: "qemu",
    qemuCpu: CPU,
    icount: true,
    memoryMiB: HOST_MEMORY_MIB,
    cmdline: "exit=emulator",
    modules: linuxVmModules("vmlinux", CMDLINE),
  };
}

// Boots both at once: each emulator is one thread.
export async function measureLinuxBoot(): Promise<LinuxBench> {
  const manifest = ensureGuests({ log: (s) => console.log(`guest-kernels: ${s}`) });
  const [bare, vm] = await Promise.all([collect(bootGuest(BARE_BOOT)), collect(await boot(vmBootOptions()))]);
  const bareToInit = parseBare(bare.output);
  const vmFigures = parseVm(vm.output);
  return {
    unit: "TSC ticks from power-on (virtual ns, one per instruction)",
    platform: PLATFORM,
    kernel: `${manifest.kernel.release} vmlinux (PVH entry)`,
    cmdline: CMDLINE,
    bare: { toInit: bareToInit, wallSeconds: bare.wallSeconds },
    vm: { backend: "AMD-V", ...vmFigures, wallSeconds: vm.wallSeconds },
    ...ratios(bareToInit, vmFigures),
  };
}

export function summary(r: LinuxBench): string {
  const kinds = Object.entries(r.vm.exitsByKind).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(", ");
  return [
    `Linux to /init  ${r.platform}, ${r.kernel}`,
    `  bare       ${r.bare.toInit} ticks`,
    `  in a VM    ${r.vm.toInit} ticks (VM entered at ${r.vm.entry}: ${r.vm.entryToInit} from VM entry)`,
    `             ${r.vm.exits} exits to power-off: ${kinds}, ${r.vm.finishedInBackend} finished in the backend`,
    `  ratio      ${r.ratio} from power-on, ${r.ratioFromVmEntry} from VM entry; target at most ${r.target}: ${
      r.met ? "met" : "not met"
    }`,
  ].join("\n");
}
