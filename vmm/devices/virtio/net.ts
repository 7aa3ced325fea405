// virtio-net (virtio 1.2, 5.1): a VM's network card, one port of the host's
// virtual switch (net/switch.ts), with a receive and a transmit queue for
// each of the VM's vCPUs, up to MAX_PAIRS.
//
// The device offers its MAC address and link status in its configuration
// (VIRTIO_NET_F_MAC, F_STATUS), mergeable receive buffers (F_MRG_RXBUF),
// and checksum and TCP segmentation offloads over IPv4 and IPv6 both ways
// (F_CSUM, F_HOST_TSO4, F_HOST_TSO6; F_GUEST_CSUM, F_GUEST_TSO4,
// F_GUEST_TSO6): a frame may leave its checksum
// partial and be a TCP segment of up to 64 KiB, work the switch carries to
// a VM that takes it and does for any other port (net/frame.ts,
// net/offload.ts). Each frame, either way, follows a 12-byte struct
// virtio_net_hdr (5.1.6) that says what work is left: with
// VIRTIO_F_VERSION_1 it always ends in num_buffers.
//
// Transmit: a kick on the transmit queue sends every frame waiting there
// into the switch, which at once writes it into the receiving VMs' queues
// (receive() here, on their devices) and interrupts them; the chain then
// goes back to this driver. The switch holds only a frame's headers
// (net/frame.ts): a receiving VM's card copies the rest from this chain's
// buffers into its own, one copy. A cap on bytes per second holds the queue, as
// a disk's budget does (block.ts), until the platform's clock resumes it.
// Receive: a frame takes as many of the driver's buffers as it needs; with
// none (or too few) offered it is dropped and counted, as a full NIC's
// would be. A header asking for work the driver did not negotiate, or
// that the switch finds unsound, drops its frame as "bad offload".
//
// Several queue pairs (F_MQ, 5.1.6.5.5) need the control queue
// (F_CTRL_VQ), through which the driver says how many it uses
// (netcontrol.ts); Linux uses one per vCPU, each pair's interrupts and
// transmissions on its own CPU. Every pair's transmit queue sends into
// the switch as the first does, under the one cap; a received frame goes
// to the pair that last sent a frame of its flow (net/flow.ts).

import { rdtsc } from "../../../kernel/arch/shim";
import { tscPerMillisecond } from "../../../kernel/time/tsc";
import { Frame, FrameSource, HEADERS_READ, MAX_LARGE_FRAME } from "../../net/frame";
import { FlowSteering } from "../../net/flow";
import { segmentHeaders } from "../../net/offload";
import { Drop, FrameReceiver, VmPort } from "../../net/port";
import { VirtualSwitch } from "../../net/switch";
import { writeLittleEndian } from "../../storage/littleendian";
import { copyHostLinear } from "../../core/guestmemory";
import { Deferred, NOT_DUE } from "../timers/deferred";
import { Chain, Runs } from "./chain";
import { Virtqueue } from "./virtqueue";
import { TRANSPORT_FEATURES, VirtioDevice } from "./device";
import { NetControl } from "./netcontrol";
import {
  F_INDIRECT_DESC,
  NET_F_CSUM,
  NET_F_CTRL_VQ,
  NET_F_GUEST_CSUM,
  NET_F_GUEST_TSO4,
  NET_F_GUEST_TSO6,
  NET_F_HOST_TSO4,
  NET_F_HOST_TSO6,
  NET_F_MAC,
  NET_F_MQ,
  NET_F_MRG_RXBUF,
  NET_F_STATUS,
  NET_HDR_CSUM_OFFSET_AT,
  NET_HDR_CSUM_START_AT,
  NET_HDR_F_NEEDS_CSUM,
  NET_HDR_FLAGS_AT,
  NET_HDR_GSO_NONE,
  NET_HDR_GSO_SIZE_AT,
  NET_HDR_GSO_TCPV4,
  NET_HDR_GSO_TCPV6,
  NET_HDR_GSO_TYPE_AT,
  NET_HDR_HDR_LEN_AT,
  NET_HDR_NUM_BUFFERS_AT,
  NET_HEADER_BYTES,
  NET_MAC_AT,
  NET_PAIRS_AT,
  NET_S_LINK_UP,
  NET_STATUS_AT,
} from "../virtiospec";

