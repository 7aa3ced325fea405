// A client of Typervisor's management API over HTTP/1.1 (docs/api.md): the
// /api/v1 paths of docs/api/openapi.yaml on the hypervisor's management
// address and /metrics, the token as `Authorization: Bearer`. The same
// methods as the serial line's ApiClient; events come as server-sent
// events from GET /api/v1/events, a stream that stays open until close().

import {
  type Api,
  ApiError,
  type ApiEvent,
  type ConsoleText,
  type HostInfo,
  type PingFigures,
  type RpcError,
  type Typed,
  type VmInfo,
  type VmKernel,
  type VmList,
  type VmStats,
  type VmSummary,
} from "./client";

export class HttpApiClient implements Api {
  private readonly eventListeners: ((event: ApiEvent) => void)[] = [];
  private readonly streams = new AbortController();

  // `base` is http://ADDRESS[:PORT].
  constructor(private readonly base: string, private readonly token: string, private readonly timeoutMs = 30_000) {}

  host = () => this.json<HostInfo>("GET", "host");
  shutdownHost = () => this.json<{ shutting_down: boolean }>("POST", "host/shutdown");
  list = () => this.json<VmList>("GET", "vms");
  info = (name: string) => this.json<VmInfo>("GET", vm(name));
  stats = (name: string) => this.json<VmStats>("GET", `${vm(name)}/stats`);
  create = (config: object) => this.json<VmSummary>("POST", "vms", JSON.stringify(config));
  destroy = (name: string) => this.json<{ name: string; destroyed: boolean }>("DELETE", vm(name));
  start = (name: string) => this.json<VmSummary>("POST", `${vm(name)}/start`);
  pause = (name: string) => this.json<VmSummary>("POST", `${vm(name)}/pause`);
  resume = (name: string) => this.json<VmSummary>("POST", `${vm(name)}/resume`);
  powerOff = (name: string) => this.json<VmSummary>("POST", `${vm(name)}/poweroff`);
  reboot = (name: string) => this.json<VmSummary>("POST", `${vm(name)}/reboot`);
  pressPowerButton = (name: string) => this.json<VmSummary>("POST", `${vm(name)}/shutdown`);
  boot = (name: string, source: string, continuous = false) =>
    this.json<VmKernel>("POST", `${vm(name)}/boot`, JSON.stringify({ source, continuous }));
  consoleRead = (name: string) => this.json<ConsoleText>("GET", `${vm(name)}/console`);
  consoleWrite = (name: string, text: string) => this.json<Typed>("POST", `${vm(name)}/console`, text);
  ping = (address: string) => this.json<PingFigures>("POST", `ping/${encodeURIComponent(address)}`);
  pingStatus = () => this.json<PingFigures>("GET", "ping");

  // At the root, where scrapers look for it.
  async metrics(): Promise<string> {
    return (await this.request("GET", "/metrics")).text;
  }

  onEvent(listener: (event: ApiEvent) => void): void {
    this.eventListeners.push(listener);
  }

  // Opens the event stream: its first event, "vms", is the list now; the
  // messages after it are events, read in the background.
  async subscribe(): Promise<{ subscribed: boolean; now: VmList }> {
    const response = await fetch(new URL("/api/v1/events", this.base), {
      headers: { Authorization: `Bearer ${this.token}`, Accept: "text/event-stream" },
      signal: this.streams.signal,
    });
    if (!response.ok) await this.refused(response, "GET", "/api/v1/events");
    const reader = response.body!.getReader();
    let buffered = "", now: VmList | null = null;
    const decoder = new TextDecoder();
    // Each event ends with a blank line; its "event:" and "data:" lines name and carry it.
    const next = async (): Promise<{ name: string; data: string } | null> => {
      for (;;) {
        const end = buffered.indexOf("\n\n");
        if (end >= 0) {
          const lines = buffered.slice(0, end).split("\n");
          buffered = buffered.slice(end + 2);
          const field = (name: string) => lines.find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
          const data = field("data");
          if (data !== undefined) return { name: field("event") ?? "message", data };
          continue; // a comment: the server's keep-alive
        }
        const { value, done } = await reader.read();
        if (done) return null;
        buffered += decoder.decode(value, { stream: true });
      }
    };
    const first = await next();
    if (first === null || first.name !== "vms") throw new Error("GET /api/v1/events: no 'vms' event to start with");
    now = JSON.parse(first.data) as VmList;
    void (async () => {
      for (let event = await next().catch(() => null); event; event = await next().catch(() => null)) {
        if (event.name === "message") { for (const listener of this.eventListeners) listener(JSON.parse(event.data)); }
      }
    })();
    return { subscribed: true, now };
  }

  close(): void {
    this.streams.abort();
  }

  // The JSON body of a 2xx answer to /api/v1/`path`, sent `body` if any.
  private async json<T>(method: "GET" | "POST" | "DELETE", path: string, body?: string): Promise<T> {
    return JSON.parse((await this.request(method, `/api/v1/${path}`, body)).text) as T;
  }

  // A 2xx answer's body; any other answer is an ApiError from its JSON error.
  private async request(method: "GET" | "POST" | "DELETE", path: string, body?: string): Promise<{ text: string }> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers["Content-Type"] = "text/plain; charset=utf-8";
    const response = await fetch(new URL(path, this.base), {
      method,
      headers,
      body,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (response.ok) return { text: await response.text() };
    return this.refused(response, method, path);
  }

  // The ApiError of an answer that is not 2xx, from its JSON error.
  private async refused(response: Response, method: string, path: string): Promise<never> {
    let error: RpcError;
    try {
      error = JSON.parse(await response.text()) as RpcError;
    } catch {
      throw new Error(`${method} ${path}: HTTP ${response.status} with a body that is not JSON`);
    }
    throw new ApiError(error.code, error.message, response.status);
  }
}

function vm(name: string): string {
  return `vms/${encodeURIComponent(name)}`;
}
