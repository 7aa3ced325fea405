// The typervisor command's tables (tools/api/tables.ts): `list` in the
// columns of Xen's `xl list`, and `top`'s CPU share and exit rate between
// two samples of vms.list.
import { describe, expect, it } from "vitest";
import type { VmList } from "../../tools/api/client";
import { listTable, topRows, topTable } from "../../tools/api/tables";

const MIB = 2 ** 20;
const sample = (timeNs: number, alpha: [number, number], beta: [number, number]): VmList => ({
  time_ns: timeNs,
  vms: [
    { name: "alpha", id: 0, state: "running", vcpus: 2, memory_bytes: 16 * MIB, cpu_ns: alpha[0], exits: alpha[1] },
    {
      name: "beta-long-name",
      id: 1,
      state: "paused",
      vcpus: 1,
      memory_bytes: 256 * MIB,
      cpu_ns: beta[0],
      exits: beta[1],
    },
  ],
});

describe("typervisor's tables", () => {
  it("lists VMs as xl list does: names left, figures right, CPU time in seconds", () => {
    expect(listTable(sample(0, [12_345_000_000, 0], [0, 0])).split("\n")).toEqual([
      "Name            ID  Mem  VCPUs    State  Time(s)",
      "alpha            0   16      2  running     12.3",
      "beta-long-name   1  256      1   paused      0.0",
    ]);
  });

  it("gives top each VM's share of one CPU and its exits per second between two samples", () => {
    const rows = topRows(sample(1e9, [1e9, 100], [5e8, 7]), sample(3e9, [2.5e9, 2100], [5e8, 7]));
    expect(rows.map((r) => [r.name, r.cpuPercent, r.exitsPerSecond])).toEqual([["alpha", 75, 1000], [
      "beta-long-name",
      0,
      0,
    ]]);
    expect(topTable(rows).split("\n")[1]).toBe("alpha           running    75.0     1000      2   16");
  });
});
