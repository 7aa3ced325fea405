// System test: VMs on one host share a network. Three Debian VMs under
// AMD-V (QEMU), each with a virtio-net card on the hypervisor's virtual
// switch (vmm/net/, vmm/devices/virtio/net.ts): a and b on VLAN 10, c on
// VLAN 20, all three addresses in one IP subnet. The initramfs loads
// virtio_net and brings eth0 up at the address on its kernel command line
// (typervisor.ip). a and b ping each other, and a sends b a fixed payload
// over TCP (busybox nc) whose SHA-256 b checks on arrival; c, on the other
// VLAN, reaches neither, not even its ARP broadcasts, and a cannot reach c.
// b's card is capped at 128 KiB/s (a quarter of what the emulated VMs
// manage uncapped): 1 MiB from b reaches a at that rate, less the TCP/IP
// headers, within 10 %. Each driver negotiated the card's checksum and
// TCP segmentation offloads both ways, as Linux's sysfs lists the feature
// bits; with them a sends b 8 MiB uncapped, as Linux sizes its segments
// and then with them up to 64 KiB, and the test tells what that cost per
// MiB: exits of both VMs and frames a sent, from the management API on
// COM2 (vm.stats) before and after. Then a and b do it again over IPv6
// (ULA addresses, TSO6 negotiated): ping, the payload, and 8 MiB, its
// frames per MiB told. Under AMD-V b has two vCPUs, and its card a queue
// pair for each (F_MQ): a ping from b's second CPU leaves by the second
// pair, and its answers come back on that pair's receive queue, as
// b's interrupt counts tell. Under VT-x (Bochs), a and b
// alone, of one vCPU each, do the same ping and transfer. What went through each card the
// test reads from the API too, after the guests power off.
import { describe, expect, it } from "vitest";
import { linuxVmsModules, type LinuxVm } from "../../tools/guests/vm";
import { ApiClient, NicStats } from "../../tools/api/client";
import { allStopped, bootWithSerialApi } from "../../tools/harness/apirun";
import { type Platform } from "../../tools/harness/index";
import { Machine } from "../../tools/harness/machine";
import { PING_RECEIVED, SEQ_PAYLOAD_SHA, tcpReceived, tcpReceiver, tcpSend } from "../../tools/harness/network";
import { askVm, linuxGuests } from "./run";

const manifest = linuxGuests("net");
const SWITCH = "\x14"; // Ctrl-T
// Each VM's name, VLAN and address; `quiet` keeps kernel messages out of the answers.
const VMS = [
  { name: "net-a", vlan: 10, ip: "10.0.0.1" },
  { name: "net-b", vlan: 10, ip: "10.0.0.2" },
  { name: "net-c", vlan: 20, ip: "10.0.0.3" },
];
// b's transmit cap, and what of it a full TCP segment's frame carries:
// 1448 bytes of 1514 (the IPv4 and TCP headers with timestamps, Ethernet's).
const CAP = 128 << 10;
const PAYLOAD_SHARE = 1448 / 1514;
// The three boot at once, four vCPUs on the host's CPUs. Linux checks that
// the PIT's IRQ0 reaches it through the I/O APIC by counting five ticks in
// 160 ms of TSC time; a VM left waiting for a CPU most of that time gets
// the ticks it missed merged into one (vmm/devices/timers/pit8254.ts) and
// panics ("IO-APIC + timer doesn't work!", once in CI). The routing is
// checked on a VM alone (linux.test.ts); these skip Linux's check.
const vms: LinuxVm[] = VMS.map(({ name, vlan, ip }) => ({
  name,
  cmdline: `console=ttyS0 quiet no_timer_check typervisor.ip=${ip}/24`,
  memory: 192,
  nics: [{ vlan, ...(name === "net-b" ? { bytesPerSecond: CAP } : {}) }],
}));
// b's vCPUs under AMD-V; Bochs, far slower, boots it with one.
const B_CPUS = 2;
// The feature bits (virtio 1.2, 5.1.3) a NIC's driver must have taken:
// CSUM, GUEST_CSUM, GUEST_TSO4, GUEST_TSO6, HOST_TSO4, HOST_TSO6, MRG_RXBUF;
// and those of a card with several queue pairs: CTRL_VQ, MQ.
const OFFLOAD_BITS = [0, 1, 7, 8, 11, 12, 15];
const MULTIQUEUE_BITS = [17, 22];
// a's and b's IPv6 addresses, unique local (RFC 4193).
const IPV6 = ["fd00::1", "fd00::2"];

