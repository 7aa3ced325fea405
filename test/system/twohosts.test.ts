// System test: two hosts, each a QEMU running Typervisor under AMD-V with
// a Debian VM, their e1000s joined by one Ethernet segment that is a TCP
// connection on 127.0.0.1 (-netdev socket: host A listens, host B
// connects). Each switch's uplink is an access port on VLAN 10, as are
// the VMs' NICs and the two hypervisors' own addresses. The VM on host A
// and the VM on host B ping each other and move a fixed payload over TCP
// (busybox nc, checked by SHA-256); each VM pings the other host's
// hypervisor; and each hypervisor pings the other's management address
// itself (ping.start over its management API on COM2, lwIP's raw ICMP in
// its own instance), as a migration's two ends will need to reach each
// other. Last, a command typed into A's VM through the API's console
// (vm.console.write) runs, and its output comes back through
// vm.console.read as on the serial console. Every MAC is set in the configurations: two hosts left to their
// defaults would give their first VMs the same one.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ApiClient } from "../../tools/api/client";
import { linuxVmsModules } from "../../tools/guests/vm";
import { boot, type Module } from "../../tools/harness/index";
import { Machine } from "../../tools/harness/machine";
import {
  freePort,
  PING_RECEIVED,
  SEQ_PAYLOAD_SHA,
  tcpReceived,
  tcpReceiver,
  tcpSend,
} from "../../tools/harness/network";
import { askVm, linuxGuests } from "./run";

const manifest = linuxGuests("two hosts");
const TOKEN = "two-hosts-s3cret";
const VLAN = 10;
interface Host {
  letter: "a" | "b";
  vm: { name: string; ip: string; mac: string };
  management: { ip: string; mac: string };
  nicMac: string;
}
const A: Host = {
  letter: "a",
  vm: { name: "vm-a", ip: "10.0.0.1", mac: "52:54:00:0a:00:01" },
  management: { ip: "10.0.0.20", mac: "52:54:00:0a:00:20" },
  nicMac: "52:54:00:0a:00:fe",
};
const B: Host = {
  letter: "b",
  vm: { name: "vm-b", ip: "10.0.0.3", mac: "52:54:00:0b:00:01" },
  management: { ip: "10.0.0.21", mac: "52:54:00:0b:00:20" },
  nicMac: "52:54:00:0b:00:fe",
};

// The configuration module that gives host `h` its own address.
function managementModule(h: Host): Module {
  const path = `build/test/two-hosts-management-${h.letter}-${process.pid}.json`;
  mkdirSync("build/test", { recursive: true });
  const management = { address: `${h.management.ip}/24`, vlan: VLAN, mac: h.management.mac };
  writeFileSync(path, JSON.stringify({ vms: [], management }) + "\n");
  return { path, args: "management.json config" };
}

// Host `h` with its VM, its e1000 on the wire (`wire`: QEMU's socket
// netdev option), COM2 on the unix socket `api`.
function bootHost(h: Host, wire: string, api: string): Promise<Machine> {
  const vm = { name: h.vm.name, cmdline: `console=ttyS0 quiet typervisor.ip=${h.vm.ip}/24`, memory: 192 };
  return boot({
    platform: "qemu",
    memoryMiB: 512,
    cmdline: `exit=emulator api_token=${TOKEN}`,
    modules: [
      ...linuxVmsModules("vmlinux", [{ ...vm, nics: [{ vlan: VLAN, mac: h.vm.mac }] }], { vlan: VLAN }),
      managementModule(h),
    ],
    extraArgs: [
      "-device",
      `e1000,netdev=wire,mac=${h.nicMac}`,
      "-netdev",
      `socket,id=wire,${wire}`,
      "-serial",
      `unix:${api},server=on,wait=off`,
    ],
  });
}

async function pingFromVm(machine: Machine, vm: string, ip: string): Promise<string> {
  const out = await askVm(machine, vm, `ping -c 3 -W 2 ${ip}; echo pinged-$((6 * 7))`, /[^]*?pinged-42/);
  return PING_RECEIVED.exec(out[0])?.[2] ?? "0";
}

// The hypervisor behind `client` pings `ip` itself; its figures once done.
async function pingFromHypervisor(client: ApiClient, ip: string) {
  const started = await client.ping(ip);
  expect(started).toMatchObject({ address: ip, done: false });
  for (const until = Date.now() + 30_000; Date.now() < until;) {
    const now = await client.pingStatus();
    if (now.done) return now;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`ping ${ip}: not done within 30 s`);
}

