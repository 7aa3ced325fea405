// The virtual switch's uplink: a port whose frames come from and go to the
// host's Ethernet controller (an 8254x, e1000/controller.ts), so that the
// VMs reach the network the host is on.
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
import { driverRegisters } from "../../kernel/pci/driverregisters";
import { PciFunction } from "../../kernel/pci/functions";
import { E1000, E1000_BAR, isE1000 } from "./e1000/controller";
import { BAD_FRAME, NO_FRAME } from "./e1000/receivering";
import { RX_BUFFER_BYTES } from "./e1000/registers";
import { formatMac } from "./ethernet";
import { Drop, NO_MAC, PolledPort, PortVlans } from "./port";
import { VirtualSwitch } from "./switch";

// Enough for a burst, little enough that one poll stays short (each frame
// is a copy and a switch decision, a few microseconds).
export const POLL_FRAMES: i32 = 32;

export class UplinkPort extends PolledPort {
  private frame: Uint8Array = new Uint8Array(RX_BUFFER_BYTES);

  constructor(readonly nic: E1000, private net: VirtualSwitch, vlans: u16[], tagged: bool) {
    super(vlans, tagged);
  }

  get sourceMac(): u64 {
    return NO_MAC;
  }

  deliver(frame: Uint8Array, length: i32): bool {
    return this.nic.transmit(frame, length);
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
// have all stopped, if there is an uplink.
export function reportUplink(): void {
  const u = uplink;
  if (u !== null) log.info("uplink: " + u.describe());
}

// Starts the first 8254x among the host's PCI `functions` as the uplink of
// `net` that `config` asks for (null: none); one log line says what came of it.
export function startUplink(config: PortVlans | null, functions: PciFunction[], net: VirtualSwitch): void {
  let f: PciFunction | null = null;
  for (let i = 0; i < functions.length && f === null; i++) if (isE1000(functions[i])) f = functions[i];
  if (f === null) {
    const line = "uplink: none; the host has no e1000 (an Intel 82540EM or a relative)";
    if (config !== null) log.warn(line + ", so the configured uplink is left out");
    else log.info(line);
    return;
  }
  const name = "e1000 " + f.name;
  if (config === null) {
    log.info("uplink: none configured; " + name + " is left alone");
    return;
  }
  const registers = driverRegisters(f, E1000_BAR, name);
  if (registers == 0) return;
  const nic = new E1000(f, registers);
  if (!nic.start()) return;
  const port = new UplinkPort(nic, net, config.vlans, config.trunk);
  net.connectUplink(port);
  uplink = port;
  log.info(
    "uplink: " + name + ", " + formatMac(nic.mac) + ", " + port.describeVlans() + ", link "
      + (nic.linkUp ? "up" : "not up yet"),
  );
}