// Ctrl-T and the VM's number.
async function focus(machine: Machine, index: number): Promise<void> {
  const from = machine.output.length;
  machine.send(`${SWITCH}${index}`);
  await machine.waitFor(new RegExp(`console: typing into vm ${VMS[index].name}\r?\n`), 30_000, from);
}

// The VMs `count` of VMS, booted under `platform`, at their shells with
// eth0 up; the management API on COM2 tells their cards' counters.
async function start(platform: Platform, count: number): Promise<Host> {
  const host = await bootWithSerialApi({
    platform,
    memoryMiB: 1024,
    modules: linuxVmsModules(
      "vmlinux",
      vms.slice(0, count).map((vm) => (vm.name === "net-b" && platform === "qemu" ? { ...vm, cpus: B_CPUS } : vm)),
    ),
  });
  for (const { name, ip } of VMS.slice(0, count)) {
    await host.machine.waitFor(
      new RegExp(`\\[${name}\\] [^\\n]*typervisor-initramfs: eth0 up at ${ip}/24`),
      600_000,
    );
    await host.machine.waitFor(new RegExp(`\\[${name}\\] Enter 'help' for a list of built-in commands\\.`), 600_000);
  }
  return host;
}

interface Host {
  machine: Machine;
  client: ApiClient;
  done(): void;
}

// a and b, on VLAN 10, ping each other, and a sends b the payload over TCP.
// Leaves the keyboard with a.
async function exchange(machine: Machine): Promise<void> {
  const [a, b] = VMS;
  const ab = await askVm(machine, a.name, `ping -c 3 ${b.ip}`, PING_RECEIVED);
  expect([ab[1], ab[2]]).toEqual(["3", "3"]);
  await focus(machine, 1);
  const ba = await askVm(machine, b.name, `ping -c 3 ${a.ip}`, PING_RECEIVED);
  expect([ba[1], ba[2]]).toEqual(["3", "3"]);
  await askVm(machine, b.name, tcpReceiver(5000, "/tmp/got"), /listening-42/);
  await focus(machine, 0);
  await askVm(machine, a.name, tcpSend(b.ip, 5000), /sent-0/);
  await focus(machine, 1);
  const got = await askVm(
    machine,
    b.name,
    tcpReceived("/tmp/got"),
    /([0-9a-f]{64}) {2}\/tmp\/got/,
  );
  expect(got[1]).toBe(SEQ_PAYLOAD_SHA);
  await focus(machine, 0);
}

// a and b take their IPv6 addresses (no duplicate address detection, so
// that they are usable at once), ping each other over IPv6, and a sends b
// the payload over TCP/IPv6. Expects the keyboard with a, and leaves it there.
async function exchangeIpv6(machine: Machine): Promise<void> {
  for (const [index, vm] of [[0, VMS[0]], [1, VMS[1]]] as const) {
    await focus(machine, index);
    const add = `sysctl -w net.ipv6.conf.eth0.accept_dad=0 >/dev/null; ip -6 addr add ${IPV6[index]}/64 dev eth0; `;
    await askVm(machine, vm.name, `${add}echo added-$?`, /added-0/);
  }
  const ba = await askVm(machine, VMS[1].name, `ping -6 -c 3 ${IPV6[0]}`, PING_RECEIVED);
  expect([ba[1], ba[2]]).toEqual(["3", "3"]);
  await askVm(machine, VMS[1].name, tcpReceiver(5004, "/tmp/got6"), /listening-42/);
  await focus(machine, 0);
  await askVm(machine, VMS[0].name, tcpSend(IPV6[1], 5004), /sent-0/);
  await focus(machine, 1);
  const got = await askVm(machine, VMS[1].name, tcpReceived("/tmp/got6"), /([0-9a-f]{64}) {2}\/tmp\/got6/);
  expect(got[1]).toBe(SEQ_PAYLOAD_SHA);
  await focus(machine, 0);
}