const NET_ID: u16 = 1;
// Pair p's receive queue is 2p, its transmit queue 2p + 1 (5.1.2).
const RECEIVE: u32 = 0, TRANSMIT: u32 = 1;
// The most queue pairs a card has, whatever the VM's vCPUs.
export const MAX_PAIRS: u32 = 8;
const QUEUE_SIZE: u16 = 256;
// Buffers in one chain: Linux's largest are a header and MAX_SKB_FRAGS + 1 pages.
const CHAIN_BUFFERS: i32 = 32;
// Chains one received frame may be spread over (NET_F_MRG_RXBUF): a 64 KiB
// segment in Linux's smallest mergeable buffers, of a frame's size, takes 44.
const MAX_MERGED: i32 = 64;

// Configuration (5.1.4): mac[6], status, then max_virtqueue_pairs.
const CONFIG_SIZE: u32 = 10;
// What the driver may negotiate besides the transport's features.
const OFFERED: u64 = NET_F_CSUM | NET_F_GUEST_CSUM | NET_F_MAC | NET_F_GUEST_TSO4 | NET_F_GUEST_TSO6 | NET_F_HOST_TSO4
  | NET_F_HOST_TSO6 | NET_F_MRG_RXBUF | NET_F_STATUS;
// What a card of several pairs offers besides.
const MULTIQUEUE: u64 = NET_F_CTRL_VQ | NET_F_MQ;

export class VirtioNet extends VirtioDevice {
  // The queue pairs the card has, and those the driver may use (1 without F_MQ).
  private pairs: u32;
  private usable: u32 = 0;
  private receivers: Array<Virtqueue | null> = [];
  private transmitters: Transmitter[] = [];
  private control: NetControl = new NetControl();
  private controlQueue: Virtqueue | null = null;
  private steering: FlowSteering = new FlowSteering();
  private mergeable: bool = false;
  private negotiated: u64 = 0;
  // A received frame's chains taken through the walk (receive()): the
  // first one's kept for num_buffers.
  private firstChain: Chain = new Chain(CHAIN_BUFFERS);
  private otherChain: Chain = new Chain(CHAIN_BUFFERS);
  readonly resume!: Deferred;
  private config: Uint8Array = new Uint8Array(<i32>CONFIG_SIZE);
  // A frame on its way out as its chain holds it, its header before its
  // bytes, so that one copy reads both (transmit()): the header, the frame
  // and where its bytes beyond the switch's reading are. The header of one
  // on its way in.
  private outgoingBytes: Uint8Array = new Uint8Array(NET_HEADER_BYTES + MAX_LARGE_FRAME);
  private header!: Uint8Array;
  private outgoing!: Frame;
  private incomingHeader: Uint8Array = new Uint8Array(NET_HEADER_BYTES);
  // The frame on its way in (startIncoming()): the frame, its bytes the
  // switch holds, all the driver gets, and a walk over the sender's
  // buffers for the rest.
  private incoming: Frame = new Frame(new Uint8Array(0));
  private incomingHeld: i32 = 0;
  private incomingTotal: u64 = 0;
  private restRuns: Runs = new Runs();

  // `port`: this NIC's place in `net`, which it takes over from the NIC
  // of the VM's previous boot, if any; a queue pair for each of `vcpus`,
  // and with several a control queue after them.
  constructor(private port: VmPort, private net: VirtualSwitch, vcpus: u32) {
    const pairs = max<u32>(1, min(vcpus, MAX_PAIRS));
    super(NET_ID, "net", pairs > 1 ? 2 * pairs + 1 : 2, QUEUE_SIZE);
    this.pairs = pairs;
    this.header = this.outgoingBytes.subarray(0, NET_HEADER_BYTES);
    this.outgoing = new Frame(this.outgoingBytes.subarray(NET_HEADER_BYTES));
    for (let p: u32 = 0; p < pairs; p++) {
      this.receivers.push(null);
      this.transmitters.push(new Transmitter());
    }
    writeLittleEndian(this.config, NET_STATUS_AT, 2, NET_S_LINK_UP);
    writeLittleEndian(this.config, NET_PAIRS_AT, 2, pairs);
    // The address's first octet first (5.1.4: mac is in network order).
    for (let i = 0; i < 6; i++) this.config[NET_MAC_AT + i] = <u8>(port.mac >> (<u64>(5 - i) * 8));
    this.resume = new NetResume(this);
    port.receiver = new NetReceiver(this);
    port.readsSources = true;
  }

