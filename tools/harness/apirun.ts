// A run the test follows through the management API instead of the log's
// wording (docs/api.md): the hypervisor boots with a token and its API on
// COM2, the test waits until every VM has stopped, reads each one's end
// (vm.get: why it stopped, whether it faulted, its exit status) and
// statistics (vm.stats: exits by kind, unclaimed accesses), and asks the
// host to shut down (host.shutdown), which it must do cleanly. The events
// seen since the test subscribed come too, and a test that drives its VMs
// waits for the event it expects (ApiEvents) where it once waited for the
// log's line. The whole console output is kept for what only the guests
// say (their PASS lines).

import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdirSync, rmSync } from "node:fs";
import { AddressInfo, createServer, Socket } from "node:net";
import { ApiClient, ApiEvent, VmInfo, VmStats } from "../api/client";
import { boot, BootOptions, Exit, Machine } from "./index";

type Ends = Map<string, { info: VmInfo; stats: VmStats }>;

export interface ApiRun {
  output: string;
  exit: Exit;
  // Each VM at the end, by name.
  vms: Ends;
  events: ApiEvent[];
}

let runs = 0;

// Boots `opts` with the API on COM2 (QEMU: a unix socket it listens on;
// Bochs: a TCP port of this process it connects to) and a client on it;
// `done()` cleans up after both.
export async function bootWithSerialApi(
  opts: BootOptions,
): Promise<{ machine: Machine; client: ApiClient; done(): void }> {
  const token = randomBytes(12).toString("hex");
  const cmdline = `exit=emulator api_token=${token} ${opts.cmdline ?? ""}`.trim();
  if (opts.platform === "bochs") {
    const server = createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as AddressInfo).port;
    const connected = once(server, "connection") as Promise<[Socket]>;
    const com2 = `com2: enabled=1, mode=socket-client, dev=127.0.0.1:${port}`;
    const machine = await boot({ ...opts, cmdline, extraArgs: [...(opts.extraArgs ?? []), com2] });
    const [line] = await connected;
    return { machine, client: new ApiClient(line, token, 120_000), done: () => server.close() };
  }
  mkdirSync("build/test", { recursive: true });
  const socket = `build/test/apirun-${process.pid}-${runs++}.sock`;
  rmSync(socket, { force: true });
  const serial = ["-serial", `unix:${socket},server=on,wait=off`];
  const machine = await boot({ ...opts, cmdline, extraArgs: [...(opts.extraArgs ?? []), ...serial] });
  await machine.waitFor("api: the management API listens on COM2", 60_000);
  const client = await ApiClient.open(socket, token, 60_000);
  return { machine, client, done: () => rmSync(socket, { force: true }) };
}

// Waits (within `timeoutMs`) until every VM of the host behind `client`
// has stopped; then each one's end and statistics, by name.
export async function allStopped(
  machine: Machine,
  client: ApiClient,
  timeoutMs: number,
): Promise<Ends> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const list = (await client.list()).vms;
    if (list.length > 0 && list.every((vm) => vm.state === "stopped")) break;
    if (Date.now() > until) throw new Error(`VMs still running after ${timeoutMs} ms:\n${machine.tail()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const vms: Ends = new Map();
  for (const vm of (await client.list()).vms) {
    vms.set(vm.name, { info: await client.info(vm.name), stats: await client.stats(vm.name) });
  }
  return vms;
}

// Waits (within `timeoutMs`) until each VM in `names` has run in its
// guest: the API counts CPU time for it. Either transport's client.
export async function untilRunning(
  client: { stats(name: string): Promise<VmStats> },
  names: string[],
  timeoutMs: number,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (const name of names) {
    while ((await client.stats(name)).cpu_ns === 0) {
      if (Date.now() > until) throw new Error(`vm ${name} has not run after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

// Boots `opts` as bootWithSerialApi() does, runs `body` on the machine and
// its client, and cleans up after both whatever `body` did.
export async function withSerialApi<T>(
  opts: BootOptions,
  body: (machine: Machine, client: ApiClient) => Promise<T>,
): Promise<T> {
  const { machine, client, done } = await bootWithSerialApi(opts);
  try {
    return await body(machine, client);
  } finally {
    client.close();
    machine.kill();
    done();
  }
}

// Waits (within `timeoutMs`) until every VM has stopped, then shuts the
// host down through the API and waits for the emulator to end: each VM's
// end by name, and the emulator's.
export async function shutDownWhenStopped(
  machine: Machine,
  client: ApiClient,
  timeoutMs: number,
): Promise<{ vms: Ends; exit: Exit }> {
  const vms = await allStopped(machine, client, timeoutMs);
  await client.shutdownHost();
  return { vms, exit: await machine.waitForExit(60_000) };
}

// Runs `opts` until every VM has stopped (within `timeoutMs`), then shuts
// the host down through the API and waits for the emulator to end.
export function runThroughApi(opts: BootOptions, timeoutMs: number): Promise<ApiRun> {
  return withSerialApi(opts, async (machine, client) => {
    const events = await ApiEvents.follow(client);
    const { vms, exit } = await shutDownWhenStopped(machine, client, timeoutMs);
    return { output: machine.output, exit, vms, events: events.seen };
  });
}

// The events a client is told of from its subscription on, in order: a
// test waits for the one it expects, as it would for a line of the log.
export class ApiEvents {
  readonly seen: ApiEvent[] = [];
  // Where next() looks from: past the event it found last.
  private cursor = 0;

  // Keeps what `client` (either transport's) is told once it subscribes.
  constructor(client: { onEvent(listener: (event: ApiEvent) => void): void }) {
    client.onEvent((e) => this.seen.push(e));
  }

  // Subscribes `client` and keeps what it is told.
  static async follow(
    client: { onEvent(listener: (event: ApiEvent) => void): void; subscribe(): Promise<unknown> },
  ): Promise<ApiEvents> {
    const events = new ApiEvents(client);
    await client.subscribe();
    return events;
  }

  // The first `event` of VM `vm` after the one found last, within
  // `timeoutMs`: so a test that waits for two in turn sees them in turn.
  async next(event: ApiEvent["event"], vm: string, timeoutMs = 10_000): Promise<ApiEvent> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const at = this.seen.findIndex((e, i) => i >= this.cursor && e.event === event && e.vm === vm);
      if (at >= 0) {
        this.cursor = at + 1;
        return this.seen[at];
      }
      if (Date.now() > until) {
        throw new Error(`no ${event} event of vm ${vm} after ${timeoutMs} ms; told: ${JSON.stringify(this.seen)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
