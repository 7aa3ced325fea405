// typervisor CLI: run the hypervisor in an emulator, or write it to a USB stick.
//
//   tsx tools/cli.ts run [--platform qemu|uefi|bochs] [--accel tcg|kvm] [--memory MiB]
//                        [--cpus N] [--cmdline "..."] [--module file[=args]]... [--iso] [--icount]
//                        [--com2 PORT] (QEMU: COM2 on 127.0.0.1:PORT: the GDB stub or the management API)
//                        [--stick IMAGE]  (QEMU: boot IMAGE as a USB stick, docs/usb-stick.md)
//                        [--nvme IMAGE]  (QEMU: IMAGE as the host's NVMe disk, docs/storage.md)
//                        [--forward 127.0.0.1:PORT-ADDRESS:PORT]...  (QEMU: an e1000 uplink on the
//                        restricted user network, each TCP port forwarded to a VM's or the
//                        hypervisor's address, docs/network.md)
//   tsx tools/cli.ts boot ...same options...  (non-interactive: waits for the
//                        hypervisor to halt, prints its console, exits with its status)
//   tsx tools/cli.ts usb --device /dev/sdX [--image build/typervisor-usb.img] [--yes]

import { parseArgs } from "node:util";
import { spawnSync } from "node:child_process";
import { boot, BootOptions, Module, Platform } from "./harness/index";
import { forwardingUplink } from "./harness/network";
import { qemuArgs } from "./harness/qemu";
import { writeUsb } from "./usb";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [command, ...rest] = process.argv.slice(2);
const { values } = parseArgs({
  args: rest,
  options: {
    platform: { type: "string", default: "qemu" },
    accel: { type: "string", default: "tcg" },
    memory: { type: "string", default: "512" },
    cpus: { type: "string", default: "1" },
    cmdline: { type: "string" },
    module: { type: "string", multiple: true },
    iso: { type: "boolean", default: false },
    icount: { type: "boolean", default: false },
    timeout: { type: "string", default: "600" },
    device: { type: "string" },
    image: { type: "string", default: "build/typervisor-usb.img" },
    stick: { type: "string" },
    yes: { type: "boolean", default: false },
    com2: { type: "string" },
    nvme: { type: "string" },
    forward: { type: "string", multiple: true },
  },
});

function bootOptions(interactive: boolean): BootOptions {
  const platform = values.platform as Platform;
  if (!["qemu", "uefi", "bochs"].includes(platform)) fail(`unknown platform '${platform}' (qemu, uefi, bochs)`);
  if (values.accel !== "tcg" && values.accel !== "kvm") fail(`unknown accelerator '${values.accel}' (tcg, kvm)`);
  if (values.com2 && platform === "bochs") fail("--com2 works with QEMU only");
  if (values.stick && platform === "bochs") fail("--stick works with QEMU only");
  if (values.nvme && platform === "bochs") fail("--nvme works with QEMU only (Bochs has no NVMe)");
  if (values.forward && platform === "bochs") fail("--forward works with QEMU only");
  const modules: Module[] = (values.module ?? []).map((spec) => {
    const eq = spec.indexOf("=");
    return eq < 0 ? { path: spec, args: spec } : { path: spec.slice(0, eq), args: spec.slice(eq + 1) };
  });
  return {
    platform,
    interactive,
    modules,
    useIso: values.iso,
    usb: values.stick !== undefined,
    iso: values.stick,
    icount: values.icount,
    accel: values.accel as "tcg" | "kvm",
    memoryMiB: Number(values.memory),
    cpus: Number(values.cpus),
    cmdline: values.cmdline,
    extraArgs: [
      // COM2 after the console's COM1: the GDB stub's (gdb=NAME) or the API's (api_token=...).
      ...(values.com2 ? ["-serial", `tcp:127.0.0.1:${Number(values.com2)},server=on,wait=off`] : []),
      ...(values.nvme ? ["-drive", `file=${values.nvme},if=none,id=vmdisks,format=raw`] : []),
      ...(values.nvme ? ["-device", "nvme,drive=vmdisks,serial=typervisor"] : []),
      ...(values.forward ? forwardingUplink(...values.forward.map(checkForward)) : []),
    ],
  };
}

// 127.0.0.1:PORT-ADDRESS:PORT: only this machine may reach in.
function checkForward(forward: string): string {
  if (!/^127\.0\.0\.1:\d+-[\d.]+:\d+$/.test(forward)) {
    fail(`--forward wants 127.0.0.1:PORT-ADDRESS:PORT, got '${forward}'`);
  }
  return forward;
}

function fail(message: string): never {
  console.error(`typervisor: ${message}`);
  process.exit(2);
}

if (command === "run") {
  const opts = bootOptions(true);
  if (opts.platform === "bochs") {
    const machine = await boot(opts);
    machine.exited.then((e) => process.exit(e.status ?? 0));
  } else {
    // QEMU owns the terminal: Ctrl-A X quits, Ctrl-A C is QEMU's monitor.
    console.error("typervisor: starting QEMU; press Ctrl-A X to quit");
    const args = qemuArgs(opts, mkdtempSync(join(tmpdir(), "typervisor-run-")));
    const result = spawnSync("qemu-system-x86_64", args, { stdio: "inherit" });
    process.exit(result.status ?? 1);
  }
} else if (command === "boot") {
  const opts = bootOptions(false);
  opts.cmdline = `exit=emulator ${opts.cmdline ?? ""}`.trim();
  const machine = await boot(opts);
  machine.echo = true;
  machine.waitForExit(Number(values.timeout) * 1000).then((exit) => {
    console.log(
      `\n[harness] ${machine.name}: status ${exit.status ?? "none"}, emulator exit code ${exit.code}${
        exit.killed ? " (killed: timeout)" : ""
      }`,
    );
    process.exit(exit.killed ? 124 : exit.status ?? 1);
  });
} else if (command === "usb") {
  if (!values.device) fail("usb needs --device /dev/sdX (make usb DEV=/dev/sdX)");
  writeUsb(values.device, values.image, values.yes).then((code) => process.exit(code));
} else {
  fail("usage: cli.ts run|boot|usb [options]; see the comment at the top of tools/cli.ts");
}
