// The switch's uplink (vmm/net/uplink.ts) in a fresh module, with a fake
// host NIC behind its shim: what the e1000's and the virtio-net's tests
// (uplink.test.ts, virtionetuplink.test.ts) share. A VM's NIC is on the
// switch too, and the test plays both the wire (through the fake) and the VM.
import { FakeTsc } from "./fakehost";
import { type Exports, load, PhysMemory } from "./harness";

export interface UplinkExports {
  U16_ID: { value: number };
  frameBuffer(): number;
  start(mac: bigint, vmVlans: number, vmTrunk: number, uplinkVlans: number, trunk: number): void;
  hasUplink(): number;
  sendFromVm(length: number, now: bigint): void;
  pollUplink(now: bigint): void;
  vmReceivedCount(): number;
  vmReceived(i: number): number;
  uplinkDropped(why: number): bigint;
  uplinkDescribe(): number;
}

export const VM_MAC = 0x52_54_00_12_00_00n, WIRE_MAC = 0x52_54_00_bb_00_01n;
export const octets = (m: bigint) => Array.from({ length: 6 }, (_, i) => Number((m >> BigInt(40 - 8 * i)) & 0xffn));

// The VLANs of the VM's port and of the uplink (null: no "uplink"
// configured); both default to an access port on VLAN 10.
export interface Wiring {
  vm?: { vlans: number[]; trunk?: boolean };
  uplink?: { vlans: number[]; trunk?: boolean } | null;
}

// The memory a fake NIC reads and writes by DMA.
export type NicMemory = () => { linear: Uint8Array; phys: PhysMemory };

// A fresh module whose shim is `nic`'s (the fake and its shim functions,
// made with the module's memory), the uplink started as `wiring` says.
export async function startUplink<F>(
  nic: (memory: NicMemory, phys: PhysMemory) => { fake: F; shim: object },
  wiring: Wiring = {},
) {
  const phys = new PhysMemory();
  let e: Exports<UplinkExports> | null = null;
  const { fake, shim: nicShim } = nic(() => ({ linear: new Uint8Array(e!.memory.buffer), phys }), phys);
  // A 1 GHz TSC that a microsecond passes on at every read, so that waits end.
  const tsc = new FakeTsc(1_000_000_000n);
  const shim = { ...nicShim, ...tsc.stubs(), rdtsc: () => (tsc.clock += 1000n) };
  const unit = await load<UplinkExports>("uplink.ts", { phys, shim });
  const ex = unit.exports;
  e = ex;
  const list = (vlans: number[]) => ex.__pin(ex.__newArray(ex.U16_ID.value, vlans));
  const vm = wiring.vm ?? { vlans: [10] }, uplink = wiring.uplink === undefined ? { vlans: [10] } : wiring.uplink;
  const vmList = list(vm.vlans), uplinkList = uplink === null ? 0 : list(uplink.vlans);
  ex.start(VM_MAC, vmList, vm.trunk ? 1 : 0, uplinkList, uplink?.trunk ? 1 : 0);
  let now = 1n << 40n;
  return {
    e: ex,
    fake,
    serial: () => unit.machine.serial(),
    // The VM sends `f`; a millisecond passes between sends.
    send(f: Uint8Array) {
      ex.__getUint8ArrayView(ex.frameBuffer()).set(f);
      ex.sendFromVm(f.length, now += 1_000_000n);
    },
    poll: () => ex.pollUplink(now += 1_000_000n),
    received: () => Array.from({ length: ex.vmReceivedCount() }, (_, i) => ex.__getUint8Array(ex.vmReceived(i))),
    describe: () => ex.__getString(ex.uplinkDescribe()),
  };
}