  get features(): u64 {
    return this.pairs > 1 ? OFFERED | MULTIQUEUE : OFFERED;
  }
  // No indirect descriptors (2.7.5.3): the card serves a kick at once, so
  // its rings never hold more than a few chains, and a table of their own
  // would only cost Linux an allocation (zeroed, in Debian's kernel) and a
  // free for every frame of more than one buffer it sends, and the card a
  // look-up of the table. A ring of 256 descriptors holds 13 of the
  // largest frames Linux sends, each in 19 buffers at most.
  get transportFeatures(): u64 {
    return TRANSPORT_FEATURES & ~F_INDIRECT_DESC;
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
    this.negotiated = features;
    this.mergeable = (features & NET_F_MRG_RXBUF) != 0;
    // Partial checksums and whole segments reach the driver only if it
    // takes them (5.1.6.4); TSO without the checksum it needs does not count (5.1.3.1).
    const guestCsum = (features & NET_F_GUEST_CSUM) != 0;
    this.port.takesPartialChecksum = guestCsum;
    this.port.takesSegments4 = guestCsum && (features & NET_F_GUEST_TSO4) != 0;
    this.port.takesSegments6 = guestCsum && (features & NET_F_GUEST_TSO6) != 0;
    // Beyond the first pair only with both features (5.1.3.1: F_MQ
    // requires F_CTRL_VQ); the control queue follows the pairs the driver
    // may use (5.1.2).
    const control = (features & NET_F_CTRL_VQ) != 0, multiqueue = control && (features & NET_F_MQ) != 0;
    this.usable = multiqueue ? this.pairs : 1;
    for (let p: u32 = 0; p < this.usable; p++) {
      this.receivers[p] = queues[2 * p + RECEIVE];
      this.transmitters[p].queue = queues[2 * p + TRANSMIT];
    }
    this.controlQueue = control ? queues[this.controlIndex] : null;
    this.control.reset(this.usable);
    this.steering.forget();
    for (let p: u32 = 0; p < this.usable; p++) this.transmit(p);
  }

  reset(): void {
    for (let p = 0; p < this.receivers.length; p++) {
      this.receivers[p] = null;
      this.transmitters[p].queue = null;
      this.transmitters[p].held = false;
    }
    this.usable = 0;
    this.controlQueue = null;
    this.control.reset(1);
    this.port.takesPartialChecksum = this.port.takesSegments4 = this.port.takesSegments6 = false;
  }

  // The control queue's index: after the pairs the driver may use (5.1.2).
  private get controlIndex(): u32 {
    return 2 * this.usable;
  }

  // New receive buffers need nothing now: frames that found none were dropped.
  notified(index: u32): void {
    if (index == this.controlIndex) this.serveControl();
    else if ((index & 1) == TRANSMIT && index < 2 * this.usable) this.transmit(index >> 1);
  }

  // When the first frame held back may go, or NOT_DUE: all wait for one budget.
  get resumeAt(): u64 {
    // usable <= pairs, the transmitters' count.
    for (let p: u32 = 0; p < this.usable; p++) {
      if (unchecked(this.transmitters[p]).held) return this.port.shaper.nextStart;
    }
    return NOT_DUE;
  }

  // Sends the frames held back, now that the budget may allow them.
  resumeTransmit(): void {
    for (let p: u32 = 0; p < this.usable; p++) {
      if (this.transmitters[p].held) this.transmit(p);
    }
  }

