// System test: two Linux VMs at once, from one configuration module, under
// AMD-V (QEMU TCG): `make run`'s default VMs (boot/vms.json), booted as
// `make run` boots them. Both boot Debian's kernel to the busybox shell side
// by side, each on its own COM1, with their lines behind their own names on the
// hypervisor's console; the console's switch key (Ctrl-T, then the VM's
// number, vmm/sched/consolefocus.ts) sends what is typed to one or the other, and
// each reports the processors (the first has two: SMP Linux, its second
// vCPU started by INIT and STARTUP IPIs) and the memory it was configured with. Then isolation: each VM
// maps, through Linux's /dev/mem, the host-physical address where the other
// VM's RAM lies (as the management API on COM2 tells). Its nested page
// tables map only its own RAM, so the access reaches nothing, as on a PC's
// empty bus: the read is all ones, and the hypervisor notes it. Both run
// on, and power off when told, as the API's events say. Each has its
// partition of make run's NVMe disk (tools/disk/image.ts) mounted at /mnt,
// made an ext2 file system at the first boot; what the first VM writes
// there is there again when the emulator is started anew. Their network
// cards share the host's virtual switch: the first pings the second and
// the hypervisor's own address. The switch's uplink is an e1000 on QEMU's user network, restricted to this
// machine, with one port of 127.0.0.1 forwarded to the first VM as make
// run forwards it: the test reaches a TCP service there.
import { readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { makeVmDisk } from "../../tools/disk/image";
import { guestPaths } from "../../tools/guests/debian";
import { ApiClient } from "../../tools/api/client";
import { ApiEvents, shutDownWhenStopped, withSerialApi } from "../../tools/harness/apirun";
import { BootOptions } from "../../tools/harness/index";
import { Machine } from "../../tools/harness/machine";
import { forwardingUplink, freePort } from "../../tools/harness/network";
import { linuxGuests } from "./run";

const paths = guestPaths();
const manifest = linuxGuests("linux pair");

const CONFIG = "boot/vms.json";
const CONFIGURED: {
  vms: Array<{ name: string; memory: number; cpus: number; cmdline: string }>;
  management: { address: string };
} = JSON.parse(readFileSync(CONFIG, "utf8"));
const VMS = CONFIGURED.vms;
// The hypervisor's own address (A/P).
const MANAGEMENT = CONFIGURED.management.address.split("/")[0];
// Each VM's address on the switch, from its command line (typervisor.ip=A/P).
const addressOf = (vm: { cmdline: string }) => /typervisor\.ip=([\d.]+)\//.exec(vm.cmdline)![1];
const SWITCH = "\x14"; // Ctrl-T
const DISK = "build/test/vm-disks.img";

// The host as make run boots it, with the management API on COM2; `port`
// of 127.0.0.1 forwards to port 80 of the first VM.
function options(port: number): BootOptions {
  return {
    platform: "qemu",
    memoryMiB: 1024,
    modules: [
      { path: paths.vmlinux, args: "vmlinux" },
      { path: paths.initramfs, args: "initramfs" },
      { path: CONFIG, args: "vms.json config" },
    ],
    extraArgs: [
      "-drive",
      `file=${DISK},if=none,id=vmdisks,format=raw`,
      "-device",
      "nvme,drive=vmdisks,serial=typervisor",
      ...forwardingUplink(`127.0.0.1:${port}-${addressOf(VMS[0])}:80`),
    ],
  };
}

// What one connection to 127.0.0.1:`port` brings until it closes, or
// until `expected` came.
function receive(port: number, expected: string): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    const socket = connect(port, "127.0.0.1");
    const done = () => {
      socket.destroy();
      resolve(text);
    };
    socket.setTimeout(30_000, done);
    socket.on("data", (data) => {
      text += data.toString();
      if (text.includes(expected)) done();
    });
    socket.on("close", done);
    socket.on("error", done);
  });
}

