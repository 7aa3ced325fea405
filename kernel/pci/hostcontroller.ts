// A host PCI controller that a hypervisor driver took over (NVMe,
// vmm/storage/nvme; the uplink's NIC, vmm/net/hostnic.ts): its name for
// the log and why the driver gave up on it, if it did. Giving up turns the
// function's bus mastering off (PCI Local Bus Specification 3.0, 6.2.2),
// so that a controller in an unknown state cannot write into memory the
// hypervisor uses for something else.

import * as log from "../console/log";
import { BUS_MASTER, PciFunction } from "./functions";

export class HostController {
  readonly name: string;
  failure: string | null = null;

  // `kind`: what the driver calls it in the log ("nvme", "e1000", "virtio-net").
  constructor(kind: string, readonly fn: PciFunction) {
    this.name = kind + " " + fn.name;
  }

  // Logs why the controller is not used, once, and stops its DMA: false.
  protected fail(reason: string): bool {
    if (this.failure !== null) return false;
    this.failure = reason;
    log.error(this.name + ": " + reason + "; the controller is not used");
    this.fn.command(0, BUS_MASTER);
    return false;
  }
}