describe.skipIf(!manifest)("two hosts on one wire", () => {
  it("join their VMs and their hypervisors: ping both ways, TCP between the VMs, a console over the API", async () => {
    const sockets = [A, B].map((h) => `build/test/two-hosts-api-${h.letter}-${process.pid}.sock`);
    sockets.forEach((s) => rmSync(s, { force: true }));
    let a: Machine | null = null, b: Machine | null = null;
    const clients: ApiClient[] = [];
    try {
      // Another run may take the port between freePort() and QEMU's bind: then A exits at once.
      for (let attempt = 1; !b; attempt++) {
        const port = await freePort();
        a = await bootHost(A, `listen=127.0.0.1:${port}`, sockets[0]);
        try {
          await a.waitFor(new RegExp(`uplink: e1000 [^\\n]*, ${A.nicMac}, VLAN ${VLAN}, link`), 120_000);
        } catch (e) {
          a.kill();
          if (attempt === 3 || !/Address already in use/.test(a.output)) throw e;
          continue;
        }
        b = await bootHost(B, `connect=127.0.0.1:${port}`, sockets[1]);
      }
      for (const [machine, h] of [[a!, A], [b, B]] as const) {
        await machine.waitFor(
          new RegExp(`\\[${h.vm.name}\\] Enter 'help' for a list of built-in commands\\.`),
          600_000,
        );
        await machine.waitFor(/api: the management API listens on COM2/, 10_000);
      }
      const [hostA, hostB] = [a!, b];

      // VM to VM across the wire, both ways, and the payload from B's VM to A's.
      expect(await pingFromVm(hostA, A.vm.name, B.vm.ip)).toBe("3");
      expect(await pingFromVm(hostB, B.vm.name, A.vm.ip)).toBe("3");
      await askVm(hostA, A.vm.name, tcpReceiver(5000, "/tmp/got"), /listening-42/);
      await askVm(
        hostB,
        B.vm.name,
        tcpSend(A.vm.ip, 5000),
        /sent-0/,
      );
      const got = await askVm(
        hostA,
        A.vm.name,
        tcpReceived("/tmp/got"),
        /([0-9a-f]{64}) {2}\/tmp\/got/,
      );
      expect(got[1]).toBe(SEQ_PAYLOAD_SHA);

      // Each VM reaches the other host's hypervisor.
      expect(await pingFromVm(hostA, A.vm.name, B.management.ip)).toBe("3");
      expect(await pingFromVm(hostB, B.vm.name, A.management.ip)).toBe("3");

      // The hypervisors ping each other themselves.
      for (const socket of sockets) clients.push(await ApiClient.open(socket, TOKEN));
      for (const [client, other] of [[clients[0], B], [clients[1], A]] as const) {
        const ping = await pingFromHypervisor(client, other.management.ip);
        expect(ping).toMatchObject({ address: other.management.ip, sent: 3, done: true });
        // The first echo may go no further than the ARP request it waits on.
        expect(ping.received).toBeGreaterThanOrEqual(2);
        expect(ping.rtt_ns!.min).toBeGreaterThan(0);
        console.log(`two hosts: ${other.letter === "b" ? "A to B" : "B to A"}: ${JSON.stringify(ping)}`);
      }
      // A's VM's console over the API: typed into, and read back.
      const typed = await clients[0].consoleWrite(A.vm.name, "echo typed-over-the-api-$((6 * 7))\n");
      expect(typed.accepted).toBe(35);
      let consoleText = "";
      for (const until = Date.now() + 30_000; !consoleText.includes("typed-over-the-api-42\n") && Date.now() < until;) {
        await new Promise((r) => setTimeout(r, 250));
        consoleText = (await clients[0].consoleRead(A.vm.name)).text;
      }
      expect(consoleText).toContain("typed-over-the-api-42\n");
      await hostA.waitFor(new RegExp(`\\[${A.vm.name}\\] typed-over-the-api-42`), 10_000);
      for (const machine of [hostA, hostB]) {
        expect(machine.output).not.toMatch(/Kernel panic|BUG:|Oops|needs a reset/);
      }
    } finally {
      clients.forEach((c) => c.close());
      a?.kill();
      b?.kill();
      sockets.forEach((s) => rmSync(s, { force: true }));
    }
  }, 1_500_000);
});
