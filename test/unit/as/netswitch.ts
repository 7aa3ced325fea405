// Unit-test entry: the virtual switch (vmm/net/) with VM ports whose NICs
// record what reaches them. The test makes ports, sends frames it writes
// byte by byte into `frame`, and reads back what each port received; and
// the flow hash of a frame written there.

import { MAX_FRAME } from "../../../vmm/net/ethernet";
import { flowHash } from "../../../vmm/net/flow";
import { Frame } from "../../../vmm/net/frame";
import { MacTable } from "../../../vmm/net/mactable";
import { FrameReceiver, VmPort } from "../../../vmm/net/port";
import { VirtualSwitch } from "../../../vmm/net/switch";

// A NIC that keeps every frame it gets, with where its partial checksum
// starts (-1: none), or refuses them all when `full`.
class Recorder extends FrameReceiver {
  frames: Uint8Array[] = [];
  checksumStarts: i32[] = [];
  full: bool = false;
  receive(frame: Frame): bool {
    if (this.full) return false;
    this.frames.push(frame.bytes.slice(0, frame.length));
    this.checksumStarts.push(frame.partialChecksum ? frame.checksumStart : -1);
    return true;
  }
}

let sw = new VirtualSwitch();
const ports: VmPort[] = [];
const recorders: Recorder[] = [];
const frame = new Uint8Array(MAX_FRAME + 64);
export const U16_ID = idof<Uint16Array>();

// The flow hash receive steering uses (vmm/net/flow.ts) of the `length`
// bytes in the frame buffer.
export function flowHashOf(length: i32): u32 {
  return flowHash(new Frame(frame).plain(frame, length));
}

// The buffer the test writes a frame into before send().
export function frameBuffer(): Uint8Array {
  return frame;
}

export function reset(): void {
  sw = new VirtualSwitch();
  ports.length = 0;
  recorders.length = 0;
}

// A port for a NIC with address `mac`: on `vlans[0]`, or a trunk of `vlans`.
export function addPort(mac: u64, vlans: Uint16Array, trunk: bool, bytesPerSecond: u64): i32 {
  const list: u16[] = [];
  for (let i = 0; i < vlans.length; i++) list.push(vlans[i]);
  const port = new VmPort(mac, list, trunk, bytesPerSecond);
  const recorder = new Recorder();
  port.receiver = recorder;
  sw.connect(port);
  ports.push(port);
  recorders.push(recorder);
  return ports.length - 1;
}

// Takes port `port` out of the switch, as a destroyed VM's NIC.
export function removePort(port: i32): void {
  sw.disconnect(ports[port]);
}

export function send(port: i32, length: i32, now: u64, tscPerMs: u64): void {
  sw.send(ports[port], frame, length, now, tscPerMs);
}
// The same with its checksum partial from `checksumStart` on, stored at
// checksumStart + `checksumOffset`.
export function sendPartial(port: i32, length: i32, checksumStart: i32, checksumOffset: i32, now: u64): void {
  const f = new Frame(frame).plain(frame, length);
  f.partialChecksum = true;
  f.checksumStart = checksumStart;
  f.checksumOffset = checksumOffset;
  sw.sendFrame(ports[port], f, now, 1000);
}
export function takePartialChecksums(port: i32): void {
  ports[port].takesPartialChecksum = true;
}
export function checksumStart(port: i32, i: i32): i32 {
  return recorders[port].checksumStarts[i];
}
export function setFull(port: i32, full: bool): void {
  recorders[port].full = full;
}
export function receivedCount(port: i32): i32 {
  return recorders[port].frames.length;
}
export function received(port: i32, i: i32): Uint8Array {
  return recorders[port].frames[i];
}
export function dropped(port: i32, why: i32): u64 {
  return ports[port].drops[why];
}
export function describe(port: i32): string {
  return ports[port].describe();
}
export function learnt(): i32 {
  return sw.table.size;
}

// A table of its own, filled by the test.
const table = new MacTable();
export function tableLearn(vlan: u16, mac: u64, port: i32): void {
  table.learn(vlan, mac, port);
}
export function tableLookup(vlan: u16, mac: u64): i32 {
  return table.lookup(vlan, mac);
}
export function tableSize(): i32 {
  return table.size;
}
export function tableClear(): void {
  table.clear();
}
export function shaperAdmits(port: i32, bytes: u64, now: u64, tscPerMs: u64): bool {
  return ports[port].shaper.admit(bytes, now, tscPerMs);
}
