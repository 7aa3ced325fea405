// A VM's device as the management API counts it (vmm/api): a disk or a
// NIC, with totals since the VM was made. The device counts on its own;
// the API reads the totals on CPU 0 when a client asks, so a meter only
// names them. The storage and network code give each of their devices
// one (storage/vmdisk.ts, net/port.ts); the core knows none of them.

// One total: what it counts ("frames_received"), and for a count split by
// cause, the cause ("spoofed").
export class Total {
  constructor(readonly name: string, readonly value: u64, readonly cause: string = "") {}
}

export abstract class Meter {
  // `kind`: "disk" or "nic"; `id`: the device among the VM's devices of
  // that kind (a disk's serial, a NIC's MAC address); `about`: what it is,
  // as the boot log describes it ("RAM, 64 MiB, read-only", "VLAN 10").
  constructor(readonly kind: string, readonly id: string, readonly about: string) {}

  abstract totals(): Total[];
}
