// virtio-net (virtio 1.2, 5.1): a VM's network card, one port of the host's
// virtual switch (net/switch.ts), with one receive and one transmit queue.
//
// The device offers its MAC address and link status in its configuration
// (VIRTIO_NET_F_MAC, F_STATUS) and mergeable receive buffers
// (F_MRG_RXBUF); no checksum or segmentation offloads, so every frame is a
// whole Ethernet frame of at most 1518 bytes with its checksums done. Each
// frame, either way, follows a 12-byte struct virtio_net_hdr (5.1.6): with
// VIRTIO_F_VERSION_1 it always ends in num_buffers.
//
// Transmit: a kick on the transmit queue sends every frame waiting there
// into the switch, which at once writes it into the receiving VMs' queues
// (receive() here, on their devices) and interrupts them; the chain then
// goes back to this driver. A cap on bytes per second holds the queue, as
// a disk's budget does (block.ts), until the platform's clock resumes it.
// Receive: a frame takes as many of the driver's buffers as it needs; with
// none (or too few) offered it is dropped and counted, as a full NIC's
// would be.

import { rdtsc } from "../../../kernel/arch/shim";
import { tscPerMillisecond } from "../../../kernel/time/tsc";
import { MAX_FRAME } from "../../net/ethernet";
import { FrameReceiver, VmPort } from "../../net/port";
import { VirtualSwitch } from "../../net/switch";
import { writeLittleEndian } from "../../storage/littleendian";
import { Deferred, NOT_DUE } from "../timers/deferred";
import { Chain, Virtqueue } from "./virtqueue";
import { VirtioDevice } from "./device";
import {
  NET_F_MAC,
  NET_F_MRG_RXBUF,
  NET_F_STATUS,
  NET_HEADER_BYTES,
  NET_MAC_AT,
  NET_S_LINK_UP,
  NET_STATUS_AT,
} from "../virtiospec";

const NET_ID: u16 = 1;
const RECEIVE: u32 = 0, TRANSMIT: u32 = 1;
const QUEUE_SIZE: u16 = 256;
// Buffers in one chain: Linux's largest are a header and MAX_SKB_FRAGS + 1 pages.
const CHAIN_BUFFERS: i32 = 32;
// Chains one received frame may be spread over (NET_F_MRG_RXBUF).
const MAX_MERGED: i32 = 32;

// Configuration (5.1.4): mac[6], status, then max_virtqueue_pairs.
const PAIRS_AT: i32 = 8;
const CONFIG_SIZE: u32 = 10;
// struct virtio_net_hdr (5.1.6): flags, gso_type, hdr_len, gso_size,
// csum_start, csum_offset, then num_buffers.
const NUM_BUFFERS_AT: i32 = 10;

export class VirtioNet extends VirtioDevice {
  private rx: Virtqueue | null = null;
  private tx: Virtqueue | null = null;
  private mergeable: bool = false;
  private txChain: Chain = new Chain(CHAIN_BUFFERS);
  private rxChains: Chain[] = [];
  // The transmit chain in hand waits for the port's byte budget.
  private held: bool = false;
  readonly resume!: Deferred;
  private config: Uint8Array = new Uint8Array(<i32>CONFIG_SIZE);
  // A frame on its way out, and one on its way in behind its header.
  private outgoing: Uint8Array = new Uint8Array(MAX_FRAME);
  private incoming: Uint8Array = new Uint8Array(NET_HEADER_BYTES + MAX_FRAME);

  // `port`: this NIC's place in `net`, which it takes over from the NIC
  // of the VM's previous boot, if any.
  constructor(private port: VmPort, private net: VirtualSwitch) {
    super(NET_ID, "net", 2, QUEUE_SIZE);
    writeLittleEndian(this.config, NET_STATUS_AT, 2, NET_S_LINK_UP);
    writeLittleEndian(this.config, PAIRS_AT, 2, 1);
    // The address's first octet first (5.1.4: mac is in network order).
    for (let i = 0; i < 6; i++) this.config[NET_MAC_AT + i] = <u8>(port.mac >> (<u64>(5 - i) * 8));
    for (let i = 0; i < MAX_MERGED; i++) this.rxChains.push(new Chain(CHAIN_BUFFERS));
    this.resume = new NetResume(this);
    port.receiver = new NetReceiver(this);
  }

  get features(): u64 {
    return NET_F_MAC | NET_F_MRG_RXBUF | NET_F_STATUS;
  }
  get configSize(): u32 {
    return CONFIG_SIZE;
  }
  readConfig(offset: u32, size: u8): u32 {
    let v: u32 = 0;
    for (let i: u32 = 0; i < <u32>size && offset + i < CONFIG_SIZE; i++) v |= <u32>this.config[offset + i] << (i * 8);
    return v;
  }