// The feature bits `vm`'s virtio-net driver negotiated: sysfs's "0" or "1"
// for each bit from bit 0, for the device whose ID is 1 (5.1.1).
async function negotiated(machine: Machine, vm: string): Promise<string> {
  const command =
    "for d in /sys/bus/virtio/devices/*; do [ $(cat $d/device) = 0x0001 ] && echo features-$(cat $d/features); done";
  return (await askVm(machine, vm, command, /features-([01]+)\r?\n/))[1];
}

// The interrupts b's card has raised for its second pair's receive queue
// (Linux names it input.1), on all CPUs. Expects the keyboard with b.
async function secondPairInterrupts(machine: Machine): Promise<number> {
  const command = `awk '/virtio[0-9]+-input[.]1/ { print "input1-" $2 + $3 }' /proc/interrupts`;
  return Number((await askVm(machine, VMS[1].name, command, /input1-(\d+)\r?\n/))[1]);
}

// What moving data costs: exits of a and b, frames a sent, per MiB; how fast.
interface Cost {
  exitsPerMiB: number;
  framesPerMiB: number;
  mibPerSecond: number;
  // Frames b had no receive buffers for.
  dropped: number;
}

// a sends b 8 MiB of zeros over TCP to `port` of `to` (b's IPv4 address
// unless given), uncapped; b counts them. What it cost, from both VMs'
// stats before and after. Expects the keyboard with a, and leaves it there.
async function bulkCost({ machine, client }: Host, port: number, to = VMS[1].ip): Promise<Cost> {
  const [a, b] = VMS, mib = 8;
  await focus(machine, 1);
  await askVm(
    machine,
    b.name,
    `rm -f /tmp/count; (sleep 600 | nc -l -p ${port} | wc -c > /tmp/count) & `
      + `until netstat -ltn | grep -q ':${port} '; do sleep 0.1; done; echo listening-$((6 * 7))`,
    /listening-42/,
  );
  await focus(machine, 0);
  const before = await Promise.all([a.name, b.name].map((name) => client.stats(name))), start = Date.now();
  await askVm(
    machine,
    a.name,
    `dd if=/dev/zero bs=65536 count=${mib * 16} 2>/dev/null | nc ${to} ${port}; echo sent-$?`,
    /sent-0/,
    600_000,
  );
  const after = await Promise.all([a.name, b.name].map((name) => client.stats(name))),
    seconds = (Date.now() - start) / 1000;
  await focus(machine, 1);
  const count = await askVm(
    machine,
    b.name,
    "for i in $(seq 60); do [ -s /tmp/count ] && break; sleep 1; done; echo count-$(cat /tmp/count)",
    /count-(\d+)\r?\n/,
  );
  expect(Number(count[1])).toBe(mib << 20);
  await focus(machine, 0);
  const exits = after.reduce((sum, vm, i) => sum + vm.exits.total - before[i].exits.total, 0);
  const frames = after[0].nics[0].frames_sent - before[0].nics[0].frames_sent;
  const dropped = after[1].nics[0].frames_dropped.queue_full - before[1].nics[0].frames_dropped.queue_full;
  return { exitsPerMiB: exits / mib, framesPerMiB: frames / mib, mibPerSecond: mib / seconds, dropped };
}

// b sends 1 MiB to a over TCP; a times it from the first byte to the last
// by its uptime, in the background from before b starts. Payload bytes per
// second. Expects the keyboard with a, and leaves it there.
async function cappedRate(machine: Machine): Promise<number> {
  const [a, b] = VMS;
  const bytes = 1 << 20;
  const uptime = "$(cut -d' ' -f1 /proc/uptime)";
  await askVm(
    machine,
    a.name,
    "(sleep 600 | nc -l -p 5001 > /tmp/big) & "
      + `(while [ ! -s /tmp/big ]; do sleep 0.05; done; first=${uptime}; `
      + `while [ $(wc -c < /tmp/big) -lt ${bytes} ]; do sleep 0.05; done; echo $first ${uptime} > /tmp/took) & `
      // b connects only once a listens: a loaded host may start nc late.
      + "until netstat -ltn | grep -q ':5001 '; do sleep 0.1; done; echo timing-$((6 * 7))",
    /timing-42/,
  );
  await focus(machine, 1);
  await askVm(
    machine,
    b.name,
    `dd if=/dev/zero bs=4096 count=${bytes / 4096} 2>/dev/null | nc ${a.ip} 5001; echo sent-$?`,
    /sent-0/,
  );
  await focus(machine, 0);
  const took = await askVm(
    machine,
    a.name,
    "for i in $(seq 60); do [ -s /tmp/took ] && break; sleep 1; done; echo took $(cat /tmp/took)",
    // To the line's end: a match on output still arriving could cut the second time short.
    /took ([\d.]+) ([\d.]+)\r?\n/,
  );
  const seconds = Number(took[2]) - Number(took[1]);
  console.log(`net: 1 MiB through a cap of 128 KiB/s in ${seconds.toFixed(2)} s`);
  return bytes / seconds;
}

