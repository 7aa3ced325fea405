// A virtio network device of the host (virtio 1.2, 5.1), as QEMU gives it
// with -device virtio-net-pci, driven by polling through the modern PCI
// transport (transport.ts). start() follows the initialization of 3.1.1:
// reset, ACKNOWLEDGE and DRIVER, the features, FEATURES_OK read back,
// the two virtqueues (receiveq1 and transmitq1, 5.1.2), the receive
// buffers offered, DRIVER_OK. Frames then move only when the driver asks:
// transmit() queues one, receive() takes one from the used ring.
//
// The driver takes only VIRTIO_F_VERSION_1 (a modern device, whose
// virtio_net_hdr is always 12 bytes, 5.1.6), VIRTIO_NET_F_MAC (its
// address, for the log) and VIRTIO_NET_F_STATUS (its link) if offered,
// and VIRTIO_F_ACCESS_PLATFORM if offered: the addresses it gives are
// physical, which is what the platform's bus sees without an IOMMU. No
// offloads, so every header it sends is zero and every header it receives
// says nothing it must act on; no mergeable buffers, so each receive
// buffer is as large as a frame can be (5.1.6.3.1); no control queue, so
// no receive filter is ever set and 802.1Q tags stay in the frames for
// the switch.

import { PciFunction } from "../../../kernel/pci/functions";
import { formatMac, isGroup } from "../ethernet";
import { BAD_FRAME, HostNic, NO_FRAME } from "../hostnic";
import { BROKEN, BUFFER_BYTES, FAULT, MAX_QUEUE_SIZE, NONE, SplitQueue } from "./splitqueue";
import { VirtioTransport } from "./transport";
import {
  DESC_F_WRITE,
  F_ACCESS_PLATFORM,
  F_VERSION_1,
  NET_F_MAC,
  NET_F_STATUS,
  NET_HEADER_BYTES,
  NET_MAC_AT,
  NET_S_LINK_UP,
  NET_STATUS_AT,
  STATUS_ACKNOWLEDGE,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FAILED,
  STATUS_FEATURES_OK,
  VIRTIO_VENDOR,
} from "../../devices/virtiospec";

// Device 1041h, a modern network device (4.1.2.1), or 1000h, a
// transitional one, which has the modern capabilities too.
const MODERN_NET: u16 = 0x1041, TRANSITIONAL_NET: u16 = 0x1000;
const MAC_BYTES: i32 = 6;

const RECEIVE_QUEUE: u16 = 0, TRANSMIT_QUEUE: u16 = 1;

export function isVirtioNet(f: PciFunction): bool {
  return f.vendor == VIRTIO_VENDOR && (f.device == MODERN_NET || f.device == TRANSITIONAL_NET);
}

export class VirtioNet extends HostNic {
  private transport: VirtioTransport;
  private features: u64 = 0;
  // The queues, set by start(), and the transmit descriptors the driver holds.
  private rx!: SplitQueue;
  private tx!: SplitQueue;
  private idle: u16[] = [];

  constructor(fn: PciFunction) {
    super("virtio-net", fn);
    this.transport = new VirtioTransport(fn);
  }

  start(): bool {
    const t = this.transport;
    const missing = t.locate(this.name);
    if (missing !== null) return this.fail(missing);
    if (!t.reset()) return this.fail("still resetting after 10 ms");
    t.addStatus(STATUS_ACKNOWLEDGE);
    t.addStatus(STATUS_DRIVER);
    const offered = t.deviceFeatures();
    if ((offered & F_VERSION_1) == 0) return this.fail("is not a modern device (no VIRTIO_F_VERSION_1)");
    if ((offered & NET_F_MAC) == 0) return this.fail("offers no MAC address");
    this.features = offered & (F_VERSION_1 | NET_F_MAC | NET_F_STATUS | F_ACCESS_PLATFORM);
    t.setDriverFeatures(this.features);
    t.addStatus(STATUS_FEATURES_OK);
    // The device may refuse the subset: STATUS_FEATURES_OK then reads 0 (3.1.1).
    if ((t.status & STATUS_FEATURES_OK) == 0) return this.fail("refuses the features " + this.features.toString(16));

    if (t.deviceConfigBytes < <u32>MAC_BYTES) return this.fail("has a device configuration too short for its address");
    const mac = new StaticArray<u8>(MAC_BYTES);
    t.readDeviceConfig(NET_MAC_AT, mac);
    for (let i = 0; i < MAC_BYTES; i++) this.mac = (this.mac << 8) | <u64>mac[i];
    if (this.mac == 0 || isGroup(this.mac)) return this.fail("has no unicast address (" + formatMac(this.mac) + ")");

    const rx = this.queue(RECEIVE_QUEUE, DESC_F_WRITE);
    if (rx === null) return false;
    const tx = this.queue(TRANSMIT_QUEUE, 0);
    if (tx === null) return false;
    this.rx = rx;
    this.tx = tx;
    // Every receive buffer is the device's from the start (5.1.6.3).
    for (let id: u16 = 0; id < rx.size; id++) rx.offer(id, BUFFER_BYTES);
    for (let id: u16 = 0; id < tx.size; id++) this.idle.push(id);
    t.addStatus(STATUS_DRIVER_OK);
    rx.publish();
    return true;
  }

