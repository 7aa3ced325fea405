// Shared by the system tests: boot the real image, wait for it to halt.
import { mkdirSync, writeFileSync } from "node:fs";
import { ensureGuests, Manifest } from "../../tools/guests/debian";
import { GuestError } from "../../tools/guests/errors";
import { ApiClient, VmInfo, VmStats } from "../../tools/api/client";
import { shutDownWhenStopped } from "../../tools/harness/apirun";
import { boot, BootOptions, Exit, Machine, Module } from "../../tools/harness/index";

export interface Run {
  output: string;
  exit: Exit;
}

// Boots with exit=emulator (so the emulator stops when the hypervisor halts)
// and returns the whole console output and how the run ended.
export async function bootAndWait(opts: BootOptions, timeoutMs = 120_000): Promise<Run> {
  const machine = await boot({ ...opts, cmdline: `exit=emulator ${opts.cmdline ?? ""}`.trim() });
  const exit = await machine.waitForExit(timeoutMs);
  return { output: machine.output, exit };
}

// Small files with recognisable contents, to pass as boot modules.
export function testModules(): Module[] {
  mkdirSync("build/test", { recursive: true });
  const sizes = [3000, 70000];
  return sizes.map((size, i) => {
    const path = `build/test/module-${i}.bin`;
    writeFileSync(path, Buffer.alloc(size, 0x41 + i));
    return { path, args: `module-${i} role=test${i}` };
  });
}

// "[info ] memory: N MiB usable RAM, ..." -> N
export function usableMiB(output: string): number {
  const match = /memory: (\d+) MiB usable RAM/.exec(output);
  if (!match) throw new Error(`no memory summary in:\n${output}`);
  return Number(match[1]);
}

// The Debian guest kernel of .cache/guests, fetched if need be; null (said
// on the console) when it cannot be had (no package lists, no network), and
// the Linux tests named `label` are skipped.
export function linuxGuests(label: string): Manifest | null {
  try {
    return ensureGuests({ log: (s) => console.log(`${label}: ${s}`) });
  } catch (e) {
    if (!(e instanceof GuestError && e.kind === "unavailable")) throw e;
    console.warn(`${label}: skipped, the guest kernel cannot be had:\n${e.message}`);
    return null;
  }
}

// `command` typed on `machine`'s console, and the match of `answer` in
// what VM `vm` prints after it.
export async function askVm(machine: Machine, vm: string, command: string, answer: RegExp, timeout = 120_000) {
  const from = machine.output.length;
  machine.send(command + "\n");
  return machine.waitFor(new RegExp(`\\[${vm}\\] ${answer.source}`), timeout, from);
}

// How vm.get describes a VM whose guest powered it off: no fault.
export const POWERED_OFF = { state: "stopped", stop_reason: "powered off", fault: false };

// `poweroff -f` typed at the shell of VM "linux"; once every VM has
// stopped, the host shut down through the API. How the VM ended (vm.get,
// vm.stats), and how the emulator did.
export async function powerOffAtShell(
  machine: Machine,
  client: ApiClient,
): Promise<{ end: { info: VmInfo; stats: VmStats }; exit: Exit }> {
  machine.send("poweroff -f\n");
  const { vms, exit } = await shutDownWhenStopped(machine, client, 60_000);
  return { end: vms.get("linux")!, exit };
}
