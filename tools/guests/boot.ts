// Boots a guest kernel from .cache/guests bare under QEMU (no hypervisor): a
// check of the kernel and initramfs on their own, and a baseline for boot times.
//
//   tsx tools/guests/boot.ts [--vmlinux] [--kvm] [--memory MiB] [--append "..."]
//
// --vmlinux boots the ELF through its PVH entry note (QEMU 7.2 and later load
// it themselves) instead of the bzImage, skipping the decompression.
// Interactive: the serial console is this terminal (Ctrl-A X quits QEMU).

import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { Machine } from "../harness/machine";
import { guestPaths } from "./debian";

export interface GuestBootOptions {
  dir?: string;
  vmlinux?: boolean;
  accel?: "tcg" | "kvm";
  memoryMiB?: number;
  append?: string;
}

export const DEFAULT_APPEND = "console=ttyS0 panic=-1";

export function guestQemuArgs(opts: GuestBootOptions = {}): string[] {
  const p = guestPaths(opts.dir);
  return [
    "-kernel", opts.vmlinux ? p.vmlinux : p.bzImage,
    "-initrd", p.initramfs,
    "-append", opts.append ?? DEFAULT_APPEND,
    "-nographic", "-m", String(opts.memoryMiB ?? 256), "-no-reboot",
    ...(opts.accel === "kvm" ? ["-enable-kvm", "-cpu", "host"] : ["-accel", "tcg"]),
  ];
}

// Starts QEMU with the console on a pipe; the Machine collects it and types into it.
export function bootGuest(opts: GuestBootOptions = {}): Machine {
  const child = spawn("qemu-system-x86_64", guestQemuArgs(opts), { stdio: ["pipe", "pipe", "pipe"] });
  const machine = new Machine(`linux-${opts.vmlinux ? "vmlinux" : "bzImage"}`, child,
    (data) => child.stdin!.write(data), () => null);
  child.stdout!.setEncoding("latin1");
  child.stdout!.on("data", (chunk: string) => machine.feed(chunk));
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => machine.feed(chunk));
  child.on("error", (e) => machine.feed(`\nqemu-system-x86_64: ${e.message}\n`));
  return machine;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      vmlinux: { type: "boolean", default: false },
      kvm: { type: "boolean", default: false },
      memory: { type: "string", default: "256" },
      append: { type: "string" },
      dir: { type: "string" },
    },
  });
  const args = guestQemuArgs({ dir: values.dir, vmlinux: values.vmlinux, accel: values.kvm ? "kvm" : "tcg",
    memoryMiB: Number(values.memory), append: values.append });
  console.error(`qemu-system-x86_64 ${args.map((a) => (/[\s"]/.test(a) ? JSON.stringify(a) : a)).join(" ")}`);
  const child = spawn("qemu-system-x86_64", args, { stdio: "inherit" });
  child.on("exit", (code) => process.exit(code ?? 1));
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) main();
