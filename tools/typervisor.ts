#!/usr/bin/env tsx
// typervisor: the management API's command-line client (docs/api.md).
//
//   typervisor [--serial PATH | --host URL] [--token TOKEN] COMMAND [NAME]
//     host                 the host: version, CPUs, memory, uptime
//     list                 the VMs, as `xl list` shows them
//     info NAME            a VM's configuration, state and vCPUs
//     stats NAME           a VM's CPU time per vCPU and exits by kind
//     create FILE          a VM from FILE: JSON, one entry as in the configuration's "vms"
//     destroy NAME         powers the VM off if it runs, and takes it off the host
//     start NAME | pause NAME | resume NAME | stop NAME | reboot NAME
//     button NAME          presses a VM's power button: its guest shuts down
//     boot NAME SOURCE [--continuous]   the boot source of the VM's next boot
//                          (every boot with --continuous; None: its own kernel)
//     shutdown             powers off the VMs still running, then the host
//     events               VMs starting, stopping and why, as they happen
//     top [--interval S] [--count N]   CPU % and exits/s per VM, refreshed
//     metrics              every figure, in Prometheus' text format
//     ping ADDRESS         three echoes from the hypervisor's own address
//     console NAME         a VM's console: its output as it comes, and what is typed
//
// PATH is the hypervisor's COM2: the unix socket QEMU's `-serial
// unix:PATH,server=on,wait=off` listens on, `tcp:HOST:PORT` for QEMU's
// `-serial tcp:...,server=on`, or a serial device; default
// $TYPERVISOR_SERIAL. URL (http://ADDRESS[:PORT], default $TYPERVISOR_HOST)
// takes the HTTP transport on the management address instead, which has
// every command. TOKEN is the boot command line's api_token=; default
// $TYPERVISOR_TOKEN.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { type Api, ApiClient, ApiError, VmList } from "./api/client";
import { HttpApiClient } from "./api/http";
import { infoText, listTable, overrideText, statsText, topRows, topTable } from "./api/tables";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    serial: { type: "string", default: process.env.TYPERVISOR_SERIAL },
    host: { type: "string", default: process.env.TYPERVISOR_HOST },
    token: { type: "string", default: process.env.TYPERVISOR_TOKEN },
    interval: { type: "string", default: "1" },
    count: { type: "string" },
    continuous: { type: "boolean", default: false },
  },
});
const [command, name, argument] = positionals;

function fail(message: string): never {
  console.error(`typervisor: ${message}`);
  process.exit(1);
}

function needName(what = "a VM's name"): string {
  if (!name) fail(`${command} needs ${what}`);
  return name;
}

async function top(client: Api): Promise<void> {
  const seconds = Number(values.interval);
  if (!(seconds > 0)) fail(`--interval: expected a number of seconds, got '${values.interval}'`);
  const frames = values.count === undefined ? Infinity : Number(values.count);
  let before: VmList = await client.list();
  for (let frame = 0; frame < frames; frame++) {
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const after = await client.list();
    if (process.stdout.isTTY) process.stdout.write("\x1b[H\x1b[2J");
    console.log(topTable(topRows(before, after)) + "\n");
    before = after;
  }
}

const COMMANDS = [
  ...[
    "host",
    "shutdown",
    "list",
    "info",
    "stats",
    "create",
    "destroy",
    "start",
    "pause",
    "resume",
    "stop",
    "reboot",
    "button",
    "boot",
  ],
  ...["events", "top", "metrics", "ping", "console"],
];

async function run(client: Api): Promise<void> {
  switch (command) {
    case "host": {
      const h = await client.host();
      console.log(
        `${h.name} ${h.version}, API ${h.api}: ${h.cpus} CPUs, ${h.vms} VMs, up ${(h.uptime_ns / 1e9).toFixed(1)} s, ${
          Math.round(h.memory.free_bytes / 2 ** 20)
        } MiB free, ${Math.round(h.memory.vm_bytes / 2 ** 20)} MiB in VMs`,
      );
      return;
    }
    case "list":
      return console.log(listTable(await client.list()));
    case "info":
      return console.log(infoText(await client.info(needName())));
    case "stats":
      return console.log(statsText(await client.stats(needName())));
    case "start":
    case "pause":
    case "resume":
    case "stop":
    case "reboot":
    case "button": {
      const change = {
        start: client.start,
        pause: client.pause,
        resume: client.resume,
        stop: client.powerOff,
        reboot: client.reboot,
        button: client.pressPowerButton,
      };
      const done = await change[command](needName());
      return console.log(`${done.name}: ${done.state}`);
    }
    case "boot": {
      if (!argument) fail("boot needs a VM's name and a boot source (None for its own kernel)");
      const kernel = await client.boot(needName(), argument, values.continuous);
      return console.log(`${name}: ${overrideText(kernel.boot_override)}`);
    }
    case "create": {
      const done = await client.create(JSON.parse(readFileSync(needName("a configuration file"), "utf8")));
      return console.log(`${done.name}: ${done.state}`);
    }
    case "destroy":
      return console.log(`${(await client.destroy(needName())).name}: destroyed`);
    case "shutdown":
      await client.shutdownHost();
      return console.log("the host is shutting down");
    case "events": {
      client.onEvent((e) => console.log(JSON.stringify(e)));
      console.log(listTable((await client.subscribe()).now));
      return new Promise<void>(() => {}); // until interrupted
    }
    case "top":
      return top(client);
    case "metrics":
      return void process.stdout.write(await client.metrics());
    case "console":
      return console_(client, needName());
    case "ping": {
      const address = needName("an IPv4 address");
      let ping = await client.ping(address);
      while (!ping.done) {
        await new Promise((r) => setTimeout(r, 250));
        ping = await client.pingStatus();
      }
      const rtt = ping.rtt_ns;
      const times = rtt ? `, round trip min/avg/max ${[rtt.min, rtt.avg, rtt.max].map(ms).join("/")} ms` : "";
      return console.log(`${address}: ${ping.sent} sent, ${ping.received} received${times}`);
    }
    default:
      fail(`unknown command '${command ?? ""}' (${COMMANDS.join(", ")})`);
  }
}

if (!values.serial && !values.host) {
  fail("no transport: give --serial PATH or --host URL, or set TYPERVISOR_SERIAL or TYPERVISOR_HOST");
}
if (!values.token) fail("no token: give --token TOKEN or set TYPERVISOR_TOKEN");
const client: Api = values.host
  ? new HttpApiClient(values.host, values.token)
  : await ApiClient.open(values.serial!, values.token);
try {
  await run(client);
} catch (e) {
  fail(e instanceof ApiError ? e.message : String(e));
} finally {
  client.close();
}

function ms(ns: number): string {
  return (ns / 1e6).toFixed(3);
}

// What VM `vm`'s console prints from its last 8 KiB on, as it comes, and
// this terminal's lines typed into it, until interrupted.
async function console_(client: Api, vm: string): Promise<void> {
  let end = 0;
  process.stdin.on("data", async (data: Buffer) => {
    for (let rest = data.toString("utf8"); rest.length > 0;) {
      const typed = await client.consoleWrite(vm, rest);
      rest = Buffer.from(rest, "utf8").subarray(typed.accepted).toString("utf8");
      if (rest.length > 0) await new Promise((r) => setTimeout(r, 100));
    }
  });
  for (;;) {
    const now = await client.consoleRead(vm);
    if (now.end > end) {
      const bytes = Buffer.from(now.text, "utf8");
      process.stdout.write(bytes.subarray(Math.max(0, bytes.length - (now.end - Math.max(end, now.start)))));
      end = now.end;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}
