// A port of the virtual switch (switch.ts): the VLANs it carries, what it
// has dropped and why, and where the frames the switch forwards to it go.
//
// A port is an access port, on one VLAN, whose frames travel untagged
// (the switch adds and strips the tag at its edge), or a trunk, whose
// frames carry an 802.1Q tag naming one of its VLANs. Every port has a
// broadcast budget: group frames beyond it are dropped, so one VM flooding
// broadcasts cannot keep the switch and the other VMs busy with them.
// VmPort is the port of a VM's NIC; the uplink to the host's NIC
// (uplink.ts) is the other kind of SwitchPort.

import * as log from "../../kernel/console/log";
import { Meter, Total } from "../core/meter";
import { IoBudget } from "../storage/budget";
import { DEFAULT_VLAN, formatMac } from "./ethernet";
import { Frame } from "./frame";

// Why a frame was dropped; each port counts them apart.
export enum Drop {
  // Shorter than a header or longer than MAX_FRAME, or a group source address.
  Malformed = 0,
  // A VM sent with a source address that is not its NIC's.
  Spoofed = 1,
  // Tagged on an access port, untagged on a trunk, or a VLAN the port does not carry.
  Vlan = 2,
  // A broadcast or multicast over the port's broadcast budget.
  BroadcastLimit = 3,
  // The receiving NIC had no room (or no driver) for it.
  QueueFull = 4,
  // Its NIC was asked for a checksum or segmentation it does not offer,
  // or one beyond the frame or not of a TCP/IPv4 or TCP/IPv6 segment
  // (offload.ts).
  BadOffload = 5,
}
export const DROP_KINDS: i32 = 6;
const DROP_NAMES: string[] = ["malformed", "spoofed", "vlan", "broadcast limit", "queue full", "bad offload"];
// The same, as the management API's causes (core/meter.ts).
const DROP_CAUSES: string[] = ["malformed", "spoofed", "vlan", "broadcast_limit", "queue_full", "bad_offload"];

// Group frames a port may send per second, beyond 50 ms of burst (budget.ts).
export const BROADCASTS_PER_SECOND: u32 = 1000;

export abstract class SwitchPort {
  // Frames the port brought into the switch, and frames the switch gave it,
  // with their bytes (802.1Q tags included, on a trunk).
  sent: u64 = 0;
  received: u64 = 0;
  sentBytes: u64 = 0;
  receivedBytes: u64 = 0;
  readonly drops: StaticArray<u64> = new StaticArray<u64>(DROP_KINDS);
  readonly broadcasts: IoBudget = new IoBudget(BROADCASTS_PER_SECOND, 0);
  // Whether frames may reach the port with their checksum partial, or as
  // segments to cut (frame.ts); if not, the switch does that work first.
  takesPartialChecksum: bool = false;
  takesSegments4: bool = false;
  takesSegments6: bool = false;
  // Whether deliver() takes a frame with bytes still at its source (frame.ts).
  readsSources: bool = false;
  // Its number in the switch (VirtualSwitch.connect()), -1 while not connected.
  index: i32 = -1;

  // Whether `frame`, a segment to cut, may reach the port whole.
  takesSegment(frame: Frame): bool {
    return frame.segmentIpv6 ? this.takesSegments6 : this.takesSegments4;
  }

  // `vlans`: the VLAN of an access port, or a trunk's list; `tagged`: a trunk.
  constructor(readonly vlans: u16[], readonly tagged: bool) {}

  carries(vlan: u16): bool {
    return this.vlans.includes(vlan);
  }

  // The only source address the port may send with, or NO_MAC for any.
  abstract get sourceMac(): u64;

  // A frame for the port, tagged if the port is a trunk, with no work left
  // that the port does not take; false if it had no room.
  abstract deliver(frame: Frame): bool;

  // "VLAN 10" or "trunk 10,20"
  describeVlans(): string {
    return (this.tagged ? "trunk " : "VLAN ") + this.vlans.join(",");
  }

  drop(why: Drop): void {
    this.drops[<i32>why]++;
  }

  // A frame of `length` bytes the port sent that its own NIC refused.
  refuse(why: Drop, length: u64): void {
    this.sent++;
    this.sentBytes += length;
    this.drop(why);
  }

  // "sent 10, received 12, dropped 3 (spoofed 2, queue full 1)"
  describe(): string {
    let total: u64 = 0, detail = "";
    for (let i = 0; i < DROP_KINDS; i++) {
      const n = this.drops[i];
      if (n == 0) continue;
      detail += (detail.length > 0 ? ", " : "") + DROP_NAMES[i] + " " + n.toString();
      total += n;
    }
    const dropped = total == 0 ? "" : ", dropped " + total.toString() + " (" + detail + ")";
    return "sent " + this.sent.toString() + ", received " + this.received.toString() + dropped;
  }
}

export const NO_MAC: u64 = u64.MAX_VALUE;

// A port whose frames arrive from outside the hypervisor (the uplink,
// uplink.ts), which nothing announces: the switch polls it.
export abstract class PolledPort extends SwitchPort {
  // Takes what has arrived into the switch. `now` is the TSC, at `tscPerMs` a millisecond.
  abstract poll(now: u64, tscPerMs: u64): void;
}

// The VLANs of a port as the configuration gives them: a NIC's
// (setup/config/nics.ts), or the uplink's (setup/config/uplink.ts).
export class PortVlans {
  // An access port's one VLAN, or a trunk's list.
  vlans: u16[] = [DEFAULT_VLAN];
  trunk: bool = false;
}

// Where a VM port's frames go: its NIC's receive queue (devices/virtio/net.ts).
export abstract class FrameReceiver {
  // Whether the frame found room in the guest's buffers.
  abstract receive(frame: Frame): bool;
}

// The port of one VM's NIC. The NIC is replaced when the VM restarts; the
// port, its counters and its place in the switch stay.
export class VmPort extends SwitchPort {
  receiver: FrameReceiver | null = null;
  // The NIC's transmit cap in bytes per second (0: none), which the NIC
  // applies by holding its queue until the budget allows the next frame.
  readonly shaper: IoBudget;

  constructor(readonly mac: u64, vlans: u16[], tagged: bool, bytesPerSecond: u64) {
    super(vlans, tagged);
    this.shaper = new IoBudget(0, bytesPerSecond);
  }

  // "VLAN 10, 1 MiB/s": its VLANs and its cap.
  describeCard(): string {
    const cap = this.shaper.bytesPerSecond;
    return this.describeVlans() + (cap != 0 ? ", " + log.size(cap) + "/s" : "");
  }

  get sourceMac(): u64 {
    return this.mac;
  }

  deliver(frame: Frame): bool {
    const r = this.receiver;
    return r !== null && r.receive(frame);
  }
}

// A VM port's counters for the management API, under its NIC's MAC address.
export class PortMeter extends Meter {
  constructor(private port: VmPort) {
    super("nic", formatMac(port.mac), port.describeCard());
  }

  totals(): Total[] {
    const p = this.port;
    const totals = [
      new Total("frames_sent", p.sent),
      new Total("bytes_sent", p.sentBytes),
      new Total("frames_received", p.received),
      new Total("bytes_received", p.receivedBytes),
    ];
    for (let i = 0; i < DROP_KINDS; i++) totals.push(new Total("frames_dropped", p.drops[i], DROP_CAUSES[i]));
    return totals;
  }
}
