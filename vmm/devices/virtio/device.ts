// What a virtio device is to its transport: a type, feature bits, a
// configuration block, queues and what to do when the driver notifies one.
//
// The transport (pcitransport.ts) owns the queues and the feature and
// status handshake of virtio 1.2, 3.1; a device model only serves its
// queues and its configuration. When it has used buffers to report, or its
// configuration changed, it asks the transport to interrupt the driver.

import { F_EVENT_IDX, F_INDIRECT_DESC, F_VERSION_1 } from "../virtiospec";
import { Virtqueue } from "./virtqueue";

// Reserved feature bits every device here offers (6): descriptors in
// indirect tables, the used_event/avail_event suppression, and virtio 1.x.
export const TRANSPORT_FEATURES: u64 = F_INDIRECT_DESC | F_EVENT_IDX | F_VERSION_1;

// What a device model calls back: interrupts for the driver.
export abstract class VirtioSignals {
  // The device put buffers in queue `index`'s used ring.
  abstract usedBuffers(index: u32): void;
  // The device's configuration block changed (2.5.1).
  abstract configChanged(): void;
  // The driver broke the rules; the device stops until reset (2.1.2).
  abstract needsReset(reason: string): void;
}

export abstract class VirtioDevice {
  signals: VirtioSignals | null = null;

  // The device ID (5: 1 network, 2 block, 3 console, 4 entropy), its
  // name, and its queues' count and largest size.
  constructor(readonly type: u16, readonly name: string, readonly queueCount: u32, readonly maxQueueSize: u16) {}

  // The device-specific feature bits it offers (bits 0-23, 5.x.3).
  abstract get features(): u64;
  // The transport's feature bits it offers (bits 24 and up, 6).
  get transportFeatures(): u64 {
    return TRANSPORT_FEATURES;
  }
  // The configuration block's size, and its registers.
  abstract get configSize(): u32;
  abstract readConfig(offset: u32, size: u8): u32;
  writeConfig(offset: u32, size: u8, value: u32): void {}

  // The driver set DRIVER_OK with `features` accepted; the queues are live.
  abstract start(features: u64, queues: Virtqueue[]): void;
  // The driver notified queue `index` that it has new buffers.
  abstract notified(index: u32): void;
  // A device reset (status 0): forget the queues and in-flight work.
  abstract reset(): void;
}
