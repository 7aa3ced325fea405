// Unit-test entry: the switch's uplink (vmm/net/uplink.ts) on a host NIC
// driver (vmm/net/e1000/, vmm/net/virtionet/), against the fake 82540EM or
// virtio network device the test puts behind the shim. A switch with the
// uplink and one VM port whose NIC records what reaches it; the test sends
// frames from the VM (written byte by byte into `frame`) and polls frames
// in from the fake's wire.

import { initConsole } from "../../../kernel/console/console";
import { scanPci } from "../../../kernel/pci/functions";
import { setTscPerMillisecond } from "../../../kernel/time/tsc";
import { MAX_FRAME } from "../../../vmm/net/ethernet";
import { Frame } from "../../../vmm/net/frame";
import { FrameReceiver, VmPort } from "../../../vmm/net/port";
import { VirtualSwitch } from "../../../vmm/net/switch";
import { startUplink } from "../../../vmm/net/uplink";
import { UplinkConfig } from "../../../vmm/setup/config/uplink";

// A NIC that keeps every frame it gets.
class Recorder extends FrameReceiver {
  frames: Uint8Array[] = [];
  receive(frame: Frame): bool {
    this.frames.push(frame.bytes.slice(0, frame.length));
    return true;
  }
}

const sw = new VirtualSwitch();
const recorder = new Recorder();
let vm: VmPort | null = null;
const frame = new Uint8Array(MAX_FRAME);
export const U16_ID = idof<Uint16Array>();

export function frameBuffer(): Uint8Array {
  return frame;
}

// The VM's port (address `mac`, on `vmVlans[0]` or a trunk of them), and
// the uplink as `uplinkVlans` (null: none configured) asks, started on the
// host's PCI functions.
export function start(
  mac: u64,
  vmVlans: Uint16Array,
  vmTrunk: bool,
  uplinkVlans: Uint16Array | null,
  trunk: bool,
): void {
  initConsole();
  setTscPerMillisecond(1_000_000); // the test's TSC: 1 GHz
  const port = new VmPort(mac, listOf(vmVlans), vmTrunk, 0);
  port.receiver = recorder;
  sw.connect(port);
  vm = port;
  let config: UplinkConfig | null = null;
  if (uplinkVlans !== null) {
    config = new UplinkConfig();
    config.vlans = listOf(uplinkVlans);
    config.trunk = trunk;
  }
  startUplink(config, scanPci(), sw);
}

export function hasUplink(): bool {
  return sw.uplink !== null;
}
export function sendFromVm(length: i32, now: u64): void {
  sw.send(vm!, frame, length, now, 1000);
}
export function pollUplink(now: u64): void {
  sw.uplink!.poll(now, 1000);
}
export function vmReceivedCount(): i32 {
  return recorder.frames.length;
}
export function vmReceived(i: i32): Uint8Array {
  return recorder.frames[i];
}
export function uplinkDropped(why: i32): u64 {
  return sw.uplink!.drops[why];
}
export function uplinkDescribe(): string {
  return sw.uplink!.describe();
}

function listOf(vlans: Uint16Array): u16[] {
  const list: u16[] = [];
  for (let i = 0; i < vlans.length; i++) list.push(vlans[i]);
  return list;
}
