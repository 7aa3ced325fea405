// The configuration module of the Linux system tests: VMs that boot the
// cached Debian kernel (tools/guests) with the busybox initramfs, each with
// COM1 as its console, written as the JSON the hypervisor reads (vmm/config.ts).
import { mkdirSync, writeFileSync } from "node:fs";
import { Module } from "../../tools/harness/index";

export interface LinuxVm { name: string; memory: number; cpus?: number; kernel: "vmlinux" | "bzImage"; cmdline: string }

// build/test/NAME.json, as the boot module "NAME.json config".
export function writeConfig(name: string, vms: LinuxVm[]): Module {
  mkdirSync("build/test", { recursive: true });
  const path = `build/test/${name}.json`;
  const entries = vms.map((vm) => ({ name: vm.name, memory: vm.memory, cpus: vm.cpus ?? 1, kernel: vm.kernel, initrd: "initramfs", cmdline: vm.cmdline, console: "com1" }));
  writeFileSync(path, JSON.stringify({ vms: entries }, null, 2) + "\n");
  return { path, args: `${name}.json config` };
}