// Every VM powered off by its guest, one by one; then the host is shut
// down. Each card's counters as the API tells them: a and b sent and
// received, and the switch refused nothing of theirs, though a busy
// receiver may have lacked room. The cards' counters, by VM.
async function powerOff({ machine, client }: Host, count: number): Promise<Map<string, NicStats>> {
  for (let i = 0; i < count; i++) {
    await focus(machine, i);
    machine.send("poweroff -f\n");
  }
  const ends = await allStopped(machine, client, 120_000);
  const cards = new Map([...ends].map(([name, vm]) => [name, vm.stats.nics[0]]));
  for (const { name } of VMS.slice(0, 2)) {
    expect(ends.get(name)!.info.stop_reason).toBe("powered off");
    const card = cards.get(name)!;
    expect(card.frames_sent).toBeGreaterThan(0);
    expect(card.frames_received).toBeGreaterThan(0);
    const { queue_full: _, ...refused } = card.frames_dropped;
    expect(Object.keys(refused)).toEqual(["malformed", "spoofed", "vlan", "broadcast_limit", "bad_offload"]);
    expect(Object.values(refused), JSON.stringify(card)).toEqual([0, 0, 0, 0, 0]);
  }
  expect(machine.output).not.toMatch(/Kernel panic|BUG:|Oops|needs a reset/);
  await client.shutdownHost();
  const exit = await machine.waitForExit(60_000);
  expect(exit.status).toBe(0);
  return cards;
}

