// Unit-test entry: the hypervisor's management port (vmm/net/ip/management.ts)
// on a switch with two VM ports, a on VLAN 1 and c on VLAN 2, whose NICs
// record what reaches them, and a polled port on VLAN 1 like the uplink. The test puts lwIP behind the shim's ip_*
// imports; it writes each frame into `frame` and sends it from a or c.

import { initConsole } from "../../../kernel/console/console";
import { MAX_FRAME } from "../../../vmm/net/ethernet";
import { Frame } from "../../../vmm/net/frame";
import { pollManagement, startManagement } from "../../../vmm/net/ip/management";
import { FrameReceiver, NO_MAC, PolledPort, VmPort } from "../../../vmm/net/port";
import { VirtualSwitch } from "../../../vmm/net/switch";
import { ManagementAddress } from "../../../vmm/net/ip/address";

// A NIC that keeps every frame it gets.
class Recorder extends FrameReceiver {
  frames: Uint8Array[] = [];
  receive(frame: Frame): bool {
    this.frames.push(frame.bytes.slice(0, frame.length));
    return true;
  }
}

const TSC_PER_MS: u64 = 1000;
const sw = new VirtualSwitch();

// A polled port like the uplink: its poll sends the frame the test queued;
// it notes a poll that begins inside its own.
class Wire extends PolledPort {
  queued: Uint8Array | null = null;
  frames: Uint8Array[] = [];
  depth: i32 = 0;
  reentered: bool = false;

  get sourceMac(): u64 {
    return NO_MAC;
  }

  deliver(frame: Frame): bool {
    this.frames.push(frame.bytes.slice(0, frame.length));
    return true;
  }

  poll(now: u64, tscPerMs: u64): void {
    if (this.depth > 0) this.reentered = true;
    this.depth++;
    const f = this.queued;
    this.queued = null;
    if (f !== null) sw.send(this, f, f.length, now, tscPerMs);
    this.depth--;
  }
}
const wire = new Wire([1], false);
const recorders: Recorder[] = [new Recorder(), new Recorder()];
const ports: VmPort[] = [];
const frame = new Uint8Array(MAX_FRAME);

export function frameBuffer(): Uint8Array {
  return frame;
}

// VM ports a (0, `macA`, VLAN 1) and c (1, `macC`, VLAN 2), then the
// management address 10.0.2.20/24 on VLAN 1.
export function start(macA: u64, macC: u64): void {
  initConsole();
  const macs: u64[] = [macA, macC];
  for (let i = 0; i < 2; i++) {
    const port = new VmPort(macs[i], [<u16>(i + 1)], false, 0);
    port.receiver = recorders[i];
    sw.connect(port);
    ports.push(port);
  }
  const config = new ManagementAddress();
  config.mac = 0x52_54_00_13_00_01;
  config.vlan = 1;
  config.address = 0x0a000214;
  config.netmask = 0xffffff00;
  startManagement(config, sw);
  sw.connectPolled(wire);
}

// The wire's next poll sends the first `length` bytes of `frame`.
export function queueOnWire(length: i32): void {
  wire.queued = frame.slice(0, length);
}

export function pollWire(now: u64): void {
  wire.poll(now, TSC_PER_MS);
}

export function wireReceivedCount(): i32 {
  return wire.frames.length;
}

export function wireReceived(i: i32): Uint8Array {
  return wire.frames[i];
}

export function wireReentered(): bool {
  return wire.reentered;
}

// VM `vm` sends the first `length` bytes of `frame` at TSC `now`.
export function sendFrom(vm: i32, length: i32, now: u64): void {
  sw.send(ports[vm], frame, length, now, TSC_PER_MS);
}

export function poll(now: u64): void {
  pollManagement(now, TSC_PER_MS);
}

export function receivedCount(vm: i32): i32 {
  return recorders[vm].frames.length;
}

export function received(vm: i32, i: i32): Uint8Array {
  return recorders[vm].frames[i];
}

// The management port's counters, "sent 1, received 2".
export function describe(): string {
  return sw.ports[2].describe();
}
