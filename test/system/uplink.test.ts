// System test: the virtual switch's uplink (vmm/net/uplink.ts) on the
// host's e1000 (vmm/net/e1000/) or virtio-net (vmm/net/virtionet/). The
// hypervisor runs under AMD-V (QEMU) with an emulated 82540EM, or a modern
// virtio-net-pci without its legacy interface, whose wire is a TCP
// connection on 127.0.0.1 (-netdev socket, listening); a second QEMU runs
// the same Debian kernel and initramfs bare, its own e1000 connected to
// that socket, so the two NICs share one Ethernet segment that never
// leaves this machine (the initramfs loads drivers for virtio devices
// only: the bare Linux is told to load e1000 and bring eth0 up at its
// shell). Twice for each host NIC: with an access uplink on VLAN 10, the
// VM's card on VLAN 10 too, frames untagged on the wire; and with a trunk
// of VLANs 10 and 20, the VM on VLAN 20, and the bare Linux on an 802.1Q
// interface for VLAN 20, frames tagged on the wire. The VM and the bare
// Linux ping each other; the bare Linux sends the VM a fixed payload over
// TCP (busybox nc), whose SHA-256 the VM checks: every frame of it came in
// through the host NIC's receive ring, polled. Then the VM sends it back,
// its large TCP segments cut into frames by the switch, and the bare Linux
// checks it, and that no segment came with a bad checksum. Under VT-x
// (Bochs), whose e1000 is the 82540EM too, the wire is Bochs's slirp, restricted, a
// network inside the emulator whose gateway answers ARP and ping at
// 10.0.2.2: the VM pings it through the uplink. (Bochs's "vnet" answers
// only the NIC's own address, not the machines behind a bridge.)
// The hypervisor's own address (vmm/net/ip/management.ts, lwIP in an
// instance of its own) is on VLAN 10 in both runs, from a second
// configuration module: with the access uplink the VM and the bare Linux
// both ping it; with the trunk the VM, on VLAN 20, gets no answer, and
// the bare Linux does once it moves its address to VLAN 10. The bare
// Linux then asks the management API over HTTP (vmm/api/http.ts, lwIP's
// linker/lwip/http.c) with busybox nc: GET /api/v1/vms with the bearer
// token lists the VM running, without it the answer is 401 with the
// API's JSON error, and a method the path does not take is 405. Once the
// VM is off the host stays up for its API, and the bare Linux shuts it
// down with POST /api/v1/host/shutdown, so that it logs the uplink's
// counters as it stops.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bootGuest } from "../../tools/guests/boot";
import { linuxVmsModules, type Uplink } from "../../tools/guests/vm";
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
import { linuxGuests } from "./run";

const manifest = linuxGuests("uplink");
const VM = { name: "up-vm", ip: "10.0.0.1" };
const BARE_IP = "10.0.0.2";
const HOST_NIC_MAC = "52:54:00:aa:00:01";
const BARE_MAC = "52:54:00:bb:00:01";
const ROUND_TRIP = /round-trip min\/avg\/max = ([\d./]+) ms/;
const MANAGEMENT = { ip: "10.0.0.20", vlan: 10, mac: "52:54:00:13:00:01" };
const API_TOKEN = "uplink-s3cret";
// /proc/net/snmp's two Tcp: lines on one: the counters' names, then their values.
const TCP_COUNTERS = /Tcp: ([A-Za-z ]+) Tcp: ([\d -]+) tcp-42/;

// A configuration module with no VMs that gives the hypervisor its address.
function managementModule(): Module {
  const path = "build/test/management-vlan10.json";
  mkdirSync("build/test", { recursive: true });
  const management = { address: `${MANAGEMENT.ip}/24`, vlan: MANAGEMENT.vlan };
  writeFileSync(path, JSON.stringify({ vms: [], management }) + "\n");
  return { path, args: "management.json config" };
}

// Pings the hypervisor's address from `machine` (console label `prefix`):
// how many answers, and the round trips in ms, "min/avg/max" ("-" without answers).
async function pingManagement(machine: Machine, prefix: string): Promise<{ received: string; rtt: string }> {
  const command = `ping -c 3 -W 2 ${MANAGEMENT.ip}; echo pinged-$((6 * 7))`;
  const out = await ask(machine, prefix, command, new RegExp(`${PING_RECEIVED.source}[^]*?pinged-42`));
  return { received: out[2], rtt: ROUND_TRIP.exec(out[0])?.[1] ?? "-" };
}

