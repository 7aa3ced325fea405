// The guest kernel of .cache/guests as Typervisor VMs: the boot modules that
// make them, namely the kernel, the initramfs and the JSON configuration that
// names them (docs/vmm.md, "VMs from the configuration module"). Shared by
// the Linux system tests and make bench, which boots the same kernel bare
// with the same memory size. One VM, or several side by side on the same
// kernel and initramfs (the network tests).

import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { Module } from "../harness/index";
import { guestPaths, writeAtomically } from "./debian";

export type KernelImage = "vmlinux" | "bzImage";

export const VM_NAME = "linux";
export const VM_MEMORY_MIB = 256;
// The emulated machine around the hypervisor: the VM's RAM and room for the
// modules, the hypervisor and its page tables.
export const HOST_MEMORY_MIB = 768;

// A disk of the VM: an image file, loaded as a boot module (a RAM disk), or
// a GPT partition of a host disk, by name (the hypervisor's NVMe driver).
export interface VmDisk {
  path?: string;
  partition?: string;
  readonly?: boolean;
  // Caps on what the VM may do with it (vmm/setup/config/disks.ts).
  iops?: number;
  bytesPerSecond?: number;
}

// A network card of the VM, on the host's virtual switch (vmm/setup/config/nics.ts):
// an access port on `vlan` (VLAN 1 if neither is given) or a trunk.
export interface VmNic {
  mac?: string;
  vlan?: number;
  trunk?: number[];
  bytesPerSecond?: number;
}

export interface VmOptions {
  cpus?: number;
  memory?: number;
  // The VM's UART: "com1" (the default), "com2" or "none" (vmm/setup/config/config.ts).
  console?: string;
  disks?: VmDisk[];
  nics?: VmNic[];
  // Alternate boot sources by their Redfish names (vmm/setup/config/bootsources.ts),
  // each the other kernel image with the initramfs and its own command line.
  bootSources?: Record<string, { kernel: KernelImage; cmdline: string }>;
}

// One VM of several: its name and kernel command line besides its options.
export interface LinuxVm extends VmOptions {
  name: string;
  cmdline: string;
}

export function linuxVmModules(kernel: KernelImage, cmdline: string, opts: VmOptions = {}): Module[] {
  return linuxVmsModules(kernel, [{ name: VM_NAME, cmdline, ...opts }]);
}

// The switch's uplink on the host's e1000 (vmm/setup/config/uplink.ts): an
// access port on `vlan` (VLAN 1 if neither is given) or a trunk.
export interface Uplink {
  vlan?: number;
  trunk?: number[];
}

// The VMs in one configuration, with the uplink if one is given; their
// disk images are boot modules disk0.img, disk1.img... counted over all of them.
export function linuxVmsModules(kernel: KernelImage, vms: LinuxVm[], uplink?: Uplink): Module[] {
  const paths = guestPaths();
  let next = 0;
  const disks = vms.map((v) => (v.disks ?? []).map((d) => ({ name: d.path ? `disk${next++}.img` : "", ...d })));
  const entries = vms.map((v, i) => ({
    name: v.name,
    memory: v.memory ?? VM_MEMORY_MIB,
    cpus: v.cpus ?? 1,
    kernel,
    initrd: "initramfs",
    cmdline: v.cmdline,
    console: v.console ?? "com1",
    disks: disks[i].map((d) => ({
      ...(d.path ? { module: d.name } : { partition: d.partition }),
      readonly: d.readonly ?? false,
      ...(d.iops ? { iops: d.iops } : {}),
      ...(d.bytesPerSecond ? { bytes_per_second: d.bytesPerSecond } : {}),
    })),
    ...(v.nics ? { nics: v.nics.map(nicEntry) } : {}),
    ...(v.bootSources ? { boot_sources: sourceEntries(v.bootSources) } : {}),
  }));
  // Every kernel image a VM may boot, one module each.
  const kernels = [
    ...new Set([kernel, ...vms.flatMap((v) => Object.values(v.bootSources ?? {}).map((b) => b.kernel))]),
  ];
  const text = JSON.stringify({ vms: entries, ...(uplink ? { uplink: vlansOf(uplink) } : {}) }, null, 2) + "\n";
  // Named by its contents: runs with other command lines may be starting
  // meanwhile. One with the same may be reading it: never seen half-written.
  const config = `build/test/linux-${createHash("sha256").update(text).digest("hex").slice(0, 12)}.json`;
  mkdirSync("build/test", { recursive: true });
  writeAtomically(config, text);
  return [
    ...kernels.map((k) => ({ path: paths[k], args: k })),
    { path: paths.initramfs, args: "initramfs" },
    ...disks.flat().filter((d) => d.path).map((d) => ({ path: d.path!, args: d.name })),
    { path: config, args: `linux-${kernel}.json config` },
  ];
}

function sourceEntries(sources: NonNullable<VmOptions["bootSources"]>): object {
  const entries = Object.entries(sources).map(([name, b]) => [name, { ...b, initrd: "initramfs" }]);
  return Object.fromEntries(entries);
}

function nicEntry(n: VmNic): object {
  return {
    ...(n.mac ? { mac: n.mac } : {}),
    ...vlansOf(n),
    ...(n.bytesPerSecond ? { bytes_per_second: n.bytesPerSecond } : {}),
  };
}

// A port's "vlan" or "trunk", as given.
function vlansOf(p: Uplink): object {
  return { ...(p.vlan ? { vlan: p.vlan } : {}), ...(p.trunk ? { trunk: p.trunk } : {}) };
}
