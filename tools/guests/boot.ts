// Boots a guest kernel from .cache/guests bare under QEMU (no hypervisor): a
// check of the kernel and initramfs on their own, and a baseline for boot times.
//
//   tsx tools/guests/boot.ts [--vmlinux] [--kvm] [--memory MiB] [--append "..."]
//
// --vmlinux boots the ELF through its PVH entry note (QEMU 7.2 and later load
// it themselves) instead of the bzImage, skipping the decompression.
// Interactive: the serial console is this terminal (Ctrl-A X quits QEMU).

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Machine } from "../harness/machine";
import { icountArgs, serialFileIn, spawnQemu } from "../harness/qemu";
import { guestPaths } from "./debian";

export interface GuestBootOptions {
  dir?: string;
  vmlinux?: boolean;
  accel?: "tcg" | "kvm";
  // TCG only: the CPU model (QEMU's default qemu64 otherwise), and
  // instructions as the clock (ICOUNT_ARGS, for make bench; with
  // icountSleeps ICOUNT_SLEEP_ARGS).
  cpu?: string;
  icount?: boolean;
  icountSleeps?: boolean;
  memoryMiB?: number;
  append?: string;
  // QEMU options that add devices ("-drive", "file=disk.img,if=virtio,format=raw", "-device", "virtio-rng-pci").
  devices?: string[];
}

export const DEFAULT_APPEND = "console=ttyS0 panic=-1";

// The console is QEMU's stdio (and the monitor's, -nographic), or the file
// `serialFile` with the display and monitor off, as the hypervisor's harness
// runs QEMU under -icount (tools/harness/serialfile.ts says why).
export function guestQemuArgs(opts: GuestBootOptions = {}, serialFile?: string): string[] {
  const p = guestPaths(opts.dir);
  return [
    "-kernel",
    opts.vmlinux ? p.vmlinux : p.bzImage,
    "-initrd",
    p.initramfs,
    "-append",
    opts.append ?? DEFAULT_APPEND,
    ...(serialFile ? ["-display", "none", "-serial", `file:${serialFile}`, "-monitor", "none"] : ["-nographic"]),
    "-m",
    String(opts.memoryMiB ?? 256),
    "-no-reboot",
    ...(opts.accel === "kvm"
      ? ["-enable-kvm", "-cpu", "host"]
      : ["-accel", "tcg", ...(opts.cpu ? ["-cpu", opts.cpu] : [])]),
    ...(opts.icount ? icountArgs(opts.icountSleeps) : []),
    ...(opts.devices ?? []),
  ];
}

// Starts QEMU with the console on a pipe, where the Machine collects it and
// types into it; under -icount in a file it follows.
export function bootGuest(opts: GuestBootOptions = {}): Machine {
  const scratch = mkdtempSync(join(tmpdir(), "typervisor-guest-"));
  const serialFile = opts.icount ? serialFileIn(scratch) : null;
  return spawnQemu(
    `linux-${opts.vmlinux ? "vmlinux" : "bzImage"}`,
    guestQemuArgs(opts, serialFile ?? undefined),
    serialFile,
    () => null,
    () => rmSync(scratch, { recursive: true, force: true }),
  );
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
  const args = guestQemuArgs({
    dir: values.dir,
    vmlinux: values.vmlinux,
    accel: values.kvm ? "kvm" : "tcg",
    memoryMiB: Number(values.memory),
    append: values.append,
  });
  console.error(`qemu-system-x86_64 ${args.map((a) => (/[\s"]/.test(a) ? JSON.stringify(a) : a)).join(" ")}`);
  const child = spawn("qemu-system-x86_64", args, { stdio: "inherit" });
  child.on("exit", (code) => process.exit(code ?? 1));
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) main();
