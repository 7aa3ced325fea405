// Shared by the system tests: boot the real image, wait for it to halt.
import { mkdirSync, writeFileSync } from "node:fs";
import { ensureGuests, Manifest } from "../../tools/guests/debian";
import { GuestError } from "../../tools/guests/errors";
import { HttpApiClient } from "../../tools/api/http";
import { boot, BootOptions, Exit, Machine, Module } from "../../tools/harness/index";
import { forwardingUplink, freePort } from "../../tools/harness/network";

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

// The hypervisor's own address on QEMU's restricted user network.
const MANAGEMENT = "10.0.2.20";

// A hypervisor under QEMU's AMD-V whose management API is reached from
// this machine over HTTP: its address on the uplink, QEMU's user network,
// where 127.0.0.1's `base` is forwarded to its port 80; `modules` give the
// VMs, and the configuration the token (not the command line). Returns
// once the API answers, with a client.
export async function bootWithHttpApi(
  modules: Module[],
  token: string,
): Promise<{ machine: Machine; base: string; client: HttpApiClient }> {
  mkdirSync("build/test", { recursive: true });
  const config = `build/test/api-http-${process.pid}.json`;
  const management = { address: `${MANAGEMENT}/24`, vlan: 1 };
  writeFileSync(config, JSON.stringify({ vms: [], uplink: { vlan: 1 }, management, api: { token } }));
  const port = await freePort();
  const machine = await boot({
    platform: "qemu",
    memoryMiB: 256,
    cmdline: "exit=emulator",
    modules: [...modules, { path: config, args: "vms.json config" }],
    extraArgs: forwardingUplink(`127.0.0.1:${port}-${MANAGEMENT}:80`),
  });
  try {
    await machine.waitFor("api: the management API listens on HTTP, TCP port 80", 60_000);
    const base = `http://127.0.0.1:${port}`, client = new HttpApiClient(base, token, 10_000);
    // QEMU takes the connection before lwIP has answered its ARP: a few tries.
    for (let attempt = 0;; attempt++) {
      const answered = await client.host().then(() => true, (e: unknown) => (attempt < 10 ? false : Promise.reject(e)));
      if (answered) return { machine, base, client };
      await new Promise((r) => setTimeout(r, 1000));
    }
  } catch (e) {
    machine.kill();
    throw e;
  }
}