  // Sends every frame waiting on pair `pair`'s transmit queue, then asks
  // for the next kick (2.7.10); one interrupt for the lot, if the driver
  // wants one.
  private transmit(pair: u32): void {
    const t = this.transmitters[pair], q = t.queue;
    if (q === null || q.error !== null) return;
    const chain = t.chain, shaper = this.port.shaper, steered = this.control.active > 1;
    let sent = false;
    q.suppressNotifications();
    do {
      while (t.held || q.pop(chain)) {
        if (chain.readableBytes < <u64>NET_HEADER_BYTES) {
          this.signals!.needsReset("transmitq: a frame without its virtio_net_hdr");
          return;
        }
        const length = chain.readableBytes - <u64>NET_HEADER_BYTES;
        t.held = shaper.capped && !shaper.admit(length, rdtsc(), tscPerMillisecond());
        if (t.held) break;
        // Only the bytes the switch reads, the rest when it needs them or
        // straight into a receiving VM's buffers (frame.ts). A frame longer
        // than one can be is never read whole: the switch drops it by its length.
        const frame = this.outgoing;
        const read = chain.readBytes(0, this.outgoingBytes, 0, NET_HEADER_BYTES + HEADERS_READ);
        frame.length = <i32>min(length, <u64>i32.MAX_VALUE);
        frame.hold(read - NET_HEADER_BYTES, t.source);
        if (this.readWork(frame)) {
          if (steered) this.steering.sent(frame, pair);
          this.net.sendFrame(this.port, frame, rdtsc(), tscPerMillisecond());
        } else {
          this.port.refuse(Drop.BadOffload, length);
        }
        q.push(chain.head, 0);
        sent = true;
      }
    } while (!t.held && q.armNotification());
    if (t.held) this.resume.movedEarlier();
    if (q.error !== null) this.signals!.needsReset("transmitq: " + q.error!);
    else if (sent && q.needsInterrupt()) this.signals!.usedBuffers(2 * pair + TRANSMIT);
  }

  // Answers the driver's commands, and interrupts it if it wants that.
  private serveControl(): void {
    const q = this.controlQueue;
    if (q === null || q.error !== null) return;
    const why = this.control.serve(q);
    if (why !== null) this.signals!.needsReset("controlq: " + why);
    else if (q.needsInterrupt()) this.signals!.usedBuffers(this.controlIndex);
  }

  // The work the transmit header asks of the device (5.1.6.2), into
  // `frame`; false if it asks for an offload not negotiated, a segment of
  // no size, or headers beyond the frame. hdr_len is otherwise only a
  // hint the device must not rely on (5.1.6.2.2): the switch finds the
  // headers itself.
  private readWork(frame: Frame): bool {
    const h = this.header, features = this.negotiated, gsoType = h[NET_HDR_GSO_TYPE_AT];
    frame.partialChecksum = (h[NET_HDR_FLAGS_AT] & NET_HDR_F_NEEDS_CSUM) != 0;
    frame.checksumStart = <i32>headerField(h, NET_HDR_CSUM_START_AT);
    frame.checksumOffset = <i32>headerField(h, NET_HDR_CSUM_OFFSET_AT);
    frame.segmentSize = gsoType == NET_HDR_GSO_NONE ? 0 : <i32>headerField(h, NET_HDR_GSO_SIZE_AT);
    frame.segmentIpv6 = gsoType == NET_HDR_GSO_TCPV6;
    if (frame.partialChecksum && (features & NET_F_CSUM) == 0) return false;
    if (gsoType == NET_HDR_GSO_NONE) return true;
    const offered = gsoType == NET_HDR_GSO_TCPV4
      ? (features & NET_F_HOST_TSO4) != 0
      : gsoType == NET_HDR_GSO_TCPV6 && (features & NET_F_HOST_TSO6) != 0;
    return offered && frame.segmentSize != 0 && <i32>headerField(h, NET_HDR_HDR_LEN_AT) <= frame.length;
  }

