// The switch's uplink on the host's virtio network device
// (vmm/net/uplink.ts, vmm/net/virtionet/) against a fake modern
// virtio-net behind a fake PCI bus (fakevirtionet.ts), which checks what
// the driver does against virtio 1.2: the initialization of 3.1.1 and the
// features taken, both split queues, frames from the wire into a VM and
// back with their 12-byte header, every receive buffer given back over
// laps of the ring, a full transmit queue, used entries the device wrote
// wrongly, and a device that refuses the features.
import { describe, expect, it } from "vitest";
import { FakeVirtioNet, type FakeVirtioNetOptions, virtioShim } from "./fakevirtionet";
import { octets, startUplink, VM_MAC, WIRE_MAC } from "./uplinkharness";

// vmm/net/port.ts, Drop.
const MALFORMED = 0, QUEUE_FULL = 4;

// An untagged IPv4 frame with 46 bytes from `seed`.
function frame(dst: bigint, src: bigint, seed = 0): Uint8Array {
  const payload = Array.from({ length: 46 }, (_, i) => (i + seed) & 0xff);
  return Uint8Array.from([...octets(dst), ...octets(src), 0x08, 0x00, ...payload]);
}

// A fresh module with the fake behind its shim, an access uplink and the VM on VLAN 10.
function startWith(opts: FakeVirtioNetOptions = {}) {
  return startUplink((memory) => {
    const fake = new FakeVirtioNet(opts, memory);
    return { fake, shim: virtioShim(fake) };
  });
}

describe("starting a virtio network device (virtio 1.2, 3.1.1)", () => {
  it("resets it, takes VERSION_1, MAC and STATUS, sets up both queues, offers every receive buffer", async () => {
    const { e, fake, serial } = await startWith();
    expect(fake.resets).toBe(1);
    expect(fake.command & 0x406).toBe(0x406); // memory space, bus master, INTx disabled
    expect(fake.statuses).toEqual([0, 1, 1 | 2, 1 | 2 | 8, 1 | 2 | 8 | 4]);
    expect(fake.driverFeatures).toBe((1n << 32n) | (1n << 16n) | (1n << 5n));
    expect(fake.queues.map((q) => [q.size, q.enabled])).toEqual([[128, true], [128, true]]);
    expect(fake.queues.every((q) => q.desc % 16n === 0n && q.driver % 2n === 0n && q.device % 4n === 0n)).toBe(true);
    expect(fake.availableIndex(0)).toBe(128);
    expect(fake.notifications).toEqual([1, 0]);
    expect(serial()).toContain("uplink: virtio-net 0000:00:04.0, 52:54:00:aa:00:01, VLAN 10, link up\n");
    expect(e.hasUplink()).toBe(1);
    expect(fake.violations).toEqual([]);
  });

  it("reads the link status from the device configuration", async () => {
    const { serial } = await startWith({ linkDown: true });
    expect(serial()).toContain("uplink: virtio-net 0000:00:04.0, 52:54:00:aa:00:01, VLAN 10, link not up yet\n");
  });

  it("gives up a device that refuses the features: one line, bus mastering off", async () => {
    const { e, fake, serial } = await startWith({ refuseFeatures: true });
    expect(serial()).toContain(
      "[error] virtio-net 0000:00:04.0: refuses the features 100010020; the controller is not used\n",
    );
    expect(fake.command & 0x4).toBe(0);
    expect(fake.statuses.at(-1)).toBe(1 | 2 | 128); // FAILED
    expect(e.hasUplink()).toBe(0);
  });
});

describe("frames through the virtqueues", () => {
  it("carries frames between the wire and the VM, each behind a zero header on the wire side", async () => {
    const u = await startWith();
    const incoming = frame(VM_MAC, WIRE_MAC, 1);
    expect(u.fake.arrive(incoming)).toBe(true);
    u.poll();
    expect(u.received()).toEqual([incoming]);
    const answer = frame(WIRE_MAC, VM_MAC, 2);
    u.send(answer);
    expect(u.fake.sent).toEqual([answer]);
    expect(u.describe()).toBe("sent 1, received 1");
    expect(u.fake.violations).toEqual([]);
  });

  it("takes at most 32 frames a poll and gives every receive buffer back, three times round the queue", async () => {
    const u = await startWith();
    for (let i = 0; i < 129; i++) u.fake.arrive(frame(VM_MAC, WIRE_MAC, i));
    expect(u.fake.missed).toBe(1);
    u.poll();
    expect(u.received().length).toBe(32);
    expect(u.fake.availableIndex(0)).toBe(128 + 32);
    for (let i = 0; i < 3 * 128; i++) {
      if (i % 16 === 15) u.poll();
      expect(u.fake.arrive(frame(VM_MAC, WIRE_MAC, 1000 + i))).toBe(true);
    }
    for (let i = 0; i < 16; i++) u.poll();
    const got = u.received();
    expect(got.length).toBe(128 + 3 * 128);
    expect(got.at(-1)).toEqual(frame(VM_MAC, WIRE_MAC, 1000 + 3 * 128 - 1));
    expect(u.fake.violations).toEqual([]);
  });

  it("drops and counts what the switch sends while the transmit queue is full", async () => {
    const u = await startWith({ holdTransmit: true });
    for (let i = 0; i < 130; i++) u.send(frame(WIRE_MAC, VM_MAC, i));
    expect(u.e.uplinkDropped(QUEUE_FULL)).toBe(2n);
    u.fake.transmit();
    u.send(frame(WIRE_MAC, VM_MAC, 99));
    expect(u.fake.sent.length).toBe(128);
    u.fake.transmit();
    expect(u.fake.sent.at(-1)).toEqual(frame(WIRE_MAC, VM_MAC, 99));
    expect(u.fake.violations).toEqual([]);
  });

  it("drops used entries the device wrote wrongly and goes on with the next", async () => {
    const u = await startWith();
    u.fake.arriveWrongly(500, 100); // no such descriptor
    u.fake.arriveWrongly(1, 4096); // longer than its buffer
    u.fake.arriveWrongly(2, 8); // shorter than the header
    const good = frame(VM_MAC, WIRE_MAC, 7);
    u.fake.arrive(good);
    u.poll();
    expect(u.received()).toEqual([good]);
    expect(u.e.uplinkDropped(MALFORMED)).toBe(3n);
    expect(u.fake.violations).toEqual([]);
  });
});
