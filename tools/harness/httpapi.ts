// A hypervisor whose management API this machine reaches over HTTP, for
// the system tests and the API's benchmark (docs/api.md).

import { mkdirSync, writeFileSync } from "node:fs";
import { HttpApiClient } from "../api/http";
import { boot, Machine, Module } from "./index";
import { forwardingUplink, freePort } from "./network";

// The hypervisor's own address on QEMU's restricted user network, set in
// the configuration; or the first that QEMU's DHCP server leases.
const MANAGEMENT = "10.0.2.20";
const FIRST_LEASE = "10.0.2.15";

// A hypervisor under QEMU's AMD-V whose management API is reached from
// this machine over HTTP: its address on the uplink, QEMU's user network,
// where 127.0.0.1's `base` is forwarded to its port 80; `modules` give the
// VMs, and the configuration the token (not the command line); `icount`
// puts QEMU on its instruction-counting clock, and `dhcp` has the
// hypervisor ask QEMU's DHCP server for its address; `memoryMiB` is the
// host's RAM (256 MiB unless given). Returns once the API answers, with a
// client.
export async function bootWithHttpApi(
  modules: Module[],
  token: string,
  options: { icount?: boolean; dhcp?: boolean; memoryMiB?: number } = {},
): Promise<{ machine: Machine; base: string; client: HttpApiClient }> {
  mkdirSync("build/test", { recursive: true });
  const config = `build/test/api-http-${process.pid}.json`;
  const address = options.dhcp ? FIRST_LEASE : MANAGEMENT;
  const management = { address: options.dhcp ? "dhcp" : `${MANAGEMENT}/24`, vlan: 1 };
  writeFileSync(config, JSON.stringify({ vms: [], uplink: { vlan: 1 }, management, api: { token } }));
  const port = await freePort();
  const machine = await boot({
    platform: "qemu",
    icount: options.icount,
    memoryMiB: options.memoryMiB ?? 256,
    cmdline: "exit=emulator",
    modules: [...modules, { path: config, args: "vms.json config" }],
    extraArgs: forwardingUplink(`127.0.0.1:${port}-${address}:80`),
  });
  try {
    await machine.waitFor("api: the management API listens on HTTP, TCP port 80", 60_000);
    if (options.dhcp) await machine.waitFor(`management: DHCP gave ${FIRST_LEASE}/24`, 60_000);
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
