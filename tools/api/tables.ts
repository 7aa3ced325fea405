// The CLI's tables (tools/typervisor.ts), laid out as Xen's `xl list` lays
// out its own: a header, then one row per VM, left-aligned names and
// right-aligned figures.

import type { BootOverride, VmInfo, VmList, VmStats } from "./client";

const MIB = 1024 * 1024;

function table(header: string[], rows: string[][], leftColumns = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < leftColumns ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

// `typervisor list`: Name, ID, Mem (MiB), VCPUs, State, Time(s).
export function listTable(list: VmList): string {
  return table(
    ["Name", "ID", "Mem", "VCPUs", "State", "Time(s)"],
    list.vms.map((vm) => [
      vm.name,
      String(vm.id),
      String(Math.round(vm.memory_bytes / MIB)),
      String(vm.vcpus),
      vm.state,
      (vm.cpu_ns / 1e9).toFixed(1),
    ]),
  );
}

// `typervisor info NAME`: the VM, then a row per vCPU.
export function infoText(vm: VmInfo): string {
  const lines = [
    `name:        ${vm.name} (id ${vm.id})`,
    `state:       ${vm.state}${vm.stop_reason ? ` (${vm.stop_reason}${vm.fault ? ", a fault" : ""})` : ""}`,
    `memory:      ${Math.round(vm.memory_bytes / MIB)} MiB, and ${
      Math.ceil(vm.hypervisor_memory_bytes / 1024)
    } KiB of the hypervisor's`,
    `affinity:    host CPUs ${vm.share.affinity.join(",")}, weight ${vm.share.weight}, cap ${
      vm.share.cap_percent ? `${vm.share.cap_percent}%` : "none"
    }`,
    `rebootable:  ${vm.rebootable ? "yes" : "no (a flat binary)"}`,
    ...(vm.kernel
      ? [
        `booted:      ${vm.kernel.boot_source} (of ${vm.kernel.boot_sources.join(", ")})`,
        `next boot:   ${overrideText(vm.kernel.boot_override)}`,
      ]
      : []),
    "",
    table(
      ["VCPU", "Activity", "Home", "Running on", "Ran on"],
      vm.vcpus.map((v) => [
        String(v.index),
        v.activity,
        String(v.home_cpu),
        v.running_on < 0 ? "-" : String(v.running_on),
        v.ran_on.join(","),
      ]),
      0,
    ),
  ];
  return lines.join("\n");
}

// What a VM's next boots take, as `info` and `boot` say it.
export function overrideText(override: BootOverride): string {
  if (override.source === "None") return "its own kernel";
  return `${override.source}, ${override.continuous ? "every boot" : "once"}`;
}

// One VM's row of `typervisor top` between two samples.
export interface TopRow {
  name: string;
  state: string;
  cpuPercent: number;
  exitsPerSecond: number;
  vcpus: number;
  memoryMiB: number;
}

// CPU % (of one host CPU) and exits per second of each VM from `before` to `after`.
export function topRows(before: VmList, after: VmList): TopRow[] {
  const seconds = (after.time_ns - before.time_ns) / 1e9;
  return after.vms.map((vm) => {
    const old = before.vms.find((v) => v.name === vm.name) ?? vm;
    return {
      name: vm.name,
      state: vm.state,
      cpuPercent: seconds > 0 ? ((vm.cpu_ns - old.cpu_ns) / 1e9 / seconds) * 100 : 0,
      exitsPerSecond: seconds > 0 ? (vm.exits - old.exits) / seconds : 0,
      vcpus: vm.vcpus,
      memoryMiB: Math.round(vm.memory_bytes / MIB),
    };
  });
}

export function topTable(rows: TopRow[]): string {
  return table(
    ["Name", "State", "CPU(%)", "Exits/s", "VCPUs", "Mem"],
    rows.map((r) => [
      r.name,
      r.state,
      r.cpuPercent.toFixed(1),
      Math.round(r.exitsPerSecond).toString(),
      String(r.vcpus),
      String(r.memoryMiB),
    ]),
    2,
  );
}

// `typervisor stats NAME`: CPU time per vCPU and exits by kind.
export function statsText(s: VmStats): string {
  const vcpus = table(
    ["VCPU", "CPU(s)", "Exits"],
    s.vcpus.map((v) => [String(v.index), (v.cpu_ns / 1e9).toFixed(3), String(v.exits)]),
    0,
  );
  const kinds = Object.entries(s.exits.handled_by_kind).sort((a, b) => b[1] - a[1]);
  const exits = table(
    ["Exit", "Count"],
    [...kinds.map(([k, n]) => [k, String(n)]), ["(in the backend)", String(s.exits.finished_in_backend)]],
  );
  const parts = [`${s.name}: ${s.state}, ${s.exits.total} exits`, vcpus, "", exits];
  if (s.disks.length > 0) {
    const rows = s.disks.map((d) => [
      d.id,
      String(d.reads),
      mib(d.bytes_read),
      String(d.writes),
      mib(d.bytes_written),
      String(d.failed_requests),
    ]);
    parts.push("", table(["Disk", "Reads", "Read(MiB)", "Writes", "Written(MiB)", "Failed"], rows));
  }
  if (s.nics.length > 0) {
    const rows = s.nics.map((n) => [
      n.id,
      String(n.frames_sent),
      String(n.frames_received),
      String(Object.values(n.frames_dropped).reduce((a, b) => a + b, 0)),
    ]);
    parts.push("", table(["NIC", "Sent", "Received", "Dropped"], rows));
  }
  return parts.join("\n");
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}
