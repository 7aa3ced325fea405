// make bench, the SMP part: how the hypervisor scales with host CPUs, and
// how long its CPUs wait for the hypervisor lock. tools/bench.ts runs it
// last; docs/smp-bench.md has the method and the figures.
//
// Scaling: two VMs of the CPU-bound count guest (test/guests/count.c), which
// stamps the TSC before and after a loop without exits, booted together on
// QEMU -smp 1 and then on -smp 2 (multi-threaded TCG: each emulated CPU a
// host thread). A run's time is the span from the first VM's start stamp to
// the last VM's end stamp: the boot, the VMs' set-up and the shutdown are
// left out. QEMU's TCG gives its guests the host's TSC, which the hypervisor
// passes through, so the ratio of the two spans in ticks is the scaling
// (target: at least 1.8). To seconds they go at a rate this side measures:
// TSC ticks between the first VM's entry line and the last count line over
// the host's milliseconds between their arrivals; the hypervisor's own
// calibration, 10 ms of the emulated PIT, is off by percents when the host
// is busy. The clock is the host's (no -icount, which would put both CPUs on
// one thread), so the figures depend on what else the machine runs: each run
// also says how many host CPUs the emulator had and everything else took.
//
// Lock wait: the exit-heavy guest suite of the system tests
// (tools/harness/suite.ts) on -smp 2, and the hypervisor's own report of
// the share of its time each CPU waited for the lock (vmm/sched/report.ts).

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { boot, BootOptions, Machine, Module } from "./harness/index";
import { ALL_GUESTS } from "./harness/suite";

export const TARGET_RATIO = 1.8;
export const PLATFORM = "QEMU 7.2 TCG -cpu max, host clock (-accel tcg,thread=multi on -smp 2)";
export const COUNT_VMS = ["count-a", "count-b"];
const MEMORY_MIB = 256;
const RUN_TIMEOUT_MS = 600_000;

export interface LockWait {
  cpu: number;
  percent: number;
  // The CPU's time from its joining the scheduler to the report (in the
  // hypervisor's milliseconds, at its calibrated TSC rate).
  ms: number;
}

export interface CountVm {
  name: string;
  // TSC before and after the loop, and the seconds between them.
  start: number;
  end: number;
  seconds: number;
  // The vCPU's time in the guest per host CPU ("0": ms), as the hypervisor
  // reports it (at its calibrated TSC rate): where the VM ran.
  cpuMsOn: Record<string, number>;
}

// Where the host's CPUs went while the emulator ran: the emulator's CPU
// time and everyone else's, each divided by the wall time (so 2.0 is both
// cores), and the load average before the run.
export interface HostShare {
  emulatorCpus: number;
  otherCpus: number;
  loadBefore: number;
}

export interface ScalingRun {
  cpus: number;
  // First VM's start stamp to the last VM's end stamp.
  ticks: number;
  seconds: number;
  vms: CountVm[];
  // TSC ticks per ms: measured from this side, and the hypervisor's.
  tscPerMs: number;
  hypervisorTscPerMs: number;
  // The emulator from its start to its exit, boot and shutdown included.
  wallSeconds: number;
  lockWait: LockWait[];
  host: HostShare;
}

export interface SmpBench {
  platform: string;
  guest: string;
  smp1: ScalingRun;
  smp2: ScalingRun;
  // smp1.ticks / smp2.ticks (the figure the target applies to), and the
  // same of the emulators' wall times, boot included.
  ratio: number;
  ratioWall: number;
  target: number;
  met: boolean;
  lockWait: { cpus: number; vms: string[]; perCpu: LockWait[]; wallSeconds: number; host: HostShare };
  // The SMP part's own wall time, all three boots.
  seconds: number;
}

// A run whose console lacks a figure, with what it says about why.
export class SmpBenchFailure extends Error {}

function failure(what: string, output: string): SmpBenchFailure {
  const reason = /vm \S+: stopped: .*|panic: .*|vmm: .*/.exec(output);
  return new SmpBenchFailure(`${what}${reason ? ` (${reason[0].trim()})` : ""}`);
}

// The count guest's rounds of 2^28 iterations, from its source.
export function countRounds(source = readFileSync("test/guests/count.c", "latin1")): number {
  const m = /#define COUNT_ROUNDS (\d+)/.exec(source);
  if (!m) throw new Error("test/guests/count.c: no COUNT_ROUNDS");
  return Number(m[1]);
}

