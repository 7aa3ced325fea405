// Whether the host itself should shut down: asked for by the management
// API (host.shutdown), acted on by the scheduler (sched/scheduler.ts),
// which powers off whatever VMs still run and lets every CPU leave its loop.
// The shutdown waits GRACE_MS first, so that the API's reply to the request
// still reaches its client over the serial line or TCP. A module of its own
// so that neither has to know the other.

const GRACE_MS: u64 = 250;

let due: u64 = u64.MAX_VALUE;
let requestedBy = "";

// `who` asks at TSC `now`, which runs at `tscPerMs` ticks a millisecond.
export function requestShutdown(who: string, now: u64, tscPerMs: u64): void {
  if (due != u64.MAX_VALUE) return;
  due = now + GRACE_MS * tscPerMs;
  requestedBy = who;
}

// Whether the shutdown asked for is due at `now`.
export function shutdownDue(now: u64): bool {
  return now >= due;
}

// Who asked, for the VMs' stop reasons and the log.
export function shutdownRequester(): string {
  return requestedBy;
}
