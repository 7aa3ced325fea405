// The host's facts as the management API tells them (host.get, /metrics):
// from the kernel (service.ts), or fixed by a unit test.

export abstract class HostFacts {
  abstract get version(): string;
  abstract get cpus(): u32;
  abstract get freeBytes(): u64;
  // Since the host started.
  abstract get nowNs(): u64;
}