// An HTTP request to the management API from the bare Linux: the status
// and the JSON body. nc's input stays open a moment so that it waits for
// the reply; the hypervisor closes the connection after it.
async function httpFromBare(bare: Machine, request: string): Promise<{ status: number; body: unknown }> {
  const command = `(printf '${
    request.replace(/\r\n/g, "\\r\\n")
  }'; sleep 2) | nc ${MANAGEMENT.ip} 80; echo; echo http-$((6 * 7))`;
  const out = await ask(bare, "", command, /HTTP\/1\.1 (\d{3}) [^]*?(\{[^\r\n]*\})\r?\n[^]*?http-42/);
  return { status: Number(out[1]), body: JSON.parse(out[2]) };
}

// `command` typed on `machine`, and the match of `answer` in what follows;
// `prefix` is the console's label of the VM ("" for the bare Linux).
async function ask(machine: Machine, prefix: string, command: string, answer: RegExp, timeout = 120_000) {
  const from = machine.output.length;
  machine.send(command + "\n");
  return machine.waitFor(new RegExp(`${prefix}${answer.source}`), timeout, from);
}

// One way to wire the VM to the bare Linux: the uplink, its log line's
// VLANs, the VM card's VLAN, and what brings the bare Linux's interface up.
interface Wiring {
  uplink: Uplink;
  described: string;
  vmVlan: number;
  bareUp: string;
  // Whether the VM shares the management address's VLAN; what moves the bare Linux onto it.
  vmReachesManagement: boolean;
  bareToManagement: string;
}

const ACCESS: Wiring = {
  uplink: { vlan: 10 },
  described: "VLAN 10",
  vmVlan: 10,
  bareUp: `modprobe e1000 && ip link set eth0 up && ip addr add ${BARE_IP}/24 dev eth0`,
  vmReachesManagement: true,
  bareToManagement: "true",
};
const TRUNK: Wiring = {
  uplink: { trunk: [10, 20] },
  described: "trunk 10,20",
  vmVlan: 20,
  bareUp: "modprobe e1000 && modprobe 8021q && ip link set eth0 up"
    + " && ip link add link eth0 name eth0.20 type vlan id 20 && ip link set eth0.20 up"
    + ` && ip addr add ${BARE_IP}/24 dev eth0.20`,
  vmReachesManagement: false,
  bareToManagement: "ip addr flush dev eth0.20 && ip link add link eth0 name eth0.10 type vlan id 10"
    + ` && ip link set eth0.10 up && ip addr add ${BARE_IP}/24 dev eth0.10`,
};

// The host's NIC as QEMU's -device gives it, and the driver's name in the uplink's log line.
interface HostNic {
  device: string;
  driver: string;
}
const E1000: HostNic = { device: "e1000", driver: "e1000" };
const VIRTIO_NET: HostNic = { device: "virtio-net-pci,disable-legacy=on", driver: "virtio-net" };

// The hypervisor with the VM, its NIC listening on a free port of
// 127.0.0.1, its uplink started. Another run may take the port between
// freePort() and QEMU's bind: QEMU then exits at once saying so, and the
// next attempt takes another port.
async function bootHost(w: Wiring, nic: HostNic): Promise<{ host: Machine; port: number }> {
  for (let attempt = 1;; attempt++) {
    const port = await freePort();
    const host = await boot({
      platform: "qemu",
      memoryMiB: 1024,
      cmdline: `exit=emulator api_token=${API_TOKEN}`,
      modules: [
        ...linuxVmsModules(
          "vmlinux",
          [{
            name: VM.name,
            cmdline: `console=ttyS0 quiet typervisor.ip=${VM.ip}/24`,
            memory: 192,
            nics: [{ vlan: w.vmVlan }],
          }],
          w.uplink,
        ),
        managementModule(),
      ],
      extraArgs: [
        "-device",
        `${nic.device},netdev=wire,mac=${HOST_NIC_MAC}`,
        "-netdev",
        `socket,id=wire,listen=127.0.0.1:${port}`,
      ],
    });
    try {
      await host.waitFor(
        new RegExp(
          `uplink: ${nic.driver} 0000:00:0[0-9a-f]\\.0, ${HOST_NIC_MAC}, ${w.described}, link (up|not up yet)`,
        ),
        120_000,
      );
      await host.waitFor(
        new RegExp(`management: ${MANAGEMENT.ip}/24 on VLAN ${MANAGEMENT.vlan}, ${MANAGEMENT.mac}`),
        10_000,
      );
      await host.waitFor(/api: the management API listens on HTTP, TCP port 80/, 60_000);
      return { host, port };
    } catch (e) {
      host.kill();
      if (attempt === 3 || !/Address already in use/.test(host.output)) throw e;
    }
  }
}

