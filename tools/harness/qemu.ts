// Booting the hypervisor under QEMU: SeaBIOS (BIOS), OVMF (UEFI), or QEMU's
// own multiboot 1 loader (-kernel). TCG emulates AMD-V with nested paging.
// The isa-debug-exit device turns the hypervisor's halt status s into QEMU's
// exit code (s << 1) | 1.

import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeIso } from "./iso";
import { Machine } from "./machine";
import { QemuMonitor } from "./monitor";
import { BootOptions, DEFAULT_ELF, DEFAULT_ISO } from "./options";
import { followFile } from "./serialfile";

// Instructions as the clock: under -icount shift=0,sleep=off the TSC and the
// virtual timers advance one nanosecond per instruction, and jump over time
// when every CPU halts. The RTC follows that clock from a fixed date instead
// of the host's, so firmware and kernels waiting for its update cycle or
// printing its date do the same on every run (make bench).
export const ICOUNT_ARGS = ["-icount", "shift=0,sleep=off", "-rtc", "base=2000-01-01T00:00:00,clock=vm"];
// The same, but while every CPU halts the clock follows the host's time
// (sleep=on), and the TSC counts that time too, instead of jumping to the
// next timer: for a device that completes in the host's time, QEMU's NVMe
// drive, where a jump could pass its driver's command timeout first. The
// halts' ticks are then taken out by the one who counts (docs/disk-bench.md).
export const ICOUNT_SLEEP_ARGS = ["-icount", "shift=0,sleep=on", ...ICOUNT_ARGS.slice(2)];
export const icountArgs = (sleeps?: boolean) => sleeps ? ICOUNT_SLEEP_ARGS : ICOUNT_ARGS;

const OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd";
const OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd";

export function qemuArgs(opts: BootOptions, scratch: string): string[] {
  const args = [
    "-display",
    "none",
    "-no-reboot",
    "-m",
    String(opts.memoryMiB ?? 256),
    "-smp",
    String(opts.cpus ?? 1),
    "-device",
    "isa-debug-exit,iobase=0xf4,iosize=0x04",
  ];
  // Several CPUs take turns on one emulator thread unless threadPerCpu asks
  // for multi-threaded TCG (never with -icount, which needs one thread).
  const tcg = opts.threadPerCpu && !opts.icount ? "tcg,thread=multi" : "tcg,thread=single";
  if (opts.accel === "kvm") args.push("-enable-kvm", "-cpu", "host");
  else args.push("-accel", tcg, "-cpu", opts.qemuCpu ?? "max");
  if (opts.icount) args.push(...icountArgs(opts.icountSleeps));
  // QEMU_LOG=FILE: QEMU's log of the host's exceptions and resets, for a
  // hypervisor that dies without a word (a triple fault under -no-reboot).
  if (process.env.QEMU_LOG) args.push("-d", "int,cpu_reset,guest_errors", "-D", process.env.QEMU_LOG);
  const monitor = opts.monitor ? `unix:${monitorSocketIn(scratch)},server,nowait` : "none";
  args.push(
    ...(opts.interactive ? ["-serial", "mon:stdio"] : ["-serial", serialOf(opts, scratch), "-monitor", monitor]),
  );

  if (opts.platform === "uefi") {
    // UEFI variables are written at boot: each run gets its own copy.
    const vars = join(scratch, "OVMF_VARS.fd");
    copyFileSync(OVMF_VARS, vars);
    args.push(
      "-drive",
      `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`,
      "-drive",
      `if=pflash,format=raw,file=${vars}`,
    );
  }
  if (opts.usb) {
    // A private copy: the firmware may write to the stick.
    const stick = join(scratch, "stick.img");
    copyFileSync(isoFor(opts), stick);
    args.push(
      "-drive",
      `if=none,id=stick,format=raw,file=${stick}`,
      "-device",
      "qemu-xhci",
      "-device",
      "usb-storage,drive=stick",
    );
  } else if (opts.platform === "uefi" || opts.useIso) {
    args.push("-cdrom", isoFor(opts));
  } else {
    args.push("-kernel", opts.elf ?? DEFAULT_ELF, "-append", opts.cmdline ?? "");
    // QEMU's multiboot modules: "file args" separated by commas (a literal comma is doubled).
    const modules = (opts.modules ?? []).map((m) => `${m.path} ${m.args}`.replace(/,/g, ",,"));
    if (modules.length) args.push("-initrd", modules.join(","));
  }
  return [...args, ...(opts.extraArgs ?? [])];
}

// The shipped ISO for interactive runs with nothing special to pass; a test ISO otherwise.
function isoFor(opts: BootOptions): string {
  if (opts.iso) return opts.iso;
  if (opts.interactive && !opts.cmdline && !opts.modules?.length) return DEFAULT_ISO;
  return makeIso(opts.cmdline ?? "", opts.modules ?? [], opts.elf ?? DEFAULT_ELF, opts.gfxpayload);
}

// The console on QEMU's stdout, where the harness can also type into it;
// under -icount in a file instead, for instruction counts that do not
// depend on the host (serialfile.ts).
function serialOf(opts: BootOptions, scratch: string): string {
  return opts.icount ? `file:${serialFileIn(scratch)}` : "stdio";
}
export const serialFileIn = (scratch: string) => join(scratch, "serial.txt");
const monitorSocketIn = (scratch: string) => join(scratch, "monitor.sock");

export function bootQemu(opts: BootOptions): Machine {
  const scratch = mkdtempSync(join(tmpdir(), "typervisor-qemu-"));
  const monitor = opts.monitor ? new QemuMonitor(monitorSocketIn(scratch)) : null;
  const machine = spawnQemu(
    `qemu-${opts.platform}`,
    qemuArgs(opts, scratch),
    opts.icount ? serialFileIn(scratch) : null,
    (code) => (code !== null && (code & 1) === 1 ? code >> 1 : null),
    () => {
      monitor?.close();
      rmSync(scratch, { recursive: true, force: true });
    },
  );
  machine.monitor = monitor;
  return machine;
}

// Starts QEMU with `args`, whose console is its stdout or, if not null,
// `serialFile` (then nothing can be typed into it); what QEMU says on
// stderr joins the console.
export function spawnQemu(
  name: string,
  args: string[],
  serialFile: string | null,
  statusFromCode: (code: number | null) => number | null,
  cleanup: () => void,
): Machine {
  const stopFollowing = serialFile ? followFile(serialFile, (chunk) => machine.feed(chunk)) : () => {};
  const child = spawn("qemu-system-x86_64", args, { stdio: ["pipe", "pipe", "pipe"] });
  const machine = new Machine(
    name,
    child,
    (data) => {
      if (serialFile) throw new Error(`${name}: console input is not connected when the console is a file`);
      child.stdin!.write(data);
    },
    statusFromCode,
    () => {
      stopFollowing();
      cleanup();
    },
  );
  child.stdout!.setEncoding("latin1");
  child.stdout!.on("data", (chunk: string) => machine.feed(chunk));
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => machine.feed(chunk));
  child.on("error", (e) => machine.feed(`\nqemu-system-x86_64: ${e.message}\n`));
  return machine;
}
