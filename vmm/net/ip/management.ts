// The hypervisor's own address on the virtual switch: a port whose frames
// go to and come from lwIP, a TCP/IP stack in a wasm instance of its own
// (linker/ipstack.c, docs/lwip.md), so that the hypervisor answers ping
// (and, later, a management protocol) at the configuration's "management"
// address (setup/config/management.ts).
//
// The port is an access port on one VLAN with its own MAC, which is the
// only source address it may send with; it hands lwIP the frames for that
// MAC and the broadcasts on its VLAN. lwIP never calls back: what it sends
// while it takes a frame in (an ARP answer, an echo reply) waits in its
// instance until poll() takes it into the switch. The switch polls the
// port after every frame it forwards (switch.ts), so an answer goes out
// before the question's send() returns; the scheduler polls it on CPU 0
// every millisecond too, which also runs lwIP's timers (ARP ageing, TCP
// retransmission). Everything here runs under the hypervisor lock
// (docs/smp.md): one CPU at a time is inside lwIP.

import { ipAddress, ipFailed, ipInput, ipNetmask, ipOutput, ipPoll, ipStart, rdtsc } from "../../../kernel/arch/shim";
import * as log from "../../../kernel/console/log";
import { DESTINATION_AT, macAt, MAX_FRAME } from "../ethernet";
import { Frame } from "../frame";
import { PolledPort } from "../port";
import { VirtualSwitch } from "../switch";
import { formatCidr, ManagementAddress } from "./address";
import { pollPing } from "./ping";

const BROADCAST_MAC: u64 = 0xffff_ffff_ffff;
// Enough for a burst of answers; one poll stays short.
const POLL_FRAMES: i32 = 16;

export class ManagementPort extends PolledPort {
  private frame: Uint8Array = new Uint8Array(MAX_FRAME);
  // With DHCP: whether the address it bound has been told.
  private leaseTold: bool;

  constructor(readonly mac: u64, vlan: u16, private net: VirtualSwitch, dhcp: bool) {
    super([vlan], false);
    this.leaseTold = !dhcp;
  }

  get sourceMac(): u64 {
    return this.mac;
  }

  // A frame for lwIP if it is for this port's MAC or a broadcast (others,
  // flooded unicasts and multicasts, are taken and ignored, as a NIC's
  // address filter would); false once lwIP has stopped after a trap.
  deliver(frame: Frame): bool {
    if (ipFailed()) return false;
    const dst = macAt(frame.bytes, DESTINATION_AT);
    if (dst == this.mac || dst == BROADCAST_MAC) ipInput(frame.bytes.dataStart, frame.length);
    return true;
  }

  // Runs lwIP's timers, then takes what it sent into the switch; says once
  // what address DHCP bound.
  poll(now: u64, tscPerMs: u64): void {
    ipPoll(<u32>(now / tscPerMs));
    for (let i = 0; i < POLL_FRAMES; i++) {
      const length = ipOutput(this.frame.dataStart, MAX_FRAME);
      if (length == 0) break;
      this.net.send(this, this.frame, length, now, tscPerMs);
    }
    if (this.leaseTold) return;
    const address = ipAddress();
    if (address == 0) return;
    this.leaseTold = true;
    log.info("management: DHCP gave " + formatCidr(address, ipNetmask()));
  }
}

let management: ManagementPort | null = null;

export function hasManagement(): bool {
  return management !== null;
}

// Runs lwIP's timers and takes what it sent; the scheduler calls it on CPU 0.
export function pollManagement(now: u64, tscPerMs: u64): void {
  const m = management;
  if (m === null) return;
  m.poll(now, tscPerMs);
  pollPing(now, tscPerMs);
}

// "management: sent 3, received 5" when the VMs have all stopped, if there is one.
export function reportManagement(): void {
  const m = management;
  if (m !== null) log.info("management: " + m.describe());
}

// Starts lwIP with the address `config` asks for (null: none) and joins it
// to `net`; one log line says what came of it.
export function startManagement(config: ManagementAddress | null, net: VirtualSwitch): void {
  if (config === null) return;
  // The TSC seeds lwIP's initial sequence numbers and ports.
  if (!ipStart(config.mac, config.address, config.netmask, config.gateway, <u32>rdtsc())) {
    log.error("management: lwIP did not start; the hypervisor has no address");
    return;
  }
  const port = new ManagementPort(config.mac, config.vlan, net, config.dhcp);
  net.connectPolled(port);
  management = port;
  log.info("management: " + config.describe());
}
