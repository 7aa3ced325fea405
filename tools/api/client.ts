// A client of Typervisor's management API over a serial line (docs/api.md):
// JSON-RPC 2.0, one JSON object per line. The line is a unix socket that
// QEMU's `-serial unix:PATH,server=on,wait=off` (or a chardev) listens on,
// a TCP port QEMU listens on (`tcp:HOST:PORT`), a device such as
// /dev/ttyUSB0 (set to 115200 baud, raw, beforehand), or any Duplex stream
// the caller connected (the Bochs test's TCP connection from Bochs).
// Requests carry the token; replies are matched to requests by id; event
// notifications go to the listeners; a reply whose id is null (a line the
// hypervisor could not read as a request) goes to `strays`.

import { once } from "node:events";
import { createReadStream, createWriteStream, statSync } from "node:fs";
import { connect } from "node:net";
import { Duplex, PassThrough } from "node:stream";

export interface BootOverride {
  source: string;
  continuous: boolean;
}

// What a kernel VM boots: vm.get's "kernel", and vm.boot's answer.
export interface VmKernel {
  module: string;
  partition: string;
  initrd: string;
  initrd_partition: string;
  cmdline: string;
  // The source the present boot loaded ("None": its own) and all it has.
  boot_source: string;
  boot_sources: string[];
  // What the next boot takes ("None": its own), and whether every boot after it.
  boot_override: BootOverride;
  restart_on_reset: boolean;
}

export interface VmSummary {
  name: string;
  id: number;
  state: "running" | "paused" | "stopped";
  vcpus: number;
  memory_bytes: number;
  cpu_ns: number;
  exits: number;
}
export interface VmList {
  time_ns: number;
  vms: VmSummary[];
}
export interface HostInfo {
  name: string;
  version: string;
  api: string;
  cpus: number;
  memory: { free_bytes: number; vm_bytes: number; hypervisor_pages_bytes: number };
  uptime_ns: number;
  vms: number;
  dropped_events: number;
}
export interface VcpuInfo {
  index: number;
  activity: string;
  home_cpu: number;
  running_on: number;
  last_cpu: number;
  ran_on: number[];
}
export interface VmInfo {
  name: string;
  id: number;
  state: VmSummary["state"];
  stop_reason: string;
  fault: boolean;
  exit_status: number;
  rebootable: boolean;
  kernel: VmKernel | null;
  memory_bytes: number;
  memory_host_address: number;
  hypervisor_memory_bytes: number;
  share: { affinity: number[]; weight: number; cap_percent: number };
  vcpus: VcpuInfo[];
}
export interface VmStats {
  name: string;
  state: VmSummary["state"];
  time_ns: number;
  cpu_ns: number;
  vcpus: { index: number; cpu_ns: number; cpu_ns_by_host_cpu: Record<string, number>; exits: number }[];
  exits: { total: number; handled_by_kind: Record<string, number>; finished_in_backend: number };
  memory_bytes: number;
  unclaimed_accesses: number;
  disks: DiskStats[];
  nics: NicStats[];
}
export interface DiskStats {
  id: string;
  reads: number;
  bytes_read: number;
  writes: number;
  bytes_written: number;
  flushes: number;
  trims: number;
  failed_requests: number;
}
export interface NicStats {
  id: string;
  frames_sent: number;
  bytes_sent: number;
  frames_received: number;
  bytes_received: number;
  frames_dropped: Record<string, number>;
}
export interface ConsoleText {
  name: string;
  start: number;
  end: number;
  text: string;
}
export interface Typed {
  accepted: number;
  waiting: number;
}
export interface PingFigures {
  address: string;
  sent: number;
  received: number;
  done: boolean;
  rtt_ns?: { min: number; avg: number; max: number };
}
export interface ApiEvent {
  event: "created" | "started" | "stopped" | "fault" | "paused" | "resumed" | "rebooted" | "destroyed";
  vm: string;
  state: VmSummary["state"];
  time_ns: number;
  reason?: string;
  exit_status?: number;
}
export interface RpcError {
  code: number;
  message: string;
  data?: { status: number };
}
export interface Reply {
  jsonrpc: "2.0";
  id: number | string | null;
  result?: unknown;
  error?: RpcError;
}

// An error reply, as an exception: `status` is the HTTP status it stands for.
export class ApiError extends Error {
  constructor(readonly code: number, message: string, readonly status: number) {
    super(`${message} (JSON-RPC ${code}, HTTP ${status})`);
  }
}

// The methods each transport offers: this serial client and HttpApiClient (http.ts).
export interface Api {
  host(): Promise<HostInfo>;
  // Powers off the VMs still running, then the host.
  shutdownHost(): Promise<{ shutting_down: boolean }>;
  list(): Promise<VmList>;
  info(name: string): Promise<VmInfo>;
  stats(name: string): Promise<VmStats>;
  // A kernel VM made from `config`, an entry as in the configuration's "vms".
  create(config: object): Promise<VmSummary>;
  // Powers the VM off if it runs and takes it off the host.
  destroy(name: string): Promise<{ name: string; destroyed: boolean }>;
  // Powers a stopped kernel VM on again from its image.
  start(name: string): Promise<VmSummary>;
  pause(name: string): Promise<VmSummary>;
  resume(name: string): Promise<VmSummary>;
  powerOff(name: string): Promise<VmSummary>;
  reboot(name: string): Promise<VmSummary>;
  // Presses the VM's ACPI power button; its guest shuts down in its own time.
  pressPowerButton(name: string): Promise<VmSummary>;
  // The boot source the VM's next boot takes ("None": its own), or every boot if `continuous`.
  boot(name: string, source: string, continuous?: boolean): Promise<VmKernel>;
  // The Prometheus text of GET /metrics.
  metrics(): Promise<string>;
  // A VM's console: its last lines, and what to type on it.
  consoleRead(name: string): Promise<ConsoleText>;
  consoleWrite(name: string, text: string): Promise<Typed>;
  // Echoes from the hypervisor's management address to `address`, and how they fare.
  ping(address: string): Promise<PingFigures>;
  pingStatus(): Promise<PingFigures>;
  // Events from subscribe() on go to the listeners given here.
  onEvent(listener: (event: ApiEvent) => void): void;
  subscribe(): Promise<{ subscribed: boolean; now: VmList }>;
  close(): void;
}

