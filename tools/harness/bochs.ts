// Booting the hypervisor under Bochs, which emulates Intel VT-x with EPT.
//
// Bochs cannot load a kernel itself, so it boots a GRUB ISO from its ATA
// CD-ROM. Its serial port is a TCP connection to the harness: the harness
// listens on a free port of 127.0.0.1 before Bochs starts, and Bochs connects
// as it creates the port, before the machine runs, so no output is missed and
// parallel runs each have their own port. Interactive runs give the port this
// terminal instead. Debian's Bochs includes the debugger, which stops at a
// prompt unless told to continue ("c" in the -rc file). The hypervisor leaves
// Bochs by writing "Shutdown" to port 0x8900 (with panic action=fatal), and
// prints its status on the console because Bochs's own exit code does not
// carry it. The TSC advances once per instruction (clock sync=none), so
// timings are deterministic.

import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { AddressInfo, createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PassThrough } from "node:stream";
import { makeIso } from "./iso";
import { Machine } from "./machine";
import { BochsScreen } from "./rfb";
import { BootOptions, DEFAULT_ISO } from "./options";

// `serial` is the harness's "host:port", or null for the terminal.
export function bochsConfig(opts: BootOptions, iso: string, serial: string | null): string {
  return [
    `megs: ${opts.memoryMiB ?? 256}`,
    `cpu: model=${opts.bochsCpu ?? "broadwell_ult"}, count=${
      opts.cpus ?? 1
    }, ips=50000000, reset_on_triple_fault=0, ignore_bad_msrs=0`,
    "clock: sync=none, time0=local",
    "romimage: file=/usr/share/bochs/BIOS-bochs-latest",
    "vgaromimage: file=/usr/share/vgabios/vgabios-cirrus.bin",
    `ata0-master: type=cdrom, path=${resolve(iso)}, status=inserted`,
    "boot: cdrom",
    serial ? `com1: enabled=1, mode=socket-client, dev=${serial}` : "com1: enabled=1, mode=term, dev=/dev/tty",
    // rfb picks a free port, so parallel runs work; screenshots come from it (rfb.ts).
    "display_library: rfb, options=\"timeout=0\"",
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

export async function bootBochs(opts: BootOptions): Promise<Machine> {
  const scratch = mkdtempSync(join(tmpdir(), "typervisor-bochs-"));
  const iso = opts.iso
    ?? (opts.interactive && !opts.cmdline && !opts.modules?.length
      ? DEFAULT_ISO
      : makeIso(opts.cmdline ?? "", opts.modules ?? [], opts.elf, opts.gfxpayload));
  // Bochs connects only after it starts, and `machine` exists by then.
  const link = opts.interactive ? null : await listenForSerial((chunk) => machine.feed(chunk));
  writeFileSync(join(scratch, "bochsrc"), bochsConfig(opts, iso, link?.dev ?? null));
  writeFileSync(join(scratch, "commands"), "c\n");
  const child = spawn("bochs", ["-q", "-rc", join(scratch, "commands"), "-f", join(scratch, "bochsrc")], {
    cwd: scratch,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (d) => process.env.BOCHS_DEBUG && process.stderr.write(d));
  child.stderr!.resume();
  const screen = new BochsScreen(child.pid!);
  const machine = new Machine(
    `bochs-${opts.bochsCpu ?? "broadwell_ult"}`,
    child,
    link?.write ?? null,
    () => null,
    () => {
      link?.close();
      screen.close();
      rmSync(scratch, { recursive: true, force: true });
    },
  );
  machine.bochsScreen = screen;
  return machine;
}

// The harness's end of COM1: a server on a free port of 127.0.0.1 that takes
// one connection, Bochs's. What is typed before Bochs connects waits in `input`.
async function listenForSerial(onData: (chunk: string) => void) {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { address, port } = server.address() as AddressInfo;
  const input = new PassThrough();
  let connection: Socket | null = null;
  server.once("connection", (socket) => {
    connection = socket;
    server.close();
    socket.setEncoding("latin1");
    socket.on("data", onData);
    // A reset when Bochs is killed is the end of the run, not an error.
    socket.on("error", () => {});
    input.pipe(socket);
  });
  return {
    dev: `${address}:${port}`,
    write: (data: string) => {
      input.write(data);
    },
    close: () => {
      connection?.destroy();
      server.close();
    },
  };
}
