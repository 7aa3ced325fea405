// System test: every host CPU at work (vmm/sched/scheduler.ts), measured
// under AMD-V (QEMU TCG, which takes its CPUs in turns on one thread, and
// keeps every CPU's TSC going, docs/smp.md "Four emulator bugs") and under
// VT-x (Bochs, likewise). Busy VMs (test/guests/busy.S, an endless loop without exits)
// share one CPU by their weights (512 against 256: twice the time) and keep
// to their cap (25 % of one otherwise idle CPU) and to their affinity (each
// on the one CPU it may use); a 2-vCPU Linux VM runs two busy loops on two
// host CPUs at once, and a 4-vCPU one boots on two. Every figure comes from
// the console's status key (Ctrl-T s, vmm/sched/report.ts), read at two
// moments seconds apart: each vCPU's time in the guest, in all and per host
// CPU, against the hypervisor's clock, both in TSC ticks. The busy VMs
// never stop; their tests end by killing the emulator. The Linux VMs power
// off, which the management API (on COM2) reports with each vCPU's time,
// and the host shuts down when asked. The Linux tests are skipped when the
// guest kernel cannot be had.
import { describe, expect, it } from "vitest";
import { HOST_MEMORY_MIB, linuxVmModules } from "../../tools/guests/vm";
import { withSerialApi } from "../../tools/harness/apirun";
import { boot, BootOptions, Machine, Module } from "../../tools/harness/index";
import { linuxGuests, POWERED_OFF, powerOffAtShell } from "./run";

const manifest = linuxGuests("smp");

const STATUS_KEY = "\x14s"; // Ctrl-T, then s
const SHELL = /Enter 'help' for a list of built-in commands\.\r?\n/;
// Long enough for the slices (20 ms) and cap periods (50 ms) at either end
// of a window to matter little.
const WINDOW_MS = 8_000;

interface VcpuStatus {
  state: string;
  cpu: number;
  time: number;
  // Guest time per host CPU.
  on: Map<number, number>;
}

interface Status {
  at: number;
  // By "VM/vCPU".
  vcpus: Map<string, VcpuStatus>;
}

// Types the status key and parses the report: "status: at N ns", then
// "status: vm NAME vcpu I STATE cpu C time N ns on C:N ..." per vCPU.
async function status(machine: Machine, vcpus: number): Promise<Status> {
  const from = machine.output.length;
  machine.send(STATUS_KEY);
  const block = await machine.waitFor(
    new RegExp(String.raw`status: at (\d+) ns\r?\n((?:status: vm [^\r\n]*\r?\n){${vcpus}})`),
    30_000,
    from,
  );
  const result: Status = { at: Number(block[1]), vcpus: new Map() };
  for (const line of block[2].split(/\r?\n/).filter((l) => l.length > 0)) {
    const m = /^status: vm (\S+) vcpu (\d+) (\w+) cpu (\d+) time (\d+) ns on((?: \d+:\d+)*)$/.exec(line);
    expect(m, line).not.toBeNull();
    const on = new Map([...m![6].matchAll(/(\d+):(\d+)/g)].map((p) => [Number(p[1]), Number(p[2])]));
    result.vcpus.set(`${m![1]}/${m![2]}`, { state: m![3], cpu: Number(m![4]), time: Number(m![5]), on });
  }
  return result;
}