// The bare Linux on the other end of the wire; pings both ways, then the
// payload from the bare Linux to the VM.
async function acrossTheWire(w: Wiring, nic: HostNic): Promise<void> {
  const { host, port } = await bootHost(w, nic);
  let bare: Machine | null = null;
  try {
    bare = bootGuest({
      vmlinux: true,
      append: "console=ttyS0 panic=-1 quiet",
      devices: ["-device", `e1000,netdev=wire,mac=${BARE_MAC}`, "-netdev", `socket,id=wire,connect=127.0.0.1:${port}`],
    });
    const vm = `\\[${VM.name}\\] `;
    await host.waitFor(new RegExp(`${vm}[^\\n]*typervisor-initramfs: eth0 up at ${VM.ip}/24`), 600_000);
    await host.waitFor(new RegExp(`${vm}Enter 'help' for a list of built-in commands\\.`), 600_000);
    await bare.waitFor(/Enter 'help' for a list of built-in commands\./, 600_000);
    await ask(bare, "", `${w.bareUp} && echo wire-up-$((6 * 7))`, /wire-up-42/);

    const out = await ask(host, vm, `ping -c 3 ${BARE_IP}`, PING_RECEIVED);
    expect([out[1], out[2]]).toEqual(["3", "3"]);
    const back = await ask(bare, "", `ping -c 3 ${VM.ip}`, PING_RECEIVED);
    expect([back[1], back[2]]).toEqual(["3", "3"]);

    // The VM listens; the bare Linux sends.
    await ask(host, vm, tcpReceiver(5000, "/tmp/got"), /listening-42/);
    await ask(bare, "", tcpSend(VM.ip, 5000), /sent-0/);
    const got = await ask(
      host,
      vm,
      tcpReceived("/tmp/got"),
      /([0-9a-f]{64}) {2}\/tmp\/got/,
    );
    expect(got[1]).toBe(SEQ_PAYLOAD_SHA);
    // The other way: the bare Linux listens, the VM sends. The VM's TCP
    // segments, up to 64 KiB, reach the wire cut into frames with their
    // checksums whole (vmm/net/offload.ts), or the payload would not
    // arrive; nor did one arrive with a bad checksum (InCsumErrors).
    await ask(bare, "", tcpReceiver(5001, "/tmp/got"), /listening-42/);
    await ask(host, vm, tcpSend(BARE_IP, 5001), /sent-0/);
    const sent = await ask(bare, "", tcpReceived("/tmp/got"), /([0-9a-f]{64}) {2}\/tmp\/got/);
    expect(sent[1]).toBe(SEQ_PAYLOAD_SHA);
    const snmp = await ask(bare, "", "grep Tcp: /proc/net/snmp | tr '\\n' ' '; echo tcp-$((6 * 7))", TCP_COUNTERS);
    const tcp = Object.fromEntries(snmp[1].trim().split(/ +/).map((name, i) => [name, snmp[2].trim().split(/ +/)[i]]));
    expect(tcp.InCsumErrors).toBe("0");

    // The hypervisor's own address: from the VM if it is on its VLAN, and
    // over the wire from the bare Linux on VLAN 10.
    const fromVm = await pingManagement(host, vm);
    expect(fromVm.received).toBe(w.vmReachesManagement ? "3" : "0");
    await ask(bare, "", `${w.bareToManagement} && echo moved-$((6 * 7))`, /moved-42/);
    const fromBare = await pingManagement(bare, "");
    expect(fromBare.received).toBe("3");
    const vms = await httpFromBare(
      bare,
      `GET /api/v1/vms HTTP/1.1\r\nHost: ${MANAGEMENT.ip}\r\nAuthorization: Bearer ${API_TOKEN}\r\n\r\n`,
    );
    expect(vms.status).toBe(200);
    expect(vms.body).toMatchObject({ vms: [{ name: VM.name, state: "running", vcpus: 1 }] });
    const refused = await httpFromBare(bare, `GET /api/v1/vms HTTP/1.1\r\nHost: ${MANAGEMENT.ip}\r\n\r\n`);
    expect(refused).toMatchObject({ status: 401, body: { code: -32001, data: { status: 401 } } });
    const wrong = await httpFromBare(bare, `DELETE /api/v1/vms HTTP/1.1\r\nAuthorization: Bearer ${API_TOKEN}\r\n\r\n`);
    expect(wrong).toMatchObject({ status: 405, body: { code: -32601, data: { status: 405 } } });
    console.log(
      `management (${w.described}): round trips (min/avg/max) from the VM ${fromVm.rtt} ms,`
        + ` over the wire ${fromBare.rtt} ms`,
    );

    // With its VM off the host stays up for the API: the bare Linux shuts it down over the uplink.
    host.send("poweroff -f\n");
    await host.waitFor(/no virtual machine runs; the host stays up for the management API/, 120_000);
    const shutdown = await httpFromBare(
      bare,
      `POST /api/v1/host/shutdown HTTP/1.1\r\nHost: ${MANAGEMENT.ip}\r\nAuthorization: Bearer ${API_TOKEN}\r\n`
        + "Content-Length: 0\r\n\r\n",
    );
    expect(shutdown).toMatchObject({ status: 200, body: { shutting_down: true } });
    const exit = await host.waitForExit(60_000);
    expect(host.output).toMatch(new RegExp(`vm ${VM.name}: nic [0-9a-f:]{17}: sent [1-9]\\d*, received [1-9]\\d*`));
    // The uplink's counters as the hypervisor stopped: frames went through it both ways.
    const counted = /uplink: (sent [1-9]\d*, received [1-9]\d*[^\r\n]*)/.exec(host.output);
    expect(counted).not.toBeNull();
    console.log(`uplink (${nic.driver}, ${w.described}): ${counted![1]}`);
    expect(host.output).toMatch(/management: sent [1-9]\d*, received [1-9]\d*/);
    expect(host.output).not.toMatch(/Kernel panic|BUG:|Oops|needs a reset/);
    expect(bare.output).not.toMatch(/Kernel panic|BUG:|Oops|NETDEV WATCHDOG/);
    expect(exit.status).toBe(0);
  } finally {
    host.kill();
    bare?.kill();
  }
}

