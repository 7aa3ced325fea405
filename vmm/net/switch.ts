// The virtual switch: a learning Ethernet bridge (IEEE 802.1Q) whose ports
// are the VMs' NICs (port.ts) and, if the configuration asks for one, the
// host's Ethernet controller (uplink.ts); one per host, shared by every VM.
//
// A frame a port sends goes through the same steps every time:
//
//   1. sanity: at least a header, at most MAX_FRAME bytes (a segment to cut
//      up to 64 KiB), and, once any tag is out, any work its NIC left
//      (frame.ts) sound;
//   2. anti-spoofing: its source address is the port's own (a VM's NIC);
//   3. VLAN: an access port's frame must be untagged and belongs to the
//      port's VLAN; a trunk's must carry a tag naming one of its VLANs,
//      which is stripped here, so that inside the switch every frame is
//      untagged and travels with its VLAN beside it;
//   4. broadcast budget: a group destination costs the port one of its
//      broadcasts per second;
//   5. learning: the source address is now known to be behind this port;
//   6. forwarding: to the port the destination was learnt on, or, for a
//      group or unknown address, to every other port on the VLAN. A trunk
//      gets the frame with the VLAN's tag put back; a port that does not
//      take the work the frame's NIC left gets it done (offload.ts).
//
// A frame never leaves its VLAN, broadcasts included. Each refusal is
// counted on the port that caused it (port.ts, Drop). Everything happens
// at once, under the hypervisor lock (docs/smp.md): the receiving port
// writes the frame into its VM's RAM before send() returns. After a frame,
// the polled ports (the uplink's receive ring, the hypervisor's own
// address, net/ip/management.ts) are polled: an answer comes soonest after
// a question. A frame a polled port takes in while the switch polls
// polls no one: the ports are never polled from inside their own poll.

import {
  be16At,
  DESTINATION_AT,
  HEADER_SIZE,
  isGroup,
  macAt,
  SOURCE_AT,
  TAG_SIZE,
  TPID_8021Q,
  TYPE_AT,
} from "./ethernet";
import { Frame, MAX_LARGE_FRAME } from "./frame";
import { MacTable } from "./mactable";
import { completeChecksum, Segmenter, soundWork } from "./offload";
import { Drop, NO_MAC, PolledPort, SwitchPort } from "./port";

const VID_MASK: u32 = 0xfff;

export class VirtualSwitch {
  readonly ports: SwitchPort[] = [];
  readonly table: MacTable = new MacTable();
  uplink: PolledPort | null = null;
  // The ports send() polls: the uplink and the management port.
  readonly polled: PolledPort[] = [];
  private polling: bool = false;
  // The frame send() passes on; the frame as a trunk gets it, with its tag
  // put back; the frames a large segment is cut into.
  private plain: Frame = new Frame(new Uint8Array(0));
  private tagged: Frame = new Frame(new Uint8Array(MAX_LARGE_FRAME));
  private segmenter: Segmenter = new Segmenter();

  // Adds a port; its index names it in the table.
  connect(port: SwitchPort): void {
    port.index = this.ports.length;
    this.ports.push(port);
  }

  // Takes a port out (a destroyed VM's NIC). The ports after it move down
  // a number, so the table starts again: until it has learnt the addresses
  // anew, frames to them are flooded, which is slower but still correct.
  disconnect(port: SwitchPort): void {
    const at = this.ports.indexOf(port);
    if (at < 0) return;
    this.ports.splice(at, 1);
    port.index = -1;
    for (let i = at; i < this.ports.length; i++) this.ports[i].index = i;
    this.table.clear();
  }

  // Adds a port like the others that send() also polls.
  connectPolled(port: PolledPort): void {
    this.connect(port);
    this.polled.push(port);
  }

  // Adds the uplink, a polled port.
  connectUplink(port: PolledPort): void {
    this.connectPolled(port);
    this.uplink = port;
  }

  // Takes `length` bytes of `frame`, with no work left (frame.ts), from
  // port `from`. `now` is the TSC, at `tscPerMs` a millisecond.
  send(from: SwitchPort, frame: Uint8Array, length: i32, now: u64, tscPerMs: u64): void {
    this.sendFrame(from, this.plain.plain(frame, length), now, tscPerMs);
  }

  // Takes `frame` from port `from`, which it may change: a tag is stripped
  // in place, a partial checksum completed.
  sendFrame(from: SwitchPort, frame: Frame, now: u64, tscPerMs: u64): void {
    this.forwardFrom(from, frame, now, tscPerMs);
    if (this.polling) return;
    this.polling = true;
    const polled = this.polled;
    for (let i = 0; i < polled.length; i++) if (polled[i] !== from) polled[i].poll(now, tscPerMs);
    this.polling = false;
  }

