// The guest kernel of .cache/guests as a Typervisor VM: the boot modules that
// make one, namely the kernel, the initramfs and the JSON configuration that
// names them (docs/vmm.md, "VMs from the configuration module"). Shared by
// the Linux system tests and make bench, which boots the same kernel bare
// with the same memory size.

import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { Module } from "../harness/index";
import { guestPaths } from "./debian";

export type KernelImage = "vmlinux" | "bzImage";

export const VM_NAME = "linux";
export const VM_MEMORY_MIB = 256;
// The emulated machine around the hypervisor: the VM's RAM and room for the
// modules, the hypervisor and its page tables.
export const HOST_MEMORY_MIB = 768;

// A disk of the VM: an image file, loaded as a boot module (a RAM disk).
export interface VmDisk {
  path: string;
  readonly?: boolean;
  // Caps on what the VM may do with it (vmm/setup/config/disks.ts).
  iops?: number;
  bytesPerSecond?: number;
}

export interface VmOptions {
  cpus?: number;
  memory?: number;
  // The VM's UART: "com1" (the default), "com2" or "none" (vmm/setup/config/config.ts).
  console?: string;
  disks?: VmDisk[];
}

export function linuxVmModules(kernel: KernelImage, cmdline: string, opts: VmOptions = {}): Module[] {
  const paths = guestPaths();
  const disks = (opts.disks ?? []).map((d, i) => ({ name: `disk${i}.img`, ...d }));
  const vm = {
    name: VM_NAME,
    memory: opts.memory ?? VM_MEMORY_MIB,
    cpus: opts.cpus ?? 1,
    kernel,
    initrd: "initramfs",
    cmdline,
    console: opts.console ?? "com1",
    disks: disks.map((d) => ({
      module: d.name,
      readonly: d.readonly ?? false,
      ...(d.iops ? { iops: d.iops } : {}),
      ...(d.bytesPerSecond ? { bytes_per_second: d.bytesPerSecond } : {}),
    })),
  };
  const text = JSON.stringify({ vms: [vm] }, null, 2) + "\n";
  // Named by its contents: runs with other command lines may be starting meanwhile.
  const config = `build/test/linux-${createHash("sha256").update(text).digest("hex").slice(0, 12)}.json`;
  mkdirSync("build/test", { recursive: true });
  writeFileSync(config, text);
  return [
    { path: paths[kernel], args: kernel },
    { path: paths.initramfs, args: "initramfs" },
    ...disks.map((d) => ({ path: d.path, args: d.name })),
    { path: config, args: `linux-${kernel}.json config` },
  ];
}