describe.skipIf(!manifest)("the switch's uplink on the host's NIC", () => {
  for (const nic of [E1000, VIRTIO_NET]) {
    it(
      `joins a VM and a Linux through an access uplink on ${nic.driver}, untagged: ping and TCP under AMD-V`,
      async () => {
        await acrossTheWire(ACCESS, nic);
      },
      1_200_000,
    );

    it(`joins them through a trunk uplink on ${nic.driver}, tagged on the wire: ping and TCP under AMD-V`, async () => {
      await acrossTheWire(TRUNK, nic);
    }, 1_200_000);
  }

  it("reaches the emulator's own network through the uplink under Intel VT-x (Bochs)", async () => {
    // slirp's configuration: nothing from the VM may leave the emulator.
    const dir = mkdtempSync(join(tmpdir(), "typervisor-slirp-")), script = join(dir, "slirp.conf");
    writeFileSync(script, "# slirp config\nrestricted = 1\n");
    const ip = "10.0.2.15";
    const host = await boot({
      platform: "bochs",
      memoryMiB: 512,
      cmdline: "exit=emulator",
      modules: linuxVmsModules(
        "vmlinux",
        [{ name: VM.name, cmdline: `console=ttyS0 quiet typervisor.ip=${ip}/24`, memory: 192, nics: [{}] }],
        {},
      ),
      extraArgs: [`e1000: enabled=1, mac=${HOST_NIC_MAC}, ethmod=slirp, script=${script}`],
    });
    try {
      await host.waitFor(new RegExp(`uplink: e1000 0000:00:0[0-9a-f]\\.0, ${HOST_NIC_MAC}, VLAN 1, link`), 600_000);
      const vm = `\\[${VM.name}\\] `;
      await host.waitFor(new RegExp(`${vm}Enter 'help' for a list of built-in commands\\.`), 1_500_000);
      const out = await ask(host, vm, "ping -c 3 10.0.2.2", PING_RECEIVED, 300_000);
      expect([out[1], out[2]]).toEqual(["3", "3"]);
      host.send("poweroff -f\n");
      await host.waitFor(new RegExp(`vm ${VM.name}: powered off`), 300_000);
      await host.waitForExit(120_000);
      expect(host.output).toMatch(/uplink: sent [1-9]\d*, received [1-9]\d*/);
    } finally {
      host.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 1_800_000);
});