  start(features: u64, queues: Virtqueue[]): void {
    this.mergeable = (features & NET_F_MRG_RXBUF) != 0;
    this.rx = queues[RECEIVE];
    this.tx = queues[TRANSMIT];
    this.notified(TRANSMIT);
  }

  reset(): void {
    this.rx = this.tx = null;
    this.held = false;
  }

  // New receive buffers need nothing now: frames that found none were dropped.
  notified(index: u32): void {
    if (index == TRANSMIT) this.transmit();
  }

  // When the frame held back may go, or NOT_DUE.
  get resumeAt(): u64 {
    return this.held ? this.port.shaper.nextStart : NOT_DUE;
  }

  // Sends every frame waiting, then asks for the next kick (2.7.10); one
  // interrupt for the lot, if the driver wants one.
  transmit(): void {
    const q = this.tx;
    if (q === null || q.error !== null) return;
    const chain = this.txChain, shaper = this.port.shaper;
    let sent = false;
    q.suppressNotifications();
    do {
      while (this.held || q.pop(chain)) {
        if (chain.readableBytes < <u64>NET_HEADER_BYTES) {
          this.signals!.needsReset("transmitq: a frame without its virtio_net_hdr");
          return;
        }
        const length = chain.readableBytes - <u64>NET_HEADER_BYTES;
        this.held = shaper.capped && !shaper.admit(length, rdtsc(), tscPerMillisecond());
        if (this.held) break;
        // The header's fields ask only for offloads this device does not
        // offer (5.1.6.2), so only the frame after it is read. One longer
        // than a frame can be is read in part; the switch drops it by its length.
        chain.readBytes(<u64>NET_HEADER_BYTES, this.outgoing, 0, MAX_FRAME);
        this.net.send(this.port, this.outgoing, <i32>min(length, <u64>i32.MAX_VALUE), rdtsc(), tscPerMillisecond());
        q.push(chain.head, 0);
        sent = true;
      }
    } while (!this.held && q.armNotification());
    if (q.error !== null) this.signals!.needsReset("transmitq: " + q.error!);
    else if (sent && q.needsInterrupt()) this.signals!.usedBuffers(TRANSMIT);
  }

  // Writes a frame from the switch into the driver's receive buffers
  // (5.1.6.4): the header, num_buffers in it, then the frame, over as many
  // chains as it takes. False if the driver had too few buffers offered.
  receive(frame: Uint8Array, length: i32): bool {
    const q = this.rx;
    if (q === null || q.error !== null) return false;
    const total = NET_HEADER_BYTES + length, bytes = this.incoming;
    // Chains first, so that a frame that does not fit gives them all back.
    const most = this.mergeable ? MAX_MERGED : 1;
    let chains = 0, room: u64 = 0;
    while (room < <u64>total && chains < most && q.pop(this.rxChains[chains])) {
      const writable = this.rxChains[chains].writableBytes;
      // The header goes whole into the first buffer chain (5.1.6.3.1).
      if (writable == 0 || (chains == 0 && writable < <u64>NET_HEADER_BYTES)) {
        this.signals!.needsReset("receiveq: a buffer of " + writable.toString() + " bytes");
        return false;
      }
      room += writable;
      chains++;
    }
    if (q.error !== null) {
      this.signals!.needsReset("receiveq: " + q.error!);
      return false;
    }
    if (room < <u64>total) {
      // Without NET_F_MRG_RXBUF every buffer must hold the largest frame (5.1.6.3.1).
      if (!this.mergeable && chains > 0) {
        this.signals!.needsReset("receiveq: a buffer of " + room.toString() + " bytes, too small for a frame");
        return false;
      }
      q.unpop(<u16>chains);
      return false;
    }
    bytes.fill(0, 0, NET_HEADER_BYTES);
    writeLittleEndian(bytes, NUM_BUFFERS_AT, 2, chains);
    memory.copy(bytes.dataStart + NET_HEADER_BYTES, frame.dataStart, length);
    let done = 0;
    for (let i = 0; i < chains; i++) {
      const chain = this.rxChains[i], n = chain.writeBytes(0, bytes, done, total - done);
      q.push(chain.head, <u32>n);
      done += n;
    }
    if (q.needsInterrupt()) this.signals!.usedBuffers(RECEIVE);
    return true;
  }
}

// The switch's side of the device: frames for this NIC.
class NetReceiver extends FrameReceiver {
  constructor(private nic: VirtioNet) {
    super();
  }
  receive(frame: Uint8Array, length: i32): bool {
    return this.nic.receive(frame, length);
  }
}

class NetResume extends Deferred {
  constructor(private nic: VirtioNet) {
    super();
  }
  get dueAt(): u64 {
    return this.nic.resumeAt;
  }
  run(): void {
    this.nic.transmit();
  }
}