// The service may not listen yet: QEMU takes the connection and closes it
// when the guest refuses. A few tries, a second apart.
async function reach(port: number, expected: string): Promise<string> {
  let text = "";
  for (let attempt = 0; attempt < 10 && !text.includes(expected); attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 1_000));
    text = await receive(port, expected);
  }
  return text;
}

// Both VMs at their shells, with their disks mounted at /mnt.
async function bothReady(machine: Machine): Promise<void> {
  for (const { name } of VMS) {
    await machine.waitFor(new RegExp(`\\[${name}\\] Enter 'help' for a list of built-in commands\\.\\r?\\n`), 300_000);
    // The message may follow the shell's prompt on its line.
    await machine.waitFor(new RegExp(`\\[${name}\\] [^\\n]*typervisor-initramfs: /dev/vda mounted at /mnt`), 300_000);
  }
}

interface Placement {
  name: string;
  memory: number;
  hostBase: bigint;
}

// Where the API says each VM's RAM lies in host memory (vm.get), its size as configured.
async function placements(client: ApiClient): Promise<Placement[]> {
  const placed: Placement[] = [];
  for (const { name, memory } of VMS) {
    const info = await client.info(name);
    expect(info.memory_bytes).toBe(memory * 2 ** 20);
    placed.push({ name, memory, hostBase: BigInt(info.memory_host_address) });
  }
  return placed;
}

// A host-physical address inside `other`'s RAM that is beyond `own`'s
// guest-physical RAM, so Linux in `own` treats it as a device address.
function probeAddress(own: Placement, other: Placement): bigint {
  const ownEnd = BigInt(own.memory) << 20n, otherEnd = other.hostBase + (BigInt(other.memory) << 20n);
  const address = (other.hostBase > ownEnd ? other.hostBase : ownEnd) + 0x10_0000n;
  expect(address < otherEnd, `vm ${other.name}'s RAM lies inside vm ${own.name}'s guest-physical RAM`).toBe(true);
  return address;
}

async function ask(
  machine: Machine,
  vm: string,
  command: string,
  answer: RegExp,
  from: number,
): Promise<RegExpMatchArray> {
  machine.send(command + "\n");
  return machine.waitFor(new RegExp(`\\[${vm}\\] ${answer.source}`), 120_000, from);
}

// Ctrl-T and the VM's number.
async function focus(machine: Machine, index: number, name: string): Promise<void> {
  const from = machine.output.length;
  machine.send(`${SWITCH}${index}`);
  await machine.waitFor(new RegExp(`console: typing into vm ${name}\r?\n`), 30_000, from);
}

// `own`, at its shell, reads a word of `other`'s RAM by its host address,
// and finds nothing there.
async function reachFor(machine: Machine, own: Placement, other: Placement): Promise<void> {
  const from = machine.output.length;
  const address = probeAddress(own, other).toString(16);
  machine.send(`devmem 0x${address} 32\n`);
  await machine.waitFor(new RegExp(`\\[${own.name}\\] 0xFFFFFFFF\r?\n`), 60_000, from);
  await machine.waitFor(
    new RegExp(`vm ${own.name}: read from 0x0*${address}, where there is neither RAM nor a device`),
    60_000,
    from,
  );
}