  // Writes a frame from the switch into the driver's receive buffers
  // (5.1.6.4): the header, num_buffers in it, then the frame, over as many
  // chains as it takes. False if the driver had too few buffers offered.
  // Each chain is filled and placed in the used ring as it is taken, and
  // all are published at the end; a frame that does not fit gives back
  // those it filled, which the driver never saw used.
  receive(frame: Frame): bool {
    const active = this.control.active, pair = active > 1 ? this.steering.receiving(frame, active) : 0;
    if (pair >= this.usable) return false;
    const q = this.receivers[pair];
    if (q === null || q.error !== null) return false;
    const total = <u64>(NET_HEADER_BYTES + frame.length), most = this.mergeable ? MAX_MERGED : 1;
    this.startIncoming(frame);
    let chains = 0, filled: u64 = 0, firstHost: i64 = -1;
    const heldEnd = <u64>(NET_HEADER_BYTES + this.incomingHeld);
    while (filled < total && chains < most) {
      let host: i64 = -1;
      if (filled >= heldEnd) {
        // The rest, a large frame's most, is all in the sender's buffers
        // (startIncoming()); mostly into lone buffers, which fillBuffers()
        // takes while there are.
        filled += q.fillBuffers(this.restRuns, total - filled, <u32>(most - chains));
        chains += q.filledCount;
        if (filled >= total || chains >= most) break;
      } else host = q.takeBuffer();
      // The first chain (the header, the bytes held), a chain of another
      // kind than a lone buffer (host -1: pop() walks it), or none.
      const placed = this.receiveChain(q, host, chains, filled);
      if (placed == GAVE_BACK) return false;
      if (placed == NO_CHAIN) break;
      if (chains == 0) firstHost = host;
      filled += <u64>placed;
      chains++;
    }
    if (q.error !== null) return this.giveBack(q, chains, q.error);
    if (filled < total) {
      // Without NET_F_MRG_RXBUF every buffer must hold the largest frame
      // (5.1.6.3.1); the one chain taken is full.
      const tooSmall = !this.mergeable && chains > 0;
      return this.giveBack(
        q,
        chains,
        tooSmall ? "a buffer of " + filled.toString() + " bytes, too small for a frame" : null,
      );
    }
    // num_buffers, known only now, into the header the first chain holds.
    const h = this.incomingHeader;
    setHeaderField(h, NET_HDR_NUM_BUFFERS_AT, chains);
    if (firstHost >= 0) {
      copyHostLinear(<u64>firstHost + NET_HDR_NUM_BUFFERS_AT, h.dataStart + NET_HDR_NUM_BUFFERS_AT, 2, true);
    } else this.firstChain.writeBytes(NET_HDR_NUM_BUFFERS_AT, h, NET_HDR_NUM_BUFFERS_AT, 2);
    q.publish();
    if (q.needsInterrupt()) this.signals!.usedBuffers(2 * pair + RECEIVE);
    return true;
  }

  // The frame's next chain, the `chains`th, from byte `filled` on: the
  // buffer takeBuffer() took at `host`, or with `host` -1 the chain pop()
  // takes, filled (fill()) and placed in the used ring. Returns its bytes,
  // NO_CHAIN if the ring has none, or GAVE_BACK if the chain broke a rule.
  private receiveChain(q: Virtqueue, host: i64, chains: i32, filled: u64): i64 {
    const chain = chains == 0 ? this.firstChain : this.otherChain;
    let head: u16 = 0, writable: u64 = 0, n: u64 = 0;
    if (host >= 0) {
      head = q.takenHead;
      writable = <u64>q.takenLen; // not 0: takeBuffer() takes no empty buffer
    } else if (q.pop(chain)) {
      head = chain.head;
      writable = chain.writableBytes;
    } else return NO_CHAIN;
    // The header goes whole into the first buffer chain (5.1.6.3.1).
    if (writable == 0 || (chains == 0 && writable < <u64>NET_HEADER_BYTES)) {
      this.giveBack(q, chains, "a buffer of " + writable.toString() + " bytes");
      return GAVE_BACK;
    }
    // Its one buffer, or a walked chain's writable ones, in order.
    const walked = host < 0, end = walked ? chain.count : 1;
    for (let i = walked ? chain.readableCount : 0; i < end; i++) {
      n += this.fill(walked ? chain.host(i) : <u64>host, walked ? <u64>chain.len(i) : writable, filled + n);
    }
    q.place(head, <u32>n);
    return <i64>n;
  }

  // A frame not received after all: the `chains` placed for it taken out
  // of the used ring, unseen by the driver. Without `why` they are offered
  // again for the next frame; with it the driver broke a rule, and the
  // device needs a reset.
  private giveBack(q: Virtqueue, chains: i32, why: string | null): bool {
    q.unplace(<u16>chains);
    if (why === null) q.unpop(<u16>chains);
    else this.signals!.needsReset("receiveq: " + why);
    return false;
  }

  // What the driver gets for `frame`, as fill() writes it: the header
  // (writeHeader()), then the frame's bytes the switch holds, then any
  // still in the sender's buffers, copied from there.
  private startIncoming(frame: Frame): void {
    this.writeHeader(frame);
    this.incoming = frame;
    let rest: Chain | null = null;
    if (frame.source instanceof ChainSource) rest = (<ChainSource>frame.source).chain;
    else frame.fetch();
    this.incomingHeld = rest !== null ? frame.held : frame.length;
    this.incomingTotal = <u64>(NET_HEADER_BYTES + frame.length);
    // Both headers are NET_HEADER_BYTES long: the frame's byte `held` is
    // as far into the sender's chain as into what the driver gets.
    if (rest !== null) this.restRuns.readable(rest, <u64>(NET_HEADER_BYTES + this.incomingHeld));
  }

