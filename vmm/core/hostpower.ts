// Whether the host itself should shut down: asked for by the management
// API (host.shutdown), acted on by the scheduler (sched/scheduler.ts),
// which powers off whatever VMs still run and lets every CPU leave its loop.
// A module of its own so that neither has to know the other.

let requested = false;
let requestedBy = "";

export function requestShutdown(who: string): void {
  requested = true;
  requestedBy = who;
}

export function shutdownRequested(): bool {
  return requested;
}

// Who asked, for the VMs' stop reasons and the log.
export function shutdownRequester(): string {
  return requestedBy;
}
