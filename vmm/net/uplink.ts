// The virtual switch's uplink: a port whose frames come from and go to the
// host's Ethernet controller (hostnic.ts: an 8254x, e1000/controller.ts, or
// a virtio network device, virtionet/controller.ts), so that the VMs reach
// the network the host is on.
//
// The uplink is an access port or a trunk like a VM's (port.ts), with the
// VLANs the configuration gives it ("uplink" in config/uplink.ts): an
// access uplink's frames are untagged on the wire, a trunk's carry their
// 802.1Q tag. Any source address may come from the wire (the machines
// behind it), so it has no anti-spoofing; its broadcast budget is a VM
// port's.
//
// Nothing interrupts the hypervisor when a frame arrives: the receive ring
// is polled (docs/network.md, "The uplink"). poll() takes at most
// POLL_FRAMES frames into the switch each time; it runs on CPU 0 every
// millisecond, with the console's input (sched/scheduler.ts), and after
// every frame a VM sends (switch.ts), the moment an answer is likeliest.
// Frames the switch gives the uplink go to the transmit ring; when it is
// full they are dropped and counted as "queue full".

import * as log from "../../kernel/console/log";
import { PciFunction } from "../../kernel/pci/functions";
import { E1000, isE1000 } from "./e1000/controller";
import { formatMac } from "./ethernet";
import { Frame } from "./frame";
import { BAD_FRAME, FRAME_BUFFER_BYTES, HostNic, NO_FRAME } from "./hostnic";
import { Drop, NO_MAC, PolledPort, PortVlans } from "./port";
import { VirtualSwitch } from "./switch";
import { isVirtioNet, VirtioNet } from "./virtionet/controller";

// Enough for a burst, little enough that one poll stays short (each frame
// is a copy and a switch decision, a few microseconds).
export const POLL_FRAMES: i32 = 32;

export class UplinkPort extends PolledPort {
  private frame: Uint8Array = new Uint8Array(FRAME_BUFFER_BYTES);

  constructor(readonly nic: HostNic, private net: VirtualSwitch, vlans: u16[], tagged: bool) {
    super(vlans, tagged);
  }

  get sourceMac(): u64 {
    return NO_MAC;
  }

  deliver(frame: Frame): bool {
    return this.nic.transmit(frame.bytes, frame.length);
  }

  // Takes up to POLL_FRAMES received frames into the switch.
  poll(now: u64, tscPerMs: u64): void {
    const nic = this.nic;
    for (let i = 0; i < POLL_FRAMES; i++) {
      const length = nic.receive(this.frame);
      if (length == NO_FRAME) break;
      if (length == BAD_FRAME) {
        this.sent++;
        this.drop(Drop.Malformed);
      } else this.net.send(this, this.frame, length, now, tscPerMs);
    }
    nic.doneReceiving();
  }
}

// The host's uplink, once started: the scheduler polls it.
let uplink: UplinkPort | null = null;

export function hasUplink(): bool {
  return uplink !== null;
}

export function pollUplink(now: u64, tscPerMs: u64): void {
  const u = uplink;
  if (u !== null) u.poll(now, tscPerMs);
}

// "uplink: sent 10, received 12, dropped 1 (queue full 1)" when the VMs
// have all stopped, if there is an uplink; and what its device did wrong.
export function reportUplink(): void {
  const u = uplink;
  if (u === null) return;
  const faults = u.nic.faults;
  log.info("uplink: " + u.describe() + (faults != 0 ? "; " + faults.toString() + " device faults skipped" : ""));
}

// A driver for `f` if it is a NIC one of them takes, not yet started.
function hostNicAt(f: PciFunction): HostNic | null {
  if (isE1000(f)) return new E1000(f);
  if (isVirtioNet(f)) return new VirtioNet(f);
  return null;
}

// Starts the first NIC among the host's PCI `functions` that a driver takes
// as the uplink of `net` that `config` asks for (null: none); one log line
// says what came of it.
export function startUplink(config: PortVlans | null, functions: PciFunction[], net: VirtualSwitch): void {
  let nic: HostNic | null = null;
  for (let i = 0; i < functions.length && nic === null; i++) nic = hostNicAt(functions[i]);
  if (nic === null) {
    const line = "uplink: none; the host has no e1000 (an Intel 82540EM or a relative) nor virtio-net";
    if (config !== null) log.warn(line + ", so the configured uplink is left out");
    else log.info(line);
    return;
  }
  if (config === null) {
    log.info("uplink: none configured; " + nic.name + " is left alone");
    return;
  }
  if (!nic.start()) return;
  const port = new UplinkPort(nic, net, config.vlans, config.trunk);
  net.connectUplink(port);
  uplink = port;
  log.info(
    "uplink: " + nic.name + ", " + formatMac(nic.mac) + ", " + port.describeVlans() + ", link "
      + (nic.linkUp ? "up" : "not up yet"),
  );
}