  // Writes into the driver's buffer of `len` bytes at host address `host`
  // what it gets from byte `from` on (startIncoming()); returns how many.
  private fill(host: u64, len: u64, from: u64): u64 {
    const end = min(from + len, this.incomingTotal), heldEnd = <u64>(NET_HEADER_BYTES + this.incomingHeld);
    let at = from;
    if (at < <u64>NET_HEADER_BYTES) {
      const n = min(end, <u64>NET_HEADER_BYTES) - at;
      copyHostLinear(host, this.incomingHeader.dataStart + <usize>at, n, true);
      at += n;
    }
    if (at < heldEnd && at < end) {
      const n = min(end, heldEnd) - at;
      copyHostLinear(host + (at - from), this.incoming.bytes.dataStart + <usize>(at - NET_HEADER_BYTES), n, true);
      at += n;
    }
    if (at < end) at += this.restRuns.copyTo(host + (at - from), end - at);
    return at - from;
  }

  // The header of a received frame, into `incomingHeader`: the work left
  // in it, which the switch leaves only for a driver that takes it
  // (5.1.6.4); num_buffers is written once the chains are known.
  private writeHeader(frame: Frame): void {
    const h = this.incomingHeader;
    h.fill(0, 0, NET_HEADER_BYTES);
    if (frame.partialChecksum) {
      h[NET_HDR_FLAGS_AT] = NET_HDR_F_NEEDS_CSUM;
      setHeaderField(h, NET_HDR_CSUM_START_AT, frame.checksumStart);
      setHeaderField(h, NET_HDR_CSUM_OFFSET_AT, frame.checksumOffset);
    }
    if (frame.segmentSize != 0) {
      h[NET_HDR_GSO_TYPE_AT] = frame.segmentIpv6 ? NET_HDR_GSO_TCPV6 : NET_HDR_GSO_TCPV4;
      setHeaderField(h, NET_HDR_HDR_LEN_AT, segmentHeaders(frame));
      setHeaderField(h, NET_HDR_GSO_SIZE_AT, frame.segmentSize);
    }
  }
}

// One transmit queue, and the chain of the frame in hand from it, which
// may wait for the port's byte budget.
class Transmitter {
  queue: Virtqueue | null = null;
  chain: Chain = new Chain(CHAIN_BUFFERS);
  source: ChainSource = new ChainSource(this.chain);
  held: bool = false;
}

// The bytes of the frame in hand beyond those the switch reads: still in
// the transmit chain, behind the header.
class ChainSource extends FrameSource {
  constructor(readonly chain: Chain) {
    super();
  }
  read(bytes: Uint8Array, from: i32, count: i32): void {
    this.chain.readBytes(<u64>(NET_HEADER_BYTES + from), bytes, from, count);
  }
}

// The switch's side of the device: frames for this NIC.
class NetReceiver extends FrameReceiver {
  constructor(private nic: VirtioNet) {
    super();
  }
  receive(frame: Frame): bool {
    return this.nic.receive(frame);
  }
}

// A 2-byte field of a virtio_net_hdr in one of the device's own buffers
// of NET_HEADER_BYTES, whose offsets all lie inside it: one load or store,
// as the header's fields are little-endian like WebAssembly's memory
// (5.1.6; its spec, 4.2.8). A frame's path reads or writes several.
function headerField(h: Uint8Array, at: i32): u32 {
  return <u32>load<u16>(h.dataStart + <usize>at);
}
function setHeaderField(h: Uint8Array, at: i32, value: i32): void {
  store<u16>(h.dataStart + <usize>at, <u16>value);
}

// receiveChain()'s answers besides a chain's bytes.
const NO_CHAIN: i64 = -1;
const GAVE_BACK: i64 = -2;

class NetResume extends Deferred {
  constructor(private nic: VirtioNet) {
    super();
  }
  get dueAt(): u64 {
    return this.nic.resumeAt;
  }
  run(): void {
    this.nic.resumeTransmit();
  }
}