interface Pending {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class ApiClient implements Api {
  private nextId = 1;
  private buffered = "";
  private readonly pending = new Map<number, Pending>();
  private readonly eventListeners: ((event: ApiEvent) => void)[] = [];
  // Replies with a null id, oldest first.
  readonly strays: Reply[] = [];

  constructor(private readonly line: Duplex, private readonly token: string, private readonly timeoutMs = 30_000) {
    line.setEncoding("utf8");
    line.on("data", (chunk: string) => this.receive(chunk));
    line.on("error", (e) => this.failAll(e));
    line.on("close", () => this.failAll(new Error("the serial line closed")));
    // A client before this one may have left half a line in the hypervisor's buffer.
    line.write("\n");
  }

  // A client on `tcp:HOST:PORT`, or a unix socket or a serial device at `path`.
  static async open(path: string, token: string, timeoutMs?: number): Promise<ApiClient> {
    const tcp = /^tcp:(.+):(\d+)$/.exec(path);
    if (tcp || statSync(path).isSocket()) {
      const socket = tcp ? connect(Number(tcp[2]), tcp[1]) : connect(path);
      await once(socket, "connect");
      return new ApiClient(socket, token, timeoutMs);
    }
    const input = createReadStream(path), output = createWriteStream(path);
    const line = Duplex.from({ readable: input.pipe(new PassThrough()), writable: output });
    return new ApiClient(line, token, timeoutMs);
  }

  call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    this.send({ jsonrpc: "2.0", id, method, params: { token: this.token, ...params } });
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no reply within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve: resolve as (r: unknown) => void, reject, timer });
    });
  }

  // Bytes as they are, for tests of what the hypervisor does with bad input.
  sendRaw(text: string | Buffer): void {
    this.line.write(text);
  }

  // A stray reply (null id), waiting up to the timeout for one to come.
  async nextStray(): Promise<Reply> {
    const deadline = Date.now() + this.timeoutMs;
    while (this.strays.length === 0) {
      if (Date.now() > deadline) throw new Error(`no stray reply within ${this.timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.strays.shift()!;
  }

  onEvent(listener: (event: ApiEvent) => void): void {
    this.eventListeners.push(listener);
  }

  host = () => this.call<HostInfo>("host.get");
  shutdownHost = () => this.call<{ shutting_down: boolean }>("host.shutdown");
  list = () => this.call<VmList>("vms.list");
  info = (name: string) => this.call<VmInfo>("vm.get", { name });
  stats = (name: string) => this.call<VmStats>("vm.stats", { name });
  create = (config: object) => this.call<VmSummary>("vm.create", { config });
  destroy = (name: string) => this.call<{ name: string; destroyed: boolean }>("vm.destroy", { name });
  start = (name: string) => this.call<VmSummary>("vm.start", { name });
  pause = (name: string) => this.call<VmSummary>("vm.pause", { name });
  resume = (name: string) => this.call<VmSummary>("vm.resume", { name });
  powerOff = (name: string) => this.call<VmSummary>("vm.poweroff", { name });
  reboot = (name: string) => this.call<VmSummary>("vm.reboot", { name });
  pressPowerButton = (name: string) => this.call<VmSummary>("vm.shutdown", { name });
  boot = (name: string, source: string, continuous = false) =>
    this.call<VmKernel>("vm.boot", { name, source, continuous });
  metrics = () => this.call<string>("metrics.get");
  consoleRead = (name: string) => this.call<ConsoleText>("vm.console.read", { name });
  consoleWrite = (name: string, text: string) => this.call<Typed>("vm.console.write", { name, text });
  ping = (address: string) => this.call<PingFigures>("ping.start", { address });
  pingStatus = () => this.call<PingFigures>("ping.get");
  subscribe = () => this.call<{ subscribed: boolean; now: VmList }>("events.subscribe");

  close(): void {
    this.line.destroy();
  }

  private send(message: object): void {
    this.line.write(JSON.stringify(message) + "\n");
  }

  private receive(chunk: string): void {
    this.buffered += chunk;
    for (let lf = this.buffered.indexOf("\n"); lf >= 0; lf = this.buffered.indexOf("\n")) {
      const text = this.buffered.slice(0, lf).trim();
      this.buffered = this.buffered.slice(lf + 1);
      if (text.length > 0) this.dispatch(text);
    }
  }

  private dispatch(text: string): void {
    let message: Reply & { method?: string; params?: unknown };
    try {
      message = JSON.parse(text);
    } catch {
      return; // noise on the line (a terminal's echo, a half line from before): not a reply
    }
    if (message.method === "event") {
      for (const listener of this.eventListeners) listener(message.params as ApiEvent);
      return;
    }
    const pending = typeof message.id === "number" ? this.pending.get(message.id) : undefined;
    if (!pending) {
      this.strays.push(message);
      return;
    }
    this.pending.delete(message.id as number);
    clearTimeout(pending.timer);
    const error = message.error;
    if (error) pending.reject(new ApiError(error.code, error.message, error.data?.status ?? 0));
    else pending.resolve(message.result);
  }

  private failAll(error: Error): void {
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(error);
      this.pending.delete(id);
    }
  }
}