// "smp: cpu N waited for the hypervisor lock X.XX% of its M ms", per CPU.
export function parseLockWaits(output: string): LockWait[] {
  return [...output.matchAll(/smp: cpu (\d+) waited for the hypervisor lock (\d+\.\d+)% of its (\d+) ms/g)].map((
    m,
  ) => ({ cpu: Number(m[1]), percent: Number(m[2]), ms: Number(m[3]) }));
}

// The "TSC at N ticks/ms" the hypervisor calibrated.
export function parseTscRate(output: string): number {
  const m = /TSC at (\d+) ticks\/ms/.exec(output);
  if (!m) throw failure("no TSC rate", output);
  return Number(m[1]);
}

const countLine = (name: string) => new RegExp(`\\[${name}\\] count: tsc 0x([0-9a-f]+) 0x([0-9a-f]+)\r?\n`);
const ENTRY_LINE = /vm (\S+): entered at tsc (\d+)\r?\n/;

// The count VMs' stamps, in seconds at `tscPerMs`, and where they ran
// ("vm NAME: vcpu 0 cpu time N ns on C:N ...").
export function parseCountVms(output: string, names: string[], tscPerMs: number): CountVm[] {
  const text = output.replace(/\r/g, "");
  return names.map((name) => {
    const stamps = countLine(name).exec(text);
    const time = new RegExp(`vm ${name}: vcpu 0 cpu time \\d+ ns on((?: \\d+:\\d+)+)\n`).exec(text);
    if (!stamps || !time) throw failure(`vm ${name}: no count or cpu time line`, text);
    const start = parseInt(stamps[1], 16), end = parseInt(stamps[2], 16);
    const cpuMsOn: Record<string, number> = {};
    for (const on of time[1].trim().split(" ")) {
      const [cpu, ns] = on.split(":");
      cpuMsOn[cpu] = Math.round(Number(ns) / 1e6);
    }
    return { name, start, end, seconds: seconds(end - start, tscPerMs), cpuMsOn };
  });
}

const seconds = (ticks: number, tscPerMs: number) => Math.round(ticks / tscPerMs) / 1000;

// From the first VM's start to the last one's end, in TSC ticks.
export function span(vms: CountVm[]): number {
  return Math.max(...vms.map((v) => v.end)) - Math.min(...vms.map((v) => v.start));
}

export function ratios(smp1: ScalingRun, smp2: ScalingRun): Pick<SmpBench, "ratio" | "ratioWall" | "target" | "met"> {
  const round = (x: number) => Math.round(x * 1000) / 1000;
  const ratio = round(smp1.ticks / smp2.ticks);
  return {
    ratio,
    ratioWall: round(smp1.wallSeconds / smp2.wallSeconds),
    target: TARGET_RATIO,
    met: ratio >= TARGET_RATIO,
  };
}

// Clock ticks of the CPU time of this process's reaped children (the
// emulator, once it has exited) and of the whole machine's busy time.
const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
function childTicks(): number {
  // Fields after the command's closing parenthesis, from field 3 (state):
  // cutime and cstime are fields 16 and 17.
  const fields = readFileSync("/proc/self/stat", "latin1").split(")").pop()!.trim().split(" ");
  return Number(fields[13]) + Number(fields[14]);
}
function machineBusyTicks(): number {
  // user nice system idle iowait irq softirq steal: all but idle and iowait.
  const [user, nice, system, , , irq, softirq, steal] = readFileSync("/proc/stat", "latin1").split("\n")[0].trim()
    .split(/\s+/).slice(1).map(Number);
  return user + nice + system + irq + softirq + (steal ?? 0);
}

interface Boot<T> {
  output: string;
  wallSeconds: number;
  host: HostShare;
  watched: T;
}

// Boots `modules` on `cpus` CPUs, runs `watch` on the console meanwhile,
// waits for the hypervisor to halt, and says where the host's CPUs went.
async function run<T>(cpus: number, modules: BootOptions["modules"], watch: (m: Machine) => Promise<T>) {
  const loadBefore = Number(readFileSync("/proc/loadavg", "latin1").split(" ")[0]);
  const children = childTicks(), busy = machineBusyTicks(), started = performance.now();
  // A thread per CPU: the scaling and lock figures are about CPUs at work at once.
  const machine = await boot({
    platform: "qemu",
    memoryMiB: MEMORY_MIB,
    cpus,
    threadPerCpu: true,
    modules,
    cmdline: "exit=emulator",
  });
  const watched = await watch(machine).catch((e: Error) => e);
  const exit = await machine.waitForExit(RUN_TIMEOUT_MS);
  const wall = (performance.now() - started) / 1000;
  if (watched instanceof Error || exit.status !== 0) {
    const what = watched instanceof Error ? watched.message.split("\n")[0] : `exit status ${exit.status}`;
    throw failure(`-smp ${cpus}: ${what}`, machine.output);
  }
  const emulator = (childTicks() - children) / CLOCK_TICKS / wall;
  const all = (machineBusyTicks() - busy) / CLOCK_TICKS / wall;
  const round = (x: number, n: number) => Math.round(x * n) / n;
  const host = { emulatorCpus: round(emulator, 100), otherCpus: round(Math.max(0, all - emulator), 100), loadBefore };
  return { output: machine.output, wallSeconds: round(wall, 10), host, watched } satisfies Boot<T>;
}

