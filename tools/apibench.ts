// make bench, api: what the management API costs (issue 13). Two busy flat
// guests (test/guests/busy.S) share one host CPU under QEMU's
// instruction-counting clock, where the TSC counts instructions; this
// machine is the client, over HTTP through QEMU's forwarded port.
//
// - Latency: `list` and `stats` of a VM, LATENCY_REQUESTS of each in a
//   row, each timed on this machine's clock (ms: median and 95th
//   percentile), with the busy VMs running.
// - The cost of a dashboard to the VMs: the VMs' share of the CPU (their
//   CPU time over the host's uptime, both from the API) over a window of
//   WINDOW_S seconds of the host's clock without requests but the two
//   samples that bound it, then over one with a dashboard's refresh (host,
//   list and a stats per VM, as linker/lwip/dashboard.html asks) once per
//   second of the host's clock. The share the VMs lose is what the polling
//   costs them; the goal is under 1 %.

import type { Module } from "./harness/index";
import { bootWithHttpApi } from "./harness/httpapi";
import type { HttpApiClient } from "./api/http";

const TOKEN = "api-bench-token";
const VMS = ["alpha", "beta"];
const LATENCY_REQUESTS = 30;
const WINDOW_S = 20;
const busy = (name: string): Module => ({ path: "build/guests/busy.bin", args: `vm=${name} mem=4` });

export interface Latency {
  medianMs: number;
  p95Ms: number;
}
export interface ApiBench {
  listLatency: Latency;
  statsLatency: Latency;
  // The VMs' share of the host CPU, in %, without and with the dashboard.
  vmSharePercent: { quiet: number; dashboard: number };
  // What the dashboard's polling costs the VMs, in % of the CPU.
  dashboardCostPercent: number;
  refreshes: number;
}

async function latency(call: () => Promise<unknown>): Promise<Latency> {
  const ms: number[] = [];
  for (let i = 0; i < LATENCY_REQUESTS; i++) {
    const start = performance.now();
    await call();
    ms.push(performance.now() - start);
  }
  ms.sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 10) / 10;
  return { medianMs: round(ms[Math.floor(ms.length / 2)]), p95Ms: round(ms[Math.floor(ms.length * 0.95)]) };
}

// The host's uptime and the VMs' CPU time summed, in ns.
async function sample(client: HttpApiClient): Promise<{ uptime: number; cpu: number }> {
  const host = await client.host();
  let cpu = 0;
  for (const vm of VMS) cpu += (await client.stats(vm)).cpu_ns;
  return { uptime: host.uptime_ns, cpu };
}

// What the dashboard asks for on each refresh.
async function refresh(client: HttpApiClient): Promise<number> {
  const host = await client.host();
  await client.list();
  for (const vm of VMS) await client.stats(vm);
  return host.uptime_ns;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The two busy VMs on a hypervisor whose API this machine reaches; `icount`:
// under the instruction-counting clock. What `measure` makes of them.
async function withBusyVms<T>(icount: boolean, measure: (client: HttpApiClient) => Promise<T>): Promise<T> {
  const { machine, client } = await bootWithHttpApi(VMS.map(busy), TOKEN, { icount });
  try {
    for (const vm of VMS) await machine.waitFor(`vm ${vm}: entered at tsc`, 120_000);
    return await measure(client);
  } finally {
    machine.kill();
  }
}

export async function measureApi(): Promise<ApiBench> {
  // Latency on QEMU's own clock, which runs with this machine's: the
  // instruction-counting clock runs as fast as QEMU can go, and its waits
  // (lwIP's timers, a poll a millisecond) would not be a PC's.
  const [listLatency, statsLatency] = await withBusyVms(false, async (client) => [
    await latency(() => client.list()),
    await latency(() => client.stats("beta")),
  ]);
  return withBusyVms(true, async (client) => {
    // The host's clock against this machine's, which sets the pace of both windows.
    const p0 = await sample(client), wall0 = performance.now();
    await pause(2000);
    const q0 = await sample(client);
    const hostSecondsPerWallMs = (q0.uptime - p0.uptime) / 1e9 / (performance.now() - wall0);
    // Quiet: no request between the two samples.
    await pause(WINDOW_S / hostSecondsPerWallMs);
    const q1 = await sample(client);
    // The dashboard: a refresh per second of the host's clock.
    const d0 = q1;
    let refreshes = 0, next = d0.uptime + 1e9, now = d0.uptime;
    while (now - d0.uptime < WINDOW_S * 1e9) {
      await pause(Math.max(0, (next - now) / 1e9 / hostSecondsPerWallMs));
      now = await refresh(client);
      refreshes++;
      next += 1e9;
    }
    const d1 = await sample(client);
    const share = (a: { uptime: number; cpu: number }, b: { uptime: number; cpu: number }) =>
      (100 * (b.cpu - a.cpu)) / (b.uptime - a.uptime);
    const quiet = share(q0, q1), dashboard = share(d0, d1);
    const round = (x: number) => Math.round(x * 1000) / 1000;
    return {
      listLatency,
      statsLatency,
      vmSharePercent: { quiet: round(quiet), dashboard: round(dashboard) },
      dashboardCostPercent: round(quiet - dashboard),
      refreshes,
    };
  });
}

export function summary(b: ApiBench): string {
  const list = b.listLatency, stats = b.statsLatency;
  return `API            list ${list.medianMs} ms (p95 ${list.p95Ms}), stats ${stats.medianMs} ms `
    + `(p95 ${stats.p95Ms}); VMs' CPU share ${b.vmSharePercent.quiet} % quiet, `
    + `${b.vmSharePercent.dashboard} % with a dashboard polling once a second: it costs them `
    + `${b.dashboardCostPercent} % (goal under 1 %)`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const figures = await measureApi();
  console.log(summary(figures));
  console.log(JSON.stringify(figures, null, 2));
}
