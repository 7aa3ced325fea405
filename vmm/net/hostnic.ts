// A host Ethernet controller that a hypervisor driver runs, polled, for
// the switch's uplink (uplink.ts): the 8254x (e1000/controller.ts) or a
// virtio network device (virtionet/controller.ts). What the uplink needs
// of either is here: start it, learn its address and link, queue a frame,
// take the frames it has received. No interrupt is ever used.

import { HostController } from "../../kernel/pci/hostcontroller";

// receive()'s results besides a frame's length: nothing has arrived; a
// frame arrived that is dropped (received with errors, too long, or
// described wrongly by the device).
export const NO_FRAME: i32 = -1;
export const BAD_FRAME: i32 = -2;

// What the uplink receives into: either driver's receive buffer, 2048
// bytes, holds any frame it takes.
export const FRAME_BUFFER_BYTES: i32 = 2048;

export abstract class HostNic extends HostController {
  // The controller's own address, once started.
  mac: u64 = 0;
  // What the device wrote wrongly and the driver skipped (a virtio used
  // entry naming a buffer the device does not hold, or with a length no
  // buffer has).
  faults: u64 = 0;

  // Takes the controller over and starts it, its receiver and transmitter
  // on; false (logged) if it cannot. Until then the driver has not touched
  // it, so a NIC the configuration leaves out stays as the firmware left it.
  abstract start(): bool;

  abstract get linkUp(): bool;

  // Queues a frame (without its FCS); false if the transmit queue is full
  // or the controller failed.
  abstract transmit(frame: Uint8Array, length: i32): bool;

  // The next received frame, copied into `into`: its length, NO_FRAME or
  // BAD_FRAME. doneReceiving() gives the buffers taken back to the device.
  abstract receive(into: Uint8Array): i32;

  abstract doneReceiving(): void;
}