// What happened between two reports: the hypervisor's time passed, and each
// vCPU's guest time, in all and per host CPU.
function between(before: Status, after: Status) {
  const wall = after.at - before.at;
  const vcpus = new Map<string, { time: number; on: Map<number, number> }>();
  for (const [name, a] of after.vcpus) {
    const b = before.vcpus.get(name)!;
    const on = new Map([...a.on].map(([cpu, ns]) => [cpu, ns - (b.on.get(cpu) ?? 0)] as [number, number]));
    vcpus.set(name, { time: a.time - b.time, on });
  }
  return { wall, vcpus };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const busy = (args: string): Module => ({ path: "build/guests/busy.bin", args });
const seconds = (ns: number) => `${(ns / 1e9).toFixed(3)} s`;

// Boots busy VMs, waits until every one has entered its guest and run a
// moment, and returns the machine and the status reports at both ends of a
// window of WINDOW_MS.
async function measureBusy(opts: Partial<BootOptions>, modules: Module[]) {
  const machine = await boot({ platform: "qemu", memoryMiB: 256, cmdline: "exit=emulator", ...opts, modules });
  try {
    for (const m of modules) {
      await machine.waitFor(new RegExp(`vm ${/vm=(\S+)/.exec(m.args)![1]}: entered at tsc`), 60_000);
    }
    await sleep(1_000);
    const before = await status(machine, modules.length);
    await sleep(WINDOW_MS);
    const after = await status(machine, modules.length);
    return { before, after, ...between(before, after), output: machine.output };
  } finally {
    machine.kill();
  }
}

describe("every core at work: weights, caps and affinity of busy VMs", () => {
  // One host CPU, so the two contend for it all the time.
  it("gives two busy VMs on one CPU time in proportion to their weights, 512 to 256", async () => {
    const run = await measureBusy({ cpus: 1 }, [busy("vm=heavy weight=512"), busy("vm=light weight=256")]);
    const heavy = run.vcpus.get("heavy/0")!.time, light = run.vcpus.get("light/0")!.time;
    const ratio = heavy / light;
    console.log(
      `weights: heavy ${seconds(heavy)}, light ${seconds(light)} in ${seconds(run.wall)}: ratio ${ratio.toFixed(3)}`,
    );
    // The CPU ran the guests nearly all the time, and in the ratio of their weights.
    expect(heavy + light).toBeGreaterThan(0.8 * run.wall);
    expect(Math.abs(ratio / 2 - 1)).toBeLessThan(0.05);
  }, 120_000);

  // Alone, uncapped, it would have the CPU all the time. The cap's budget
  // is in TSC ticks, like the hypervisor's clock the status reports.
  it("holds a busy VM capped at 25 to 25 % of an otherwise idle CPU", async () => {
    const run = await measureBusy({ cpus: 1 }, [busy("vm=capped cap=25")]);
    const time = run.vcpus.get("capped/0")!.time, percent = (100 * time) / run.wall;
    console.log(`cap: ${seconds(time)} in ${seconds(run.wall)}: ${percent.toFixed(2)} %`);
    expect(Math.abs(percent - 25)).toBeLessThan(1.25);
  }, 120_000);

  // Listed first, the VM pinned to CPU 1 would have CPU 0 as its home if
  // placement ignored affinity (it picks the CPU with the fewest vCPUs).
  it("keeps busy VMs on the host CPU their affinity names, both running at once", async () => {
    const run = await measureBusy({ cpus: 2 }, [busy("vm=one affinity=1"), busy("vm=zero affinity=0")]);
    for (const [name, cpu] of [["one/0", 1], ["zero/0", 0]] as const) {
      const { time, on } = run.vcpus.get(name)!;
      console.log(`affinity: ${name} ${seconds(time)} of ${seconds(run.wall)}, on ${[...on.keys()].join(",")}`);
      for (const report of [run.before, run.after]) {
        const vcpu = report.vcpus.get(name)!;
        expect(vcpu.cpu).toBe(cpu);
        expect([...vcpu.on.keys()]).toEqual([cpu]);
      }
      // Each had its CPU most of the time: the two ran side by side.
      expect(time).toBeGreaterThan(0.8 * run.wall);
    }
  }, 120_000);
});

describe.skipIf(!manifest)("every core at work: SMP Linux on two host CPUs", () => {
  const linux = (vcpus: number, platform: "qemu" | "bochs" = "qemu"): BootOptions => ({
    platform,
    cpus: 2,
    memoryMiB: HOST_MEMORY_MIB,
    modules: linuxVmModules("vmlinux", "console=ttyS0", { cpus: vcpus }),
  });

  // Two busy loops in a 2-vCPU VM: Linux puts one on each vCPU, and each
  // vCPU stays on its home CPU (vCPU 0 on CPU 0, vCPU 1 on CPU 1). Guest
  // time beyond the window's length means both vCPUs were in their guests
  // at once for at least the excess. Both emulators run the two CPUs in
  // turns on one thread here (QEMU in slices of many blocks, Bochs of a few
  // instructions) and keep both TSCs going, so for the hypervisor the two
  // CPUs run at once all the time: nearly twice the window. What the lock
  // costs with a thread per CPU, `make bench` measures (tools/smpbench.ts).
  it.each(["qemu", "bochs"] as const)(
    "runs a 2-vCPU Linux VM's two busy loops on both host CPUs at once (%s)",
    async (platform) => {
      await withSerialApi(linux(2, platform), async (machine, client) => {
        await machine.waitFor(SHELL, 300_000);
        let from = machine.output.length;
        machine.send("yes > /dev/null & yes > /dev/null & echo started-$((6 * 7))\n");
        await machine.waitFor(/\[linux\] started-42\r?\n/, 60_000, from);
        await sleep(1_000);
        const before = await status(machine, 2);
        await sleep(WINDOW_MS);
        const after = await status(machine, 2);
        from = machine.output.length;
        machine.send("kill %1 %2; wait; echo stopped-$((6 * 7))\n");
        await machine.waitFor(/\[linux\] stopped-42\r?\n/, 60_000, from);
        const { end, exit } = await powerOffAtShell(machine, client);

        const { wall, vcpus } = between(before, after);
        const total = [...vcpus.values()].reduce((sum, v) => sum + v.time, 0);
        const perCpu = (v: { on: Map<number, number> }) => [...v.on].map(([c, ns]) => `${c}:${seconds(ns)}`).join(" ");
        console.log(
          `linux on ${platform}: ${seconds(total)} of guest time in ${seconds(wall)} (${
            (total / wall).toFixed(2)
          } CPUs); `
            + [...vcpus].map(([name, v]) => `${name} ${perCpu(v)}`).join(", ") + "\n"
            + machine.output.match(/smp: cpu \d+ waited for the hypervisor lock [^\r\n]*/g)!.join("\n"),
        );
        expect(total).toBeGreaterThan(1.2 * wall);
        // Each vCPU ran mostly on a host CPU of its own.
        const mainCpu = (name: string) => {
          const { time, on } = vcpus.get(name)!;
          const [cpu, ns] = [...on].sort((a, b) => b[1] - a[1])[0];
          expect(ns).toBeGreaterThan(0.8 * time);
          return cpu;
        };
        expect(new Set([mainCpu("linux/0"), mainCpu("linux/1")]).size).toBe(2);
        expect(end.info).toMatchObject(POWERED_OFF);
        expect(machine.output).not.toMatch(/Kernel panic|BUG:|Oops|WARNING:/);
        expect(exit.status).toBe(0);
      });
    },
    400_000,
  );

  // Overcommitted: four vCPUs take turns on two CPUs.
  it("boots a 4-vCPU Linux VM on two host CPUs to its shell, which counts 4 processors", async () => {
    await withSerialApi(linux(4), async (machine, client) => {
      await machine.waitFor(SHELL, 300_000);
      const from = machine.output.length;
      machine.send("grep -c processor /proc/cpuinfo\n");
      const answer = await machine.waitFor(/\[linux\] (\d+)\r?\n/, 60_000, from);
      expect(Number(answer[1])).toBe(4);
      const report = await status(machine, 4);
      for (const [name, vcpu] of report.vcpus) expect(vcpu.time, name).toBeGreaterThan(0);
      const { end, exit } = await powerOffAtShell(machine, client);
      expect(end.info).toMatchObject(POWERED_OFF);
      // Each vCPU ran in its guest.
      expect(end.stats.vcpus.map((vcpu) => [vcpu.index, vcpu.cpu_ns > 0])).toEqual([0, 1, 2, 3].map((i) => [i, true]));
      expect(machine.output).not.toMatch(/Kernel panic|BUG:|Oops|WARNING:/);
      expect(machine.output).toContain("typervisor: shutdown");
      expect(exit.status).toBe(0);
    });
  }, 400_000);
});