describe.skipIf(!manifest)("a network for the VMs of one host", () => {
  it("carries ping and TCP between two VMs on one VLAN under AMD-V, and nothing across VLANs", async () => {
    const host = await start("qemu", 3), machine = host.machine;
    try {
      expect(machine.output).toContain("nic 52:54:00:12:00:00 (VLAN 10)");
      expect(machine.output).toContain("nic 52:54:00:12:02:00 (VLAN 20)");
      await exchange(machine);
      const [a, b, c] = VMS;
      for (const [index, vm] of [[0, a], [1, b]] as const) {
        await focus(machine, index);
        const bits = await negotiated(machine, vm.name);
        expect(OFFLOAD_BITS.map((bit) => bits[bit]), `${vm.name}: ${bits}`).toEqual(OFFLOAD_BITS.map(() => "1"));
        // Nor indirect descriptors (bit 28), which the card does not offer.
        expect(bits[28], `${vm.name}: ${bits}`).toBe("0");
        // Only b, of two vCPUs, has a card of two pairs.
        const multiqueue = MULTIQUEUE_BITS.map((bit) => bits[bit]);
        expect(multiqueue, `${vm.name}: ${bits}`).toEqual(MULTIQUEUE_BITS.map(() => (index === 1 ? "1" : "0")));
      }
      // b's queues as Linux lists them, then a ping from its second CPU:
      // the answers come back on the second pair's receive queue.
      await focus(machine, 1);
      const queues = await askVm(
        machine,
        b.name,
        "echo queues-$((6 * 7)) $(ls /sys/class/net/eth0/queues)",
        /queues-42 (.*)\r?\n/,
      );
      expect(queues[1].trim()).toBe("rx-0 rx-1 tx-0 tx-1");
      const before = await secondPairInterrupts(machine);
      const pinged = await askVm(machine, b.name, `taskset -c 1 ping -c 3 ${a.ip}`, PING_RECEIVED);
      expect([pinged[1], pinged[2]]).toEqual(["3", "3"]);
      const answers = (await secondPairInterrupts(machine)) - before;
      console.log(`net: b's second receive queue interrupted ${answers} times for 3 answers to its second CPU's ping`);
      expect(answers).toBeGreaterThanOrEqual(3);
      await focus(machine, 0);
      // Linux sizes its segments to about 1 ms of its sending rate, at least
      // tcp_min_tso_segs frames' worth (2): at these emulated VMs' rate that
      // is 2 or 3 frames. Then with its floor raised to a 64 KiB segment.
      const cost = await bulkCost(host, 5002);
      await askVm(machine, a.name, "echo 44 > /proc/sys/net/ipv4/tcp_min_tso_segs; echo set-$((6 * 7))", /set-42/);
      const large = await bulkCost(host, 5003);
      for (const [what, c] of [["", cost], [" (min TSO segs 44)", large]] as const) {
        console.log(
          `net: 8 MiB from a to b${what}: ${c.exitsPerMiB.toFixed(0)} exits, ${c.framesPerMiB.toFixed(1)} frames`
            + ` per MiB, ${c.mibPerSecond.toFixed(2)} MiB/s, ${c.dropped} dropped by b for want of buffers`,
        );
      }
      // Without segmentation offload a MiB is at least 724.1 frames of 1448
      // bytes of data. Fewer frames than that can only be segments of several
      // frames that crossed the switch whole. How many fewer is Linux's choice:
      // it aims at tcp_min_tso_segs, but a receiver that returns its window
      // slowly (a loaded host) caps the segments (CI runs: 62.8, then 541;
      // once 747.5, when the default phase gave 653), so the better phase counts.
      expect(Math.min(cost.framesPerMiB, large.framesPerMiB)).toBeLessThan(724);
      // Over IPv6: the payload checked above, and 8 MiB, whose frames per MiB
      // are told but not held to a bound, for the reason above (a MiB without
      // segmentation offload is at least 734.3 frames of 1428 bytes; a quiet
      // host gave 64). The frames cut from a TCP/IPv6 segment are checked one
      // by one in test/unit/virtionetoffload.test.ts.
      await exchangeIpv6(machine);
      const large6 = await bulkCost(host, 5005, IPV6[1]);
      console.log(
        `net: 8 MiB from a to b over IPv6 (min TSO segs 44): ${large6.exitsPerMiB.toFixed(0)} exits, `
          + `${large6.framesPerMiB.toFixed(1)} frames per MiB, ${large6.mibPerSecond.toFixed(2)} MiB/s`,
      );
      // c, on VLAN 20, reaches neither of them, and a does not reach c.
      const ac = await askVm(machine, a.name, `ping -c 2 -W 2 ${c.ip}`, PING_RECEIVED);
      expect(ac[2]).toBe("0");
      await focus(machine, 2);
      const ca = await askVm(machine, c.name, `ping -c 2 -W 2 ${a.ip}`, PING_RECEIVED);
      expect(ca[2]).toBe("0");
      await focus(machine, 0);
      const rate = await cappedRate(machine);
      // c, alone on its VLAN, received nothing at all.
      const cards = await powerOff(host, 3);
      expect(cards.get("net-c")).toMatchObject({ id: "52:54:00:12:02:00", frames_received: 0 });
      expect(cards.get("net-c")!.frames_sent).toBeGreaterThan(0);
      expect(rate / (CAP * PAYLOAD_SHARE)).toBeGreaterThan(0.9);
      expect(rate / (CAP * PAYLOAD_SHARE)).toBeLessThan(1.1);
    } finally {
      host.client.close();
      machine.kill();
      host.done();
    }
  }, 900_000);

  it("carries ping and TCP between two VMs under Intel VT-x (Bochs)", async () => {
    const host = await start("bochs", 2), machine = host.machine;
    try {
      expect(machine.output).toContain("nic 52:54:00:12:01:00 (VLAN 10, 128 KiB/s), Intel VT-x");
      await exchange(machine);
      await powerOff(host, 2);
    } finally {
      host.client.close();
      machine.kill();
      host.done();
    }
  }, 1_800_000);
});