  private forwardFrom(from: SwitchPort, frame: Frame, now: u64, tscPerMs: u64): void {
    const source = from.index;
    if (source < 0) return;
    const bytes = frame.bytes;
    let length = frame.length;
    from.sent++;
    from.sentBytes += <u64>length;
    const src = length >= HEADER_SIZE ? macAt(bytes, SOURCE_AT) : 0;
    if (length < HEADER_SIZE || length > frame.largest || isGroup(src)) {
      from.drop(Drop.Malformed);
      return;
    }
    if (from.sourceMac != NO_MAC && src != from.sourceMac) {
      from.drop(Drop.Spoofed);
      return;
    }
    const isTagged = be16At(bytes, TYPE_AT) == TPID_8021Q;
    if (isTagged != from.tagged) {
      from.drop(Drop.Vlan);
      return;
    }
    let vlan = from.vlans[0];
    if (isTagged) {
      vlan = <u16>(be16At(bytes, TYPE_AT + 2) & VID_MASK);
      // The tag's four bytes out: what follows moves down over them, the
      // offsets of the work left with it.
      frame.fetch();
      bytes.copyWithin(TYPE_AT, TYPE_AT + TAG_SIZE, length);
      frame.length = length -= TAG_SIZE;
      frame.takeWork(frame, -TAG_SIZE);
    }
    // Untagged, a frame has room for 1500 bytes of payload only (a segment
    // to cut, for one IPv4 packet).
    if (length < HEADER_SIZE || length > frame.largest - TAG_SIZE) {
      from.drop(Drop.Malformed);
      return;
    }
    if (!soundWork(frame)) {
      from.drop(Drop.BadOffload);
      return;
    }
    if (!from.carries(vlan)) {
      from.drop(Drop.Vlan);
      return;
    }
    const dst = macAt(bytes, DESTINATION_AT);
    if (isGroup(dst) && !from.broadcasts.admit(1, now, tscPerMs)) {
      from.drop(Drop.BroadcastLimit);
      return;
    }
    this.table.learn(vlan, src, source);
    const known = isGroup(dst) ? -1 : this.table.lookup(vlan, dst);
    if (known >= 0) {
      // A frame back to its own port is not sent (802.1Q, 8.6.1).
      if (known != source) this.forward(this.ports[known], frame, vlan);
      return;
    }
    for (let i = 0; i < this.ports.length; i++) {
      const port = this.ports[i];
      if (i != source && port.carries(vlan)) this.forward(port, frame, vlan);
    }
  }

  // Hands the untagged frame to `port`: a segment to cut whole if the port
  // takes it so, else cut into frames here.
  private forward(port: SwitchPort, frame: Frame, vlan: u16): void {
    if (frame.segmentSize == 0 || port.takesSegment(frame)) {
      this.deliver(port, frame, vlan);
      return;
    }
    const cut = this.segmenter;
    cut.start(frame);
    while (cut.next()) this.deliver(port, cut.segment, vlan);
  }

  // Hands `frame` to `port`, its checksum completed if the port does not
  // take it partial, and for a trunk tagged with `vlan` in a buffer kept
  // for it: this is an exit's path, which allocates nothing. Only a port
  // that copies from a frame's source gets a frame not whole.
  private deliver(port: SwitchPort, frame: Frame, vlan: u16): void {
    if (frame.partialChecksum && !port.takesPartialChecksum) completeChecksum(frame);
    if (port.tagged || !port.readsSources) frame.fetch();
    let out = frame;
    if (port.tagged) {
      out = this.tagged;
      const t = out.bytes, length = frame.length;
      memory.copy(t.dataStart, frame.bytes.dataStart, TYPE_AT);
      t[TYPE_AT] = <u8>(TPID_8021Q >> 8);
      t[TYPE_AT + 1] = <u8>TPID_8021Q;
      t[TYPE_AT + 2] = <u8>(vlan >> 8);
      t[TYPE_AT + 3] = <u8>vlan;
      memory.copy(t.dataStart + TYPE_AT + TAG_SIZE, frame.bytes.dataStart + TYPE_AT, length - TYPE_AT);
      out.length = length + TAG_SIZE;
      out.takeWork(frame, TAG_SIZE);
    }
    if (port.deliver(out)) {
      port.received++;
      port.receivedBytes += <u64>out.length;
    } else port.drop(Drop.QueueFull);
  }
}