  // Without VIRTIO_NET_F_STATUS (or a configuration that holds it) the
  // link is taken to be up (5.1.4.2).
  get linkUp(): bool {
    const t = this.transport;
    if ((this.features & NET_F_STATUS) == 0 || t.deviceConfigBytes < <u32>(NET_STATUS_AT + 2)) return true;
    return (t.deviceConfig16(NET_STATUS_AT) & NET_S_LINK_UP) != 0;
  }

  // A device given up is told so with STATUS_FAILED (3.1.1), once its registers are known.
  protected fail(reason: string): bool {
    const t = this.transport;
    if (this.failure === null && t.located) t.addStatus(STATUS_FAILED);
    return super.fail(reason);
  }

  // The header before the frame stays zero (no offload asked for,
  // 5.1.6.2): nothing ever writes a transmit buffer's first 12 bytes.
  transmit(frame: Uint8Array, length: i32): bool {
    if (this.failure !== null || !this.reclaim()) return false;
    if (this.idle.length == 0 || <u32>length + NET_HEADER_BYTES > BUFFER_BYTES) return false;
    const tx = this.tx, id = this.idle.pop();
    memory.copy(tx.buffer(id) + NET_HEADER_BYTES, frame.dataStart, <usize>length);
    tx.offer(id, NET_HEADER_BYTES + <u32>length);
    tx.publish();
    return true;
  }

  // A used buffer's length counts its header; one shorter than the header
  // or longer than the buffer is the device's mistake, dropped.
  receive(into: Uint8Array): i32 {
    if (this.failure !== null) return NO_FRAME;
    const rx = this.rx, id = rx.takeUsed();
    if (id == NONE) return NO_FRAME;
    if (id == BROKEN) {
      this.fail("used more receive buffers than it was given");
      return NO_FRAME;
    }
    if (id == FAULT) {
      this.faults++;
      return BAD_FRAME;
    }
    const length = <i32>rx.usedLength - <i32>NET_HEADER_BYTES;
    const fits = length > 0 && rx.usedLength <= BUFFER_BYTES;
    if (!fits) this.faults++;
    const whole = fits && length <= into.length;
    if (whole) memory.copy(into.dataStart, rx.buffer(<u16>id) + NET_HEADER_BYTES, <usize>length);
    rx.offer(<u16>id, BUFFER_BYTES);
    return whole ? length : BAD_FRAME;
  }

  doneReceiving(): void {
    if (this.failure === null) this.rx.publish();
  }

  // Takes back the transmit descriptors the device has sent; false if it broke the queue.
  private reclaim(): bool {
    for (let id = this.tx.takeUsed(); id != NONE; id = this.tx.takeUsed()) {
      if (id == BROKEN) return this.fail("used more transmit buffers than it was given");
      if (id == FAULT) this.faults++;
      else this.idle.push(<u16>id);
    }
    return true;
  }

  // Queue `index` set up and enabled with up to MAX_QUEUE_SIZE descriptors; null (logged) if it cannot be.
  private queue(index: u16, flags: u16): SplitQueue | null {
    const t = this.transport, max = t.maxQueueSize(index);
    // A split queue's size is a power of two (2.7).
    if (max == 0 || (max & (max - 1)) != 0) {
      this.fail("offers queue " + index.toString() + " with " + max.toString() + " descriptors");
      return null;
    }
    const q = new SplitQueue(index, max < MAX_QUEUE_SIZE ? max : MAX_QUEUE_SIZE, flags);
    q.notifyAt = t.setUpQueue(index, q.size, q.descriptorsPhys, q.availPhys, q.usedPhys);
    if (q.notifyAt == 0) {
      this.fail("gives queue " + index.toString() + " a notification address outside its area");
      return null;
    }
    return q;
  }
}