describe.skipIf(!manifest)("make run's default VMs: two Linux VMs from one configuration", () => {
  // One retry: once, on a loaded machine, the second VM's kernel died early
  // in the second boot (IRETQ in text_poke_early() with reserved RFLAGS
  // bits set) while the same boot had passed before and passed after.
  // QEMU sets such bits at an exit (docs/smp.md, "Four emulator bugs"),
  // which the AMD-V backend now clears; whether that ends the crash, which
  // also had NT and DF set, is not known yet.
  it("boot side by side under AMD-V, each on its own console, and neither reaches the other's memory", {
    retry: 1,
    timeout: 900_000,
  }, async () => {
    expect(VMS.map((vm) => vm.cpus)).toEqual([2, 1]);
    rmSync(DISK, { force: true });
    makeVmDisk(DISK);
    const port = await freePort();
    await withSerialApi(options(port), async (machine, client) => {
      await bothReady(machine);
      expect(machine.output).toMatch(
        new RegExp(`\\[${VMS[0].name}\\] [^\\n]*typervisor-initramfs: /dev/vda was blank: made an ext2 file system`),
      );
      const [first, second] = await placements(client);
      let from = machine.output.length;

      // The first VM with a console has the keyboard at first.
      expect(machine.output).toContain(
        `console: typing into vm ${first.name}; Ctrl-T and a number switch (0 ${first.name}, 1 ${second.name})`,
      );
      const RESOURCES = "grep -c processor /proc/cpuinfo; cat /proc/meminfo | head -1";
      const answers = /(\d+)\r?\n\[[\w-]+\] MemTotal: +(\d+) kB/;
      const a = await ask(machine, first.name, RESOURCES, answers, from);
      await focus(machine, 1, second.name);
      from = machine.output.length;
      const b = await ask(machine, second.name, RESOURCES, answers, from);
      for (const [match, vm] of [[a, VMS[0]], [b, VMS[1]]] as const) {
        expect(Number(match[1])).toBe(vm.cpus);
        const kib = Number(match[2]);
        expect(kib).toBeLessThanOrEqual(vm.memory * 1024);
        expect(kib).toBeGreaterThan(vm.memory * 1024 - 80 * 1024); // less what the kernel keeps
      }

      // Each reaches for the other's RAM, finds nothing, and runs on.
      await reachFor(machine, second, first);
      from = machine.output.length;
      await ask(machine, second.name, "echo still-running-$((6 * 7))", /still-running-42/, from);
      await focus(machine, 0, first.name);
      await reachFor(machine, first, second);
      from = machine.output.length;
      await ask(machine, first.name, "echo still-running-$((6 * 7))", /still-running-42/, from);
      from = machine.output.length;
      await ask(machine, first.name, "echo kept-$((6 * 7)) > /mnt/kept; sync; echo written", /written/, from);
      // They share a network: the first pings the second.
      from = machine.output.length;
      const ping = await ask(
        machine,
        first.name,
        `ping -c 2 -W 5 ${addressOf(VMS[1])}`,
        /\d+ packets transmitted, (\d+) packets received/,
        from,
      );
      expect(ping[1]).toBe("2");
      // And the hypervisor's own address answers.
      from = machine.output.length;
      const own = await ask(
        machine,
        first.name,
        `ping -c 2 -W 5 ${MANAGEMENT}`,
        /\d+ packets transmitted, (\d+) packets received/,
        from,
      );
      expect(own[1]).toBe("2");
      // This machine reaches a TCP service in the first VM through the uplink.
      from = machine.output.length;
      await ask(machine, first.name, "echo reached-$((6 * 7)) > /tmp/hello; echo ready", /ready/, from);
      machine.send("nc -l -p 80 < /tmp/hello &\n");
      expect(await reach(port, "reached-42\n")).toBe("reached-42\n");
      expect(machine.output).toMatch(/uplink: e1000 [^\n]*, VLAN 1, link up/);

      // Powered off one by one, as the API tells: then no VM is left, and
      // the host shuts down when asked.
      const events = await ApiEvents.follow(client);
      for (const [index, vm] of [[0, first], [1, second]] as const) {
        await focus(machine, index, vm.name);
        machine.send("poweroff -f\n");
        expect(await events.next("stopped", vm.name, 60_000)).toMatchObject({ reason: "powered off" });
      }
      const { exit } = await shutDownWhenStopped(machine, client, 60_000);
      expect(machine.output).not.toMatch(/Kernel panic|BUG:|Oops/);
      expect(exit.status).toBe(0);
    });
    // The next run: the first VM's file is on its disk.
    await withSerialApi(options(port), async (machine) => {
      await bothReady(machine);
      const from = machine.output.length;
      await ask(machine, VMS[0].name, "cat /mnt/kept", /kept-42/, from);
      machine.send("poweroff -f\n");
    });
  });
});
