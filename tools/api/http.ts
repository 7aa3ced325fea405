// A client of Typervisor's management API over HTTP/1.1 (docs/api.md): the
// /api/v1 paths of docs/api/openapi.yaml on the hypervisor's management
// address and /metrics, the token as `Authorization: Bearer`. The same
// methods as the serial line's ApiClient, but no events: those need the
// serial line.

import {
  type Api,
  ApiError,
  type HostInfo,
  type RpcError,
  type VmInfo,
  type VmList,
  type VmStats,
  type VmSummary,
} from "./client";

export class HttpApiClient implements Api {
  // `base` is http://ADDRESS[:PORT].
  constructor(private readonly base: string, private readonly token: string, private readonly timeoutMs = 30_000) {}

  host = () => this.json<HostInfo>("GET", "host");
  list = () => this.json<VmList>("GET", "vms");
  info = (name: string) => this.json<VmInfo>("GET", vm(name));
  stats = (name: string) => this.json<VmStats>("GET", `${vm(name)}/stats`);
  pause = (name: string) => this.json<VmSummary>("POST", `${vm(name)}/pause`);
  resume = (name: string) => this.json<VmSummary>("POST", `${vm(name)}/resume`);
  powerOff = (name: string) => this.json<VmSummary>("POST", `${vm(name)}/poweroff`);
  reboot = (name: string) => this.json<VmSummary>("POST", `${vm(name)}/reboot`);

  // At the root, where scrapers look for it.
  async metrics(): Promise<string> {
    return (await this.request("GET", "/metrics")).text;
  }

  close(): void {}

  // The JSON body of a 2xx answer to /api/v1/`path`.
  private async json<T>(method: "GET" | "POST", path: string): Promise<T> {
    return JSON.parse((await this.request(method, `/api/v1/${path}`)).text) as T;
  }

  // A 2xx answer's body; any other answer is an ApiError from its JSON error.
  private async request(method: "GET" | "POST", path: string): Promise<{ text: string }> {
    const response = await fetch(new URL(path, this.base), {
      method,
      headers: { Authorization: `Bearer ${this.token}` },
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await response.text();
    if (response.ok) return { text };
    let error: RpcError;
    try {
      error = JSON.parse(text) as RpcError;
    } catch {
      throw new Error(`${method} ${path}: HTTP ${response.status} with a body that is not JSON`);
    }
    throw new ApiError(error.code, error.message, response.status);
  }
}

function vm(name: string): string {
  return `vms/${encodeURIComponent(name)}`;
}
