// A client of Typervisor's management API over HTTP/1.1 (docs/api.md): the
// /api/v1 paths of docs/api/openapi.yaml on the hypervisor's management
// address, the token as `Authorization: Bearer`. The same methods as the
// serial line's ApiClient, but no events: those need the serial line.

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

  host = () => this.request<HostInfo>("GET", "host");
  list = () => this.request<VmList>("GET", "vms");
  info = (name: string) => this.request<VmInfo>("GET", vm(name));
  stats = (name: string) => this.request<VmStats>("GET", `${vm(name)}/stats`);
  pause = (name: string) => this.request<VmSummary>("POST", `${vm(name)}/pause`);
  resume = (name: string) => this.request<VmSummary>("POST", `${vm(name)}/resume`);
  powerOff = (name: string) => this.request<VmSummary>("POST", `${vm(name)}/poweroff`);
  reboot = (name: string) => this.request<VmSummary>("POST", `${vm(name)}/reboot`);

  close(): void {}

  // The body of a 2xx answer; any other is an ApiError from its JSON error.
  private async request<T>(method: "GET" | "POST", path: string): Promise<T> {
    const response = await fetch(new URL(`/api/v1/${path}`, this.base), {
      method,
      headers: { Authorization: `Bearer ${this.token}` },
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`${method} /api/v1/${path}: HTTP ${response.status} with a body that is not JSON`);
    }
    if (response.ok) return body as T;
    const error = body as RpcError;
    throw new ApiError(error.code, error.message, response.status);
  }
}

function vm(name: string): string {
  return `vms/${encodeURIComponent(name)}`;
}
