// Booting the hypervisor under Bochs, which emulates Intel VT-x with EPT.
//
// Bochs cannot load a kernel itself, so it boots a GRUB ISO from its ATA
// CD-ROM. Its serial port writes to a file that we follow (serialfile.ts). Debian's Bochs
// includes the debugger, which stops at a prompt unless told to continue
// ("c" in the -rc file). The hypervisor leaves Bochs by writing "Shutdown" to
// port 0x8900 (with panic action=fatal), and prints its status on the console
// because Bochs's own exit code does not carry it. The TSC advances once per
// instruction (clock sync=none), so timings are deterministic.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { makeIso } from "./iso";
import { Machine } from "./machine";
import { BootOptions, DEFAULT_ISO } from "./options";
import { followFile } from "./serialfile";

export function bochsConfig(opts: BootOptions, iso: string, serial: string): string {
  return [
    `megs: ${opts.memoryMiB ?? 256}`,
    `cpu: model=${opts.bochsCpu ?? "broadwell_ult"}, count=${opts.cpus ?? 1}, ips=50000000, reset_on_triple_fault=0, ignore_bad_msrs=0`,
    "clock: sync=none, time0=local",
    "romimage: file=/usr/share/bochs/BIOS-bochs-latest",
    "vgaromimage: file=/usr/share/vgabios/vgabios-cirrus.bin",
    `ata0-master: type=cdrom, path=${resolve(iso)}, status=inserted`,
    "boot: cdrom",
    opts.interactive ? "com1: enabled=1, mode=term, dev=/dev/tty" : `com1: enabled=1, mode=file, dev=${serial}`,
    // rfb picks a free port, so parallel runs work; nothing connects to it.
    'display_library: rfb, options="timeout=0"',
    // Debian's Bochs crashes in its sound mixer thread when sound is on.
    "sound: driver=dummy",
    "speaker: enabled=0",
    "panic: action=fatal",
    "error: action=report",
    "log: -",
    "debugger_log: -",
    ...(opts.extraArgs ?? []),
  ].join("\n") + "\n";
}

export function bootBochs(opts: BootOptions): Machine {
  const scratch = mkdtempSync(join(tmpdir(), "typervisor-bochs-"));
  const serial = join(scratch, "serial.txt");
  const iso = opts.iso ?? (opts.interactive && !opts.cmdline && !opts.modules?.length ? DEFAULT_ISO : makeIso(opts.cmdline ?? "", opts.modules ?? [], opts.elf));
  writeFileSync(join(scratch, "bochsrc"), bochsConfig(opts, iso, serial));
  writeFileSync(join(scratch, "commands"), "c\n");
  const stopFollowing = followFile(serial, (chunk) => machine.feed(chunk));
  const child = spawn("bochs", ["-q", "-rc", join(scratch, "commands"), "-f", join(scratch, "bochsrc")],
    { cwd: scratch, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (d) => process.env.BOCHS_DEBUG && process.stderr.write(d));
  child.stderr!.resume();

  const machine = new Machine(`bochs-${opts.bochsCpu ?? "broadwell_ult"}`, child, () => {
    throw new Error("bochs: console input is not connected in file mode");
  }, () => null, () => {
    stopFollowing();
    rmSync(scratch, { recursive: true, force: true });
  });
  return machine;
}
