// Echo requests from the hypervisor's own address (linker/lwip/ping.c),
// as the management API's ping.start asks for them (docs/api.md): ECHOES
// of them a second apart, each answer's round trip timed here on the TSC
// when CPU 0 next polls lwIP (within a millisecond). One ping at a time;
// a new one replaces the last. A hypervisor checks with it that it
// reaches another (a migration's peer) from its management VLAN.

import { ipPingSend, ipPingTake } from "../../../kernel/arch/shim";
import { ticksToNs } from "../../../kernel/time/tsc";

const ECHOES: u32 = 3;
const NO_REPLY: u32 = 0xffff_ffff;
// After the last echo, how long an answer may still come.
const PATIENCE_MS: u64 = 1000;
const INTERVAL_MS: u64 = 1000;

// What a ping came to so far; round trips in ns, 0 without answers.
export class PingFigures {
  constructor(
    readonly address: u32,
    readonly sent: u32,
    readonly received: u32,
    readonly done: bool,
    readonly minNs: u64,
    readonly avgNs: u64,
    readonly maxNs: u64,
  ) {}
}

class Ping {
  sent: u32 = 0;
  received: u32 = 0;
  private sentAt: StaticArray<u64> = new StaticArray<u64>(ECHOES);
  private answered: StaticArray<bool> = new StaticArray<bool>(ECHOES);
  private minNs: u64 = u64.MAX_VALUE;
  private maxNs: u64 = 0;
  private sumNs: u64 = 0;

  constructor(readonly address: u32, private nextAt: u64) {}

  // Takes the answers that came, then sends the next echo if it is due.
  poll(now: u64, tscPerMs: u64): void {
    for (let sequence = ipPingTake(); sequence != NO_REPLY; sequence = ipPingTake()) {
      if (sequence >= this.sent || this.answered[sequence]) continue;
      this.answered[sequence] = true;
      this.received++;
      const ns = ticksToNs(now - this.sentAt[sequence]);
      this.minNs = min(this.minNs, ns);
      this.maxNs = max(this.maxNs, ns);
      this.sumNs += ns;
    }
    if (this.sent < ECHOES && now >= this.nextAt) {
      this.sentAt[this.sent] = now;
      ipPingSend(this.address, this.sent);
      this.sent++;
      this.nextAt = now + INTERVAL_MS * tscPerMs;
    }
  }

  // Whether every echo went and each has its answer or waited long enough.
  done(now: u64, tscPerMs: u64): bool {
    if (this.sent < ECHOES) return false;
    return this.received == ECHOES || now >= this.sentAt[ECHOES - 1] + PATIENCE_MS * tscPerMs;
  }

  figures(now: u64, tscPerMs: u64): PingFigures {
    const n = this.received, done = this.done(now, tscPerMs);
    if (n == 0) return new PingFigures(this.address, this.sent, 0, done, 0, 0, 0);
    return new PingFigures(this.address, this.sent, n, done, this.minNs, this.sumNs / n, this.maxNs);
  }
}

let current: Ping | null = null;

// Starts ECHOES echoes to `address` (a.b.c.d as a << 24 | ... | d) from `now` (TSC).
export function startPing(address: u32, now: u64): void {
  current = new Ping(address, now);
}

// On CPU 0 with lwIP's poll (management.ts).
export function pollPing(now: u64, tscPerMs: u64): void {
  const ping = current;
  if (ping !== null) ping.poll(now, tscPerMs);
}

// The last ping's figures, or null if none was started.
export function lastPing(now: u64, tscPerMs: u64): PingFigures | null {
  const ping = current;
  return ping !== null ? ping.figures(now, tscPerMs) : null;
}
