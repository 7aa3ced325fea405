// System test: the management API on the hypervisor's COM2 (vmm/api,
// docs/api.md), driven by the CLI's client (tools/api/client.ts). Under
// QEMU's AMD-V, COM2 is a unix socket QEMU listens on; under Bochs' VT-x,
// Bochs connects COM2 to a TCP port of the test. Three busy VMs
// (test/guests/busy.S: an endless loop without exits) run; the test lists
// and describes them, pauses one and sees its CPU time stand still while
// the others' grows, resumes it, powers another off and is told so by an
// event with the reason, and sends a wrong token, garbage, an oversized
// line and unknown methods and fields: each gets its error, and the VMs
// run on. A kernel VM from the configuration (the multiboot test kernel)
// is rebooted from its image and boots again; powered off, it leaves the
// host up for the API, is powered on again, and the host shuts down when
// asked; VMs created through the API get their RAM from the pool and give
// it back when destroyed. The test follows all this through the API's
// events and figures, not the log's wording. With gdb= on the command
// line the debugger keeps COM2 and the API says it is off. Over HTTP, this
// machine reaches the hypervisor's management address through a port QEMU
// forwards, scrapes /metrics as Prometheus would (Prometheus' own parser
// reads what it gets) and follows the events as server-sent events.
import { once } from "node:events";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { AddressInfo, createServer, Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { ApiClient, ApiError, HostInfo, Reply } from "../../tools/api/client";
import { HttpApiClient } from "../../tools/api/http";
import { boot, Machine, Module } from "../../tools/harness/index";
import { type MetricFamily, parseMetrics, sampleValue } from "../../tools/harness/prometheus";
import { bootWithHttpApi } from "../../tools/harness/httpapi";
import { ApiEvents, untilRunning } from "../../tools/harness/apirun";

const TOKEN = "s3cret-token";
const busy = (name: string): Module => ({ path: "build/guests/busy.bin", args: `vm=${name} mem=4` });
const CMDLINE = `exit=emulator api_token=${TOKEN}`;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function cpuNs(client: ApiClient, name: string): Promise<number> {
  return (await client.stats(name)).cpu_ns;
}

// Waits (within `timeoutMs`) until the host's memory is as `before` again,
// from `made` while a VM it has destroyed was there: that VM's RAM and the
// hypervisor's pages for it (some, at least) go back once no CPU holds it.
// What came back, said as the log says it.
async function memoryBack(
  client: ApiClient,
  before: HostInfo["memory"],
  made: HostInfo["memory"],
  timeoutMs: number,
): Promise<string> {
  const until = Date.now() + timeoutMs;
  let now = (await client.host()).memory;
  while (JSON.stringify(now) !== JSON.stringify(before) && Date.now() < until) {
    await pause(100);
    now = (await client.host()).memory;
  }
  expect(now).toEqual(before);
  const pages = made.hypervisor_pages_bytes - before.hypervisor_pages_bytes;
  expect(pages).toBeGreaterThan(0);
  return `${(made.vm_bytes - before.vm_bytes) / 2 ** 20} MiB of RAM and ${
    pages / 1024
  } KiB of the hypervisor's pages are free again`;
}

async function rejection(call: Promise<unknown>): Promise<ApiError> {
  const error = await call.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

// The error a stray line gets: its HTTP status and JSON-RPC code.
async function strayError(client: ApiClient): Promise<{ status: number; code: number; id: Reply["id"] }> {
  const reply = await client.nextStray();
  expect(reply.error, JSON.stringify(reply)).toBeDefined();
  return { status: reply.error!.data!.status, code: reply.error!.code, id: reply.id };
}

// A host under QEMU's AMD-V with `cpus` CPUs whose configuration holds
// `vms`, the multiboot test kernel as a boot module and the API on COM2;
// `body` gets the machine and a client once the API listens.
async function withKernelHost(
  label: string,
  vms: object[],
  cpus: number,
  body: (machine: Machine, client: ApiClient) => Promise<void>,
): Promise<void> {
  mkdirSync("build/test", { recursive: true });
  const socket = `build/test/api-${label}-${process.pid}.sock`, config = `build/test/api-${label}-${process.pid}.json`;
  rmSync(socket, { force: true });
  writeFileSync(config, JSON.stringify({ vms }));
  const machine = await boot({
    platform: "qemu",
    cpus,
    memoryMiB: 256,
    cmdline: CMDLINE,
    modules: [{ path: "build/guests/mbtest.elf", args: "mbtest.elf" }, { path: config, args: "vms.json config" }],
    extraArgs: ["-serial", `unix:${socket},server=on,wait=off`],
  });
  try {
    await machine.waitFor("api: the management API listens on COM2", 60_000);
    const client = await ApiClient.open(socket, TOKEN);
    try {
      await body(machine, client);
    } finally {
      client.close();
    }
  } finally {
    machine.kill();
    rmSync(socket, { force: true });
    rmSync(config, { force: true });
  }
}

describe("the management API on COM2 under AMD-V (QEMU)", () => {
  it("lists, describes, pauses, resumes and powers off VMs; refuses bad tokens and garbage", async () => {
    mkdirSync("build/test", { recursive: true });
    const socket = `build/test/api-${process.pid}.sock`;
    rmSync(socket, { force: true });
    const machine = await boot({
      platform: "qemu",
      memoryMiB: 256,
      cmdline: CMDLINE,
      modules: [busy("alpha"), busy("beta"), busy("gamma")],
      extraArgs: ["-serial", `unix:${socket},server=on,wait=off`],
    });
    try {
      await machine.waitFor("api: the management API listens on COM2", 60_000);
      expect(machine.output).not.toContain(TOKEN); // the boot log hides it
      const client = await ApiClient.open(socket, TOKEN);
      try {
        await untilRunning(client, ["alpha", "beta", "gamma"], 60_000);
        await exercise(machine, client);
      } finally {
        client.close();
      }
    } finally {
      machine.kill();
      rmSync(socket, { force: true });
    }
  }, 240_000);

  it("reboots a kernel VM, powers it off and on again, stays up for it, and shuts down", async () => {
    // The multiboot test kernel's stress run prints for a long while, through a console that paces it.
    const kernel = { name: "kern", memory: 16, kernel: "mbtest.elf", cmdline: "ram=16 cpus=1 stress=1000000" };
    await withKernelHost("reboot", [kernel], 1, async (machine, client) => {
      await machine.waitFor("[kern] multiboot test kernel", 60_000);
      expect(await client.info("kern")).toMatchObject({
        rebootable: true,
        kernel: { module: "mbtest.elf", initrd: "", cmdline: kernel.cmdline, restart_on_reset: true },
      });
      const events = await ApiEvents.follow(client);
      // The running kernel prints its banner once: one after `restart` is the new boot's.
      const restart = machine.output.length;
      expect((await client.reboot("kern")).state).toBe("running");
      await events.next("rebooted", "kern");
      await machine.waitFor("[kern] multiboot test kernel", 60_000, restart);
      expect(machine.output.match(/\[kern\] multiboot test kernel(?!:)/g)).toHaveLength(2); // booted twice
      expect((await client.list()).vms[0].state).toBe("running");

      // Powered off, the last VM: the host stays up for the API (it still
      // answers), and the VM can be powered on again from its image.
      expect((await client.powerOff("kern")).state).toBe("stopped");
      expect(await events.next("stopped", "kern")).toMatchObject({ reason: "powered off by the management API" });
      expect((await client.host()).vms).toBe(1);
      const off = machine.output.length;
      expect((await client.start("kern")).state).toBe("running");
      await events.next("started", "kern");
      await machine.waitFor("[kern] multiboot test kernel", 60_000, off);
      expect((await rejection(client.start("kern"))).status).toBe(409);
      expect(events.seen.map((e) => [e.event, e.vm])).toEqual([["rebooted", "kern"], ["stopped", "kern"], [
        "started",
        "kern",
      ]]);

      // The host shuts down when asked: its VM powered off first.
      expect(await client.shutdownHost()).toEqual({ shutting_down: true });
      expect((await machine.waitForExit(30_000)).killed).toBe(false);
      expect(machine.output).toContain("host: shutting down, asked by the management API");
      expect(machine.output).toMatch(/all virtual machines have stopped\r?\n/);
    });
  }, 180_000);

  it("creates VMs from configurations, destroys them, and reuses their memory", async () => {
    const kernel = (name: string) => ({
      name,
      memory: 32,
      cpus: 2,
      kernel: "mbtest.elf",
      cmdline: "ram=32 cpus=2 stress=1000000",
    });
    await withKernelHost("create", [], 2, async (machine, client) => {
      const hostAddress = async (name: string) => (await client.info(name)).memory_host_address;
      await machine.waitFor("vmm: no virtual machines configured; the management API may create them", 60_000);
      // No VM runs, and the host stays up: its API answers.
      expect((await client.host()).vms).toBe(0);
      const events = await ApiEvents.follow(client);
      const before = (await client.host()).memory, free = before.free_bytes;

      expect(await client.create(kernel("one"))).toMatchObject({ name: "one", state: "running", vcpus: 2 });
      const first = await hostAddress("one");
      await machine.waitFor("[one] multiboot test kernel", 60_000);
      const made = (await client.host()).memory;
      expect(made.free_bytes).toBe(free - 32 * 2 ** 20);
      expect((await client.list()).vms.map((vm) => [vm.name, vm.state])).toEqual([["one", "running"]]);

      // Gone from the list at once; its RAM and the hypervisor's pages for
      // it back in the pool once no CPU holds it.
      expect(await client.destroy("one")).toEqual({ name: "one", destroyed: true });
      expect((await client.list()).vms).toEqual([]);
      console.log(`api create/destroy (AMD-V): ${await memoryBack(client, before, made, 10_000)}`);

      // The next VM gets the same memory, and its kernel boots in it.
      expect((await client.create(kernel("two"))).state).toBe("running");
      expect(await hostAddress("two")).toBe(first);
      await machine.waitFor("[two] multiboot test kernel", 60_000);

      // What cannot be made is refused, with the field or the want.
      const refused = await rejection(client.create({ ...kernel("three"), memory: "lots", cpus: 0 }));
      expect(refused.status).toBe(400);
      expect(refused.message).toMatch(/memory: expected a number of MiB.*; vm \d+ \(three\): cpus: /);
      expect((await rejection(client.create(kernel("two")))).status).toBe(409);
      const big = await rejection(client.create({ ...kernel("huge"), memory: 60000 }));
      expect(big.status).toBe(409);
      expect(big.message).toContain("not enough free memory for 60000 MiB");
      expect((await rejection(client.create({ ...kernel("nok"), kernel: "nope.elf" }))).status).toBe(400);
      expect((await client.list()).vms.map((vm) => vm.name)).toEqual(["two"]);
      expect((await client.host()).memory.free_bytes).toBe(free - 32 * 2 ** 20);
      const told = events.seen.map((e) => [e.event, e.vm]);
      expect(told).toEqual([
        ["created", "one"],
        ["started", "one"],
        ["stopped", "one"],
        ["destroyed", "one"],
        ["created", "two"],
        ["started", "two"],
      ]);
      expect(machine.output).not.toMatch(/panic|\*\*\* /);
    });
  }, 180_000);

  it("stays off when gdb= gives COM2 to the debugger, and says so", async () => {
    const machine = await boot({
      platform: "qemu",
      memoryMiB: 256,
      cmdline: `${CMDLINE} gdb=alpha`,
      modules: [busy("alpha")],
      // A COM2 with nothing behind it: the stub needs a UART to claim.
      extraArgs: ["-serial", "null"],
    });
    try {
      await machine.waitFor("api: COM2 belongs to the gdb stub (gdb=); the management API is off", 60_000);
      await machine.waitFor("gdb: vm alpha waits for a debugger on COM2", 10_000);
      expect(machine.output).not.toContain("the management API listens");
    } finally {
      machine.kill();
    }
  }, 120_000);
});

describe("the management API over HTTP from this machine under AMD-V (QEMU)", () => {
  it("serves the REST paths, Prometheus metrics and events through a forwarded port", async () => {
    const { machine, base, client } = await bootWithHttpApi([busy("alpha"), busy("beta")], TOKEN);
    try {
      await untilRunning(client, ["alpha", "beta"], 60_000);
      // This QEMU has one serial port: COM2's empty bus is not taken for a UART.
      expect(machine.output).toContain("api: no UART answers at COM2; the management API is not on a serial line");
      const list = await client.list();
      expect(list.vms.map((vm) => [vm.name, vm.state])).toEqual([["alpha", "running"], ["beta", "running"]]);
      expect((await client.pause("alpha")).state).toBe("paused");

      // Scraped as Prometheus would, bearer token and all, and read by its parser.
      const scrape = async () => {
        const response = await fetch(`${base}/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } });
        expect(response.status).toBe(200);
        expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
        return parseMetrics(await response.text());
      };
      const first = await scrape();
      await pause(1500);
      const second = await scrape();
      const value = (families: MetricFamily[], name: string, labels: Record<string, string>) =>
        sampleValue(families, name, labels) ?? NaN;
      expect(value(second, "typervisor_vm_state", { vm: "alpha", state: "paused" })).toBe(1);
      expect(value(second, "typervisor_vm_state", { vm: "beta", state: "running" })).toBe(1);
      expect(value(second, "typervisor_vm_memory_bytes", { vm: "beta" })).toBe(4 * 2 ** 20);
      expect(value(second, "typervisor_host_cpus", {})).toBe(1);
      const cpu = (families: MetricFamily[], vm: string) =>
        value(families, "typervisor_vm_cpu_seconds_total", { vm, vcpu: "0" });
      expect(cpu(second, "alpha")).toBe(cpu(first, "alpha"));
      expect(cpu(second, "beta")).toBeGreaterThan(cpu(first, "beta"));
      expect(value(second, "typervisor_vm_exits_total", { vm: "beta", kind: "external-interrupt" })).toBeGreaterThan(
        0,
      );

      // The CLI's metrics command over the same port; without the token, 401 with the JSON error.
      const cli = spawnSync(
        "node_modules/.bin/tsx",
        ["tools/typervisor.ts", "--host", base, "--token", TOKEN, "metrics"],
        { encoding: "utf8", timeout: 30_000 },
      );
      expect(cli.status, cli.stderr).toBe(0);
      expect(sampleValue(parseMetrics(cli.stdout), "typervisor_vm_vcpus", { vm: "alpha" })).toBe(1);
      const refused = await fetch(`${base}/metrics`);
      expect(refused.status).toBe(401);
      expect(refused.headers.get("content-type")).toBe("application/json");
      expect(await refused.json()).toMatchObject({ code: -32001, data: { status: 401 } });

      // Events as they happen, on streams of their own (two at most: a third is 503).
      const watchers = [new HttpApiClient(base, TOKEN), new HttpApiClient(base, TOKEN)];
      const events = watchers.map((watcher) => new ApiEvents(watcher));
      try {
        for (const watcher of watchers) {
          const { now } = await watcher.subscribe();
          expect(now.vms.map((vm) => [vm.name, vm.state])).toEqual([["alpha", "paused"], ["beta", "running"]]);
        }
        expect((await rejection(new HttpApiClient(base, TOKEN).subscribe())).status).toBe(503);
        expect((await client.resume("alpha")).state).toBe("running");
        expect((await client.powerOff("beta")).state).toBe("stopped");
        for (const told of events) {
          const off = await told.next("stopped", "beta");
          expect(told.seen.map((e) => [e.event, e.vm])).toEqual([["resumed", "alpha"], ["stopped", "beta"]]);
          expect(off).toMatchObject({ reason: "powered off by the management API", state: "stopped" });
        }
      } finally {
        for (const watcher of watchers) watcher.close();
      }
    } finally {
      machine.kill();
    }
  }, 180_000);
});

describe("the management API on COM2 under VT-x (Bochs)", () => {
  it("lists the VMs, pauses and resumes one, creates and destroys a kernel VM", async () => {
    mkdirSync("build/test", { recursive: true });
    const config = `build/test/api-bochs-${process.pid}.json`;
    writeFileSync(config, JSON.stringify({ vms: [] }));
    const server = createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as AddressInfo).port;
    const connected = once(server, "connection") as Promise<[Socket]>;
    const machine = await boot({
      platform: "bochs",
      cpus: 2,
      cmdline: CMDLINE,
      modules: [
        busy("alpha"),
        busy("beta"),
        { path: "build/guests/mbtest.elf", args: "mbtest.elf" },
        { path: config, args: "vms.json config" },
      ],
      extraArgs: [`com2: enabled=1, mode=socket-client, dev=127.0.0.1:${port}`],
    });
    try {
      const [line] = await connected;
      const client = new ApiClient(line, TOKEN, 120_000);
      try {
        await untilRunning(client, ["beta"], 300_000);
        const list = await client.list();
        expect(list.vms.map((vm) => [vm.name, vm.state])).toEqual([["alpha", "running"], ["beta", "running"]]);
        expect((await client.pause("alpha")).state).toBe("paused");
        const held = await cpuNs(client, "alpha"), beta = await cpuNs(client, "beta");
        await pause(3000);
        expect(await cpuNs(client, "alpha")).toBe(held);
        expect(await cpuNs(client, "beta")).toBeGreaterThan(beta);
        expect((await client.resume("alpha")).state).toBe("running");
        await pause(3000);
        expect(await cpuNs(client, "alpha")).toBeGreaterThan(held);
        expect((await strayAfter(client, "{]\n")).status).toBe(400);

        // A kernel VM made, destroyed (its VMCS cleared, its VPID freed),
        // and made again in the same memory.
        const kern = { name: "kern", memory: 16, cpus: 2, kernel: "mbtest.elf", cmdline: "ram=16 cpus=2" };
        const before = (await client.host()).memory;
        expect((await client.create(kern)).state).toBe("running");
        const at = (await client.info("kern")).memory_host_address;
        await machine.waitFor("[kern] multiboot test kernel", 300_000);
        const made = (await client.host()).memory;
        expect(await client.destroy("kern")).toEqual({ name: "kern", destroyed: true });
        console.log(`api create/destroy (VT-x): ${await memoryBack(client, before, made, 60_000)}`);
        expect((await client.create({ ...kern, name: "again" })).state).toBe("running");
        expect((await client.info("again")).memory_host_address).toBe(at);
        await machine.waitFor("[again] multiboot test kernel", 300_000);
        expect(machine.output).not.toMatch(/panic|\*\*\* /);
      } finally {
        client.close();
      }
    } finally {
      machine.kill();
      server.close();
      rmSync(config, { force: true });
    }
  }, 600_000);
});

async function strayAfter(client: ApiClient, text: string | Buffer) {
  client.sendRaw(text);
  return strayError(client);
}

async function exercise(machine: Machine, client: ApiClient): Promise<void> {
  const host = await client.host();
  expect(host).toMatchObject({ name: "Typervisor", api: "v1", cpus: 1, vms: 3 });
  expect(host.version).toMatch(/^\d+\.\d+\.\d+$/);
  expect(host.memory.vm_bytes).toBe(3 * 4 * 2 ** 20);
  expect(host.memory.free_bytes).toBeGreaterThan(0);

  const list = await client.list();
  expect(list.vms.map((vm) => [vm.name, vm.state, vm.vcpus, vm.memory_bytes])).toEqual([
    ["alpha", "running", 1, 4 * 2 ** 20],
    ["beta", "running", 1, 4 * 2 ** 20],
    ["gamma", "running", 1, 4 * 2 ** 20],
  ]);
  const info = await client.info("beta");
  expect(info).toMatchObject({ name: "beta", state: "running", fault: false, rebootable: false, kernel: null });
  // What the VM costs the hypervisor: its creation's figure (each part
  // rounded up to KiB there), with the nested tables made since; issue
  // 16's goal is 256 KiB at most.
  const footprintKiB = Number(/vm beta: hypervisor memory (\d+) KiB/.exec(machine.output)?.[1]);
  expect(info.hypervisor_memory_bytes).toBeGreaterThan((footprintKiB - 3) * 1024);
  expect(info.hypervisor_memory_bytes).toBeLessThanOrEqual(256 * 1024);
  expect(info.vcpus).toHaveLength(1);
  expect(info.vcpus[0]).toMatchObject({ index: 0, activity: "runnable", home_cpu: 0, ran_on: [0] });
  expect(info.share.affinity).toContain(0);

  const events = new ApiEvents(client);
  const subscribed = await client.subscribe();
  expect(subscribed.subscribed).toBe(true);

  // Paused: its CPU time stands still while the others' grows.
  expect((await client.pause("alpha")).state).toBe("paused");
  await pause(300);
  const held = await cpuNs(client, "alpha"), beta = await cpuNs(client, "beta");
  await pause(1500);
  expect(await cpuNs(client, "alpha")).toBe(held);
  expect(await cpuNs(client, "beta")).toBeGreaterThan(beta);
  expect((await client.list()).vms[0].state).toBe("paused");
  expect((await client.resume("alpha")).state).toBe("running");
  await pause(1500);
  expect(await cpuNs(client, "alpha")).toBeGreaterThan(held);
  const stats = await client.stats("alpha");
  expect(stats.vcpus[0].cpu_ns).toBe(stats.cpu_ns);
  expect(stats.exits.total).toBeGreaterThan(0);
  expect(stats.exits.handled_by_kind["external-interrupt"]).toBeGreaterThan(0);

  // Powered off: the event says why; it cannot be powered off twice, and a
  // flat binary cannot be rebooted.
  expect((await client.powerOff("gamma")).state).toBe("stopped");
  const off = await events.next("stopped", "gamma");
  expect(events.seen.map((e) => [e.event, e.vm])).toEqual([["paused", "alpha"], ["resumed", "alpha"], [
    "stopped",
    "gamma",
  ]]);
  expect(off).toMatchObject({ reason: "powered off by the management API", state: "stopped" });
  expect((await rejection(client.powerOff("gamma"))).status).toBe(409);
  expect((await rejection(client.reboot("beta"))).status).toBe(409);
  expect((await rejection(client.start("beta"))).status).toBe(409); // it runs
  expect((await rejection(client.start("gamma"))).status).toBe(409); // a flat binary has no image
  expect((await rejection(client.info("delta"))).status).toBe(404);

  // A wrong or missing token: 401, and nothing done.
  const request = (id: string, method: string, params: object) =>
    JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n";
  expect(await strayAfter(client, request("t1", "vm.pause", { token: "s3cret-tokeN", name: "beta" }))).toEqual({
    status: 401,
    code: -32001,
    id: "t1",
  });
  expect((await strayAfter(client, request("t2", "vms.list", {}))).status).toBe(401);
  expect((await client.info("beta")).state).toBe("running");

  // Garbage of every kind: each gets its error.
  expect(await strayAfter(client, "this is not JSON\n")).toMatchObject({ status: 400, code: -32700, id: null });
  expect(await strayAfter(client, Buffer.from([0x7b, 0x00, 0xff, 0xfe, 0x0a]))).toMatchObject({ code: -32700 });
  expect(await strayAfter(client, "[1, 2]\n")).toMatchObject({ code: -32600 });
  expect(await strayAfter(client, "x".repeat(10_000) + "\n")).toMatchObject({ status: 413, code: -32013 });
  expect(await strayAfter(client, request("m", "vm.explode", { token: TOKEN, name: "beta" }))).toMatchObject({
    status: 404,
    code: -32601,
    id: "m",
  });
  expect(await strayAfter(client, request("f", "vm.get", { token: TOKEN, name: "beta", colour: "red" })))
    .toMatchObject({ status: 400, code: -32602 });
  expect(await strayAfter(client, JSON.stringify({ jsonrpc: "2.0", method: "vms.list" }) + "\n")).toMatchObject({
    code: -32600,
  });
  expect(client.strays).toEqual([]);

  // The VMs ran on through all of it.
  const before = await client.list();
  await pause(1000);
  const after = await client.list();
  expect(after.vms.map((vm) => vm.state)).toEqual(["running", "running", "stopped"]);
  for (const i of [0, 1]) expect(after.vms[i].cpu_ns).toBeGreaterThan(before.vms[i].cpu_ns);
  expect(machine.output).not.toMatch(/panic|\*\*\* /);
}
