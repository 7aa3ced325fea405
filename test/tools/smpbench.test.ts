// make bench's SMP figures (tools/smpbench.ts) read from console logs shaped
// like the real ones: the count guests' TSC stamps and where their vCPUs
// ran, the hypervisor's lock-wait report, and the ratio of two runs.
import { describe, expect, it } from "vitest";
import {
  countRounds,
  parseCountVms,
  parseLockWaits,
  parseTscRate,
  ratios,
  ScalingRun,
  SmpBenchFailure,
  span,
  TARGET_RATIO,
} from "../../tools/smpbench";

const TSC_PER_MS = 2_445_406;

const SMP2 = [
  "[info ] timer: local APIC timer at 68778 ticks/ms, one-shot; TSC at 2486345 ticks/ms",
  "[info ] vm count-a: entered at tsc 2166223360",
  "[info ] vm count-b: entered at tsc 2209837892",
  "[count-b] count: tsc 0x0000000083c85ba2 0x00000012cae5da3e",
  "[info ] vm count-b: exited with status 0",
  "vm count-b: stopped after 8 exits",
  "vm count-b: vcpu 0 cpu time 13981652367 ns on 1:13981652367",
  "[count-a] count: tsc 0x0000000082a655a0 0x0000001331bac13d",
  "vm count-a: vcpu 0 cpu time 14292119812 ns on 0:14292000000 1:119812",
  "[info ] all virtual machines have stopped",
  "smp: cpu 0 waited for the hypervisor lock 0.00% of its 14301 ms",
  "smp: cpu 1 waited for the hypervisor lock 6.58% of its 14293 ms",
  "",
].join("\r\n");

function run(ticks: number, wallSeconds: number): ScalingRun {
  return {
    cpus: 1,
    ticks,
    seconds: 0,
    vms: [],
    tscPerMs: TSC_PER_MS,
    hypervisorTscPerMs: TSC_PER_MS,
    wallSeconds,
    lockWait: [],
    host: { emulatorCpus: 1, otherCpus: 0, loadBefore: 0 },
  };
}

describe("SMP bench", () => {
  it("reads each count VM's stamps and the CPUs it ran on", () => {
    const vms = parseCountVms(SMP2, ["count-a", "count-b"], TSC_PER_MS);
    expect(vms).toEqual([
      {
        name: "count-a",
        start: 0x82a655a0,
        end: 0x1331bac13d,
        seconds: Math.round((0x1331bac13d - 0x82a655a0) / TSC_PER_MS) / 1000,
        cpuMsOn: { "0": 14292, "1": 0 },
      },
      {
        name: "count-b",
        start: 0x83c85ba2,
        end: 0x12cae5da3e,
        seconds: Math.round((0x12cae5da3e - 0x83c85ba2) / TSC_PER_MS) / 1000,
        cpuMsOn: { "1": 13982 },
      },
    ]);
    expect(span(vms)).toBe(0x1331bac13d - 0x82a655a0);
  });

  it("says which VM left no count line, and why", () => {
    const stopped = SMP2.replace(/\[count-b\] count:.*\r\n/, "[error] vm count-b: stopped: triple fault\r\n");
    expect(() => parseCountVms(stopped, ["count-a", "count-b"], TSC_PER_MS)).toThrow(SmpBenchFailure);
    expect(() => parseCountVms(stopped, ["count-a", "count-b"], TSC_PER_MS)).toThrow(
      /vm count-b: no count or cpu time line \(vm count-b: stopped: triple fault\)/,
    );
  });

  it("reads the hypervisor's TSC rate and each CPU's lock wait", () => {
    expect(parseTscRate(SMP2)).toBe(2486345);
    expect(parseLockWaits(SMP2)).toEqual([
      { cpu: 0, percent: 0, ms: 14301 },
      { cpu: 1, percent: 6.58, ms: 14293 },
    ]);
  });

  it("compares the spans in ticks against the target, and the wall times", () => {
    expect(ratios(run(40_000, 45), run(20_000, 25))).toEqual({
      ratio: 2,
      ratioWall: 1.8,
      target: TARGET_RATIO,
      met: true,
    });
    expect(ratios(run(30_000, 30), run(20_000, 25))).toMatchObject({ ratio: 1.5, met: false });
  });

  it("knows the count guest's length", () => {
    expect(countRounds()).toBeGreaterThan(0);
    expect(countRounds("#define COUNT_ROUNDS 12\n")).toBe(12);
  });
});