// The TSC at the first VM entry and at the last count line, and the host's
// clock (ms) when each line arrived.
async function watchCounts(m: Machine) {
  const entry = await m.waitFor(ENTRY_LINE, RUN_TIMEOUT_MS);
  const entryAt = performance.now();
  let lastEnd = 0;
  for (const name of COUNT_VMS) {
    lastEnd = Math.max(lastEnd, parseInt((await m.waitFor(countLine(name), RUN_TIMEOUT_MS))[2], 16));
  }
  return { entry: Number(entry[2]), entryAt, lastEnd, lastEndAt: performance.now() };
}

async function scaling(cpus: number): Promise<ScalingRun> {
  const modules = COUNT_VMS.map((name) => ({ path: "build/guests/count.bin", args: `vm=${name}` }));
  const b = await run(cpus, modules, watchCounts);
  const w = b.watched;
  const tscPerMs = Math.round((w.lastEnd - w.entry) / (w.lastEndAt - w.entryAt));
  const vms = parseCountVms(b.output, COUNT_VMS, tscPerMs);
  const ticks = span(vms);
  return {
    cpus,
    ticks,
    seconds: seconds(ticks, tscPerMs),
    vms,
    tscPerMs,
    hypervisorTscPerMs: parseTscRate(b.output),
    wallSeconds: b.wallSeconds,
    lockWait: parseLockWaits(b.output),
    host: b.host,
  };
}

// One run after the other: -smp 1, -smp 2, the suite on -smp 2.
export async function measureSmp(): Promise<SmpBench> {
  const started = performance.now();
  const smp1 = await scaling(1);
  const smp2 = await scaling(2);
  const suite = await run(2, ALL_GUESTS, async () => {});
  const perCpu = parseLockWaits(suite.output);
  if (perCpu.length !== 2) throw failure("the guest suite: no lock-wait line for each CPU", suite.output);
  return {
    platform: PLATFORM,
    guest: `two VMs of test/guests/count.c, ${countRounds()} x 2^28 loop iterations each, no exits`,
    smp1,
    smp2,
    ...ratios(smp1, smp2),
    lockWait: {
      cpus: 2,
      vms: ALL_GUESTS.map((m) => /vm=(\S+)/.exec(m.args)![1]),
      perCpu,
      wallSeconds: suite.wallSeconds,
      host: suite.host,
    },
    seconds: Math.round((performance.now() - started) / 1000),
  };
}

export function summary(r: SmpBench): string {
  const host = (h: HostShare) => `emulator had ${h.emulatorCpus} CPUs, others took ${h.otherCpus}`;
  const line = (x: ScalingRun) =>
    `  -smp ${x.cpus}     ${x.seconds.toFixed(2).padStart(6)} s first start to last end (VMs `
    + `${x.vms.map((v) => `${v.seconds.toFixed(2)} s on CPU ${Object.keys(v.cpuMsOn).join("+")}`).join(", ")}; `
    + `${x.wallSeconds} s wall; ${host(x.host)})`;
  const waits = (w: LockWait[]) => w.map((c) => `cpu ${c.cpu} ${c.percent.toFixed(2)}% of ${c.ms} ms`).join(", ");
  return [
    `SMP scaling     ${r.platform}, ${r.guest}`,
    line(r.smp1),
    line(r.smp2),
    `  ratio      ${r.ratio} (wall clock with boot ${r.ratioWall}); target at least ${r.target}: ${
      r.met ? "met" : "not met"
    }`,
    `Lock wait       -smp 2, the guest suite (${r.lockWait.vms.length} VMs): ${waits(r.lockWait.perCpu)}`,
    `                (${r.lockWait.wallSeconds} s wall; ${host(r.lockWait.host)}); in the -smp 2 count run: `
    + waits(r.smp2.lockWait),
    `SMP part        ${r.seconds} s`,
  ].join("\n");
}

// Run on its own: tsx tools/smpbench.ts (prints the figures and their JSON).
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const r = await measureSmp();
  console.log(summary(r));
  console.log(JSON.stringify(r, null, 2));
}
