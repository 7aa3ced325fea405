// The host's facts as the management API tells them (host.get, /metrics),
// its ping from the management address (ping.start, ping.get) and its
// shutdown (host.shutdown) and its random numbers (Redfish's session
// tokens): from the kernel (service.ts), or fixed by a unit test.

import { PingFigures } from "../net/ip/ping";

export abstract class HostFacts {
  abstract get version(): string;
  abstract get cpus(): u32;
  abstract get freeBytes(): u64;
  // Since the host started.
  abstract get nowNs(): u64;
  // Starts echoes to `address` (a.b.c.d as a << 24 | ... | d); false if
  // the host has no management address to send them from.
  abstract startPing(address: u32): bool;
  // The last ping's figures, or null if none was started.
  abstract get lastPing(): PingFigures | null;
  // Powers off every VM still running and then the host; `who` asked.
  abstract shutdown(who: string): void;
  // Fills `into` from the CPU's random number generator; false if it has none.
  abstract random(into: Uint8Array): bool;
}
