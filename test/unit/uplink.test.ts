// The switch's uplink on the host's e1000 (vmm/net/uplink.ts,
// vmm/net/e1000/) against a fake 82540EM behind a fake PCI bus
// (fakee1000.ts), which checks what the driver does against the 8254x SDM:
// the start-up sequence (reset, address, link, both rings and their
// controls), frames from the wire into a VM on the uplink's VLAN and back,
// tags on a trunk uplink, every receive descriptor given back, polls
// bounded, a full transmit ring, and a machine without an e1000.
import { describe, expect, it } from "vitest";
import { BAR, FakeE1000, type FakeE1000Options, REGISTER_BYTES } from "./fakee1000";
import { controllerShim } from "./fakepci";
import { octets, startUplink, VM_MAC, WIRE_MAC, type Wiring } from "./uplinkharness";

// vmm/net/port.ts, Drop.
const VLAN = 2, QUEUE_FULL = 4;
const BROADCAST = 0xff_ff_ff_ff_ff_ffn;

// An Ethernet frame: destination, source, an optional 802.1Q tag, IPv4's type and 46 bytes from `seed`.
function frame(dst: bigint, src: bigint, opts: { vlan?: number; seed?: number } = {}): Uint8Array {
  const tag = opts.vlan === undefined ? [] : [0x81, 0x00, opts.vlan >> 8, opts.vlan & 0xff];
  const payload = Array.from({ length: 46 }, (_, i) => (i + (opts.seed ?? 0)) & 0xff);
  return Uint8Array.from([...octets(dst), ...octets(src), ...tag, 0x08, 0x00, ...payload]);
}

// A fresh module with the fake e1000 behind its shim, the uplink started as `setup` says.
function startWith(setup: Wiring & { fake?: FakeE1000Options } = {}) {
  return startUplink((memory, phys) => {
    const fake = new FakeE1000(setup.fake ?? {}, memory);
    return { fake, shim: controllerShim(fake, BAR, REGISTER_BYTES, phys) };
  }, setup);
}

describe("starting the e1000 (8254x SDM 14)", () => {
  it("resets it, reads its address, sets the link up and programs both rings before enabling them", async () => {
    const { e, fake, serial } = await startWith();
    expect(fake.resets).toBe(1);
    expect(fake.command & 0x406).toBe(0x406); // memory space, bus master, INTx disabled
    const reg = (off: number) => fake.registers.get(off) ?? 0;
    expect(reg(0x0000) & 0x60).toBe(0x60); // CTRL: SLU, ASDE
    expect(reg(0x0000) & 0xc000_0088).toBe(0); // no VME, PHY_RST, ILOS, LRST
    expect(reg(0x00d8) >>> 0).toBe(0xffff_ffff); // IMC: every interrupt masked
    expect(reg(0x0100)).toBe((1 << 1) | (1 << 3) | (1 << 4) | (1 << 15) | (1 << 26)); // RCTL: EN UPE MPE BAM SECRC
    expect(reg(0x0400)).toBe((1 << 1) | (1 << 3) | (0x0f << 4) | (0x40 << 12)); // TCTL: EN PSP CT COLD
    expect(reg(0x0410)).toBe(10 | (8 << 10) | (6 << 20)); // TIPG
    expect([reg(0x2808), reg(0x3808)]).toEqual([128 * 16, 64 * 16]);
    expect(fake.receiveHeadTail).toEqual([0, 127]);
    expect([reg(0x5400), reg(0x5404)]).toEqual([0xaa005452, 0x8000_0100]); // RAL0, RAH0: first octet lowest, AV
    expect(Array.from({ length: 128 }, (_, i) => reg(0x5200 + 4 * i)).every((v) => v === 0)).toBe(true);
    expect(serial()).toContain("uplink: e1000 0000:00:04.0, 52:54:00:aa:00:01, VLAN 10, link up\n");
    expect(e.hasUplink()).toBe(1);
    expect(fake.violations).toEqual([]);
  });

  it("reads the address from the EEPROM when the reset loads none, and puts it in RAL0/RAH0", async () => {
    const { fake, serial } = await startWith({ fake: { noAutoload: true } });
    expect(serial()).toContain("uplink: e1000 0000:00:04.0, 52:54:00:aa:00:01, VLAN 10, link up\n");
    expect([fake.registers.get(0x5400), fake.registers.get(0x5404)]).toEqual([0xaa005452, 0x8000_0100]);
    expect(fake.violations).toEqual([]);
  });

  it("takes a close relative (82545EM copper, 100Fh) too", async () => {
    const { e } = await startWith({ fake: { deviceId: 0x100f } });
    expect(e.hasUplink()).toBe(1);
  });

  it("gives up a controller that never leaves its reset: one line, bus mastering off", async () => {
    const { e, fake, serial } = await startWith({ fake: { stuckInReset: true } });
    expect(serial()).toContain(
      "[error] e1000 0000:00:04.0: still in reset after 10 ms; the controller is not used\n",
    );
    expect(fake.command & 0x4).toBe(0);
    expect(e.hasUplink()).toBe(0);
  });
});

describe("without an uplink", () => {
  it("leaves an e1000 alone when the configuration asks for no uplink", async () => {
    const { e, fake, serial } = await startWith({ uplink: null });
    expect(serial()).toContain("uplink: none configured; e1000 0000:00:04.0 is left alone\n");
    expect([fake.resets, fake.command, e.hasUplink()]).toEqual([0, 0, 0]);
  });

  it("says so on a machine without an e1000, configured or not", async () => {
    const other = { fake: { deviceId: 0x10d3 } }; // an 82574, not an 8254x
    const configured = await startWith(other);
    expect(configured.serial()).toContain(
      "[warn ] uplink: none; the host has no e1000 (an Intel 82540EM or a relative) nor virtio-net, "
        + "so the configured uplink is left out\n",
    );
    const quiet = await startWith({ ...other, uplink: null });
    expect(quiet.serial()).toContain(
      "[info ] uplink: none; the host has no e1000 (an Intel 82540EM or a relative) nor virtio-net\n",
    );
    expect([configured.fake.resets, quiet.fake.resets]).toEqual([0, 0]);
  });
});

describe("frames through an access uplink", () => {
  it("carries frames between the wire and the VM untagged, learning the address behind the uplink", async () => {
    const u = await startWith();
    const incoming = frame(VM_MAC, WIRE_MAC, { seed: 1 });
    expect(u.fake.arrive(incoming)).toBe(true);
    u.poll();
    expect(u.received()).toEqual([incoming]);
    const answer = frame(WIRE_MAC, VM_MAC, { seed: 2 });
    u.send(answer);
    u.send(frame(BROADCAST, VM_MAC, { seed: 3 }));
    expect(u.fake.sent).toEqual([answer, frame(BROADCAST, VM_MAC, { seed: 3 })]);
    expect(u.describe()).toBe("sent 1, received 2");
    expect(u.fake.violations).toEqual([]);
  });

  it("refuses tagged frames from the wire", async () => {
    const u = await startWith();
    u.fake.arrive(frame(VM_MAC, WIRE_MAC, { vlan: 10 }));
    u.poll();
    expect(u.received()).toEqual([]);
    expect(u.e.uplinkDropped(VLAN)).toBe(1n);
  });

  it("polls the wire whenever the VM sends: an answer waiting there comes in at once", async () => {
    const u = await startWith();
    const waiting = frame(VM_MAC, WIRE_MAC, { seed: 4 });
    u.fake.arrive(waiting);
    u.send(frame(WIRE_MAC, VM_MAC));
    expect(u.received()).toEqual([waiting]);
  });
});

describe("frames through a trunk uplink", () => {
  it("takes tagged frames of its VLANs to the VM untagged, and tags the VM's frames on the wire", async () => {
    const u = await startWith({ vm: { vlans: [20] }, uplink: { vlans: [10, 20], trunk: true } });
    expect(u.serial()).toContain(", trunk 10,20, link up\n");
    u.fake.arrive(frame(VM_MAC, WIRE_MAC, { vlan: 20, seed: 5 }));
    u.fake.arrive(frame(VM_MAC, WIRE_MAC, { vlan: 30 }));
    u.fake.arrive(frame(VM_MAC, WIRE_MAC));
    u.fake.arrive(frame(VM_MAC, WIRE_MAC, { vlan: 10 })); // VLAN 10 has no VM port: no one gets it
    u.poll();
    expect(u.received()).toEqual([frame(VM_MAC, WIRE_MAC, { seed: 5 })]);
    expect(u.e.uplinkDropped(VLAN)).toBe(2n);
    u.send(frame(WIRE_MAC, VM_MAC, { seed: 6 }));
    expect(u.fake.sent).toEqual([frame(WIRE_MAC, VM_MAC, { vlan: 20, seed: 6 })]);
  });
});

describe("the rings", () => {
  it("takes at most 32 frames a poll and gives every descriptor back, with its status cleared", async () => {
    const u = await startWith();
    // 127 descriptors are the controller's; the 128th frame finds none.
    for (let i = 0; i < 128; i++) u.fake.arrive(frame(VM_MAC, WIRE_MAC, { seed: i }));
    expect(u.fake.missed).toBe(1);
    u.poll();
    expect(u.received().length).toBe(32);
    expect(u.fake.receiveHeadTail).toEqual([127, 31]);
    // Three times round the ring, polled as it fills.
    for (let i = 0; i < 3 * 128; i++) {
      expect(u.fake.arrive(frame(VM_MAC, WIRE_MAC, { seed: 1000 + i }))).toBe(true);
      if (i % 16 === 15) u.poll();
    }
    for (let i = 0; i < 8; i++) u.poll();
    const got = u.received();
    expect(got.length).toBe(127 + 3 * 128);
    expect(got.at(-1)).toEqual(frame(VM_MAC, WIRE_MAC, { seed: 1000 + 3 * 128 - 1 }));
    expect(u.fake.violations).toEqual([]);
  });

  it("drops and counts what the switch sends while the transmit ring is full", async () => {
    const u = await startWith({ fake: { holdTransmit: true } });
    for (let i = 0; i < 70; i++) u.send(frame(WIRE_MAC, VM_MAC, { seed: i }));
    expect(u.e.uplinkDropped(QUEUE_FULL)).toBe(7n);
    expect(u.describe()).toBe("sent 0, received 63, dropped 7 (queue full 7)");
    // Once the controller sends them, their descriptors are taken again.
    u.fake.opts.holdTransmit = false;
    u.fake.transmit();
    u.send(frame(WIRE_MAC, VM_MAC, { seed: 99 }));
    expect(u.fake.sent.length).toBe(64);
    expect(u.fake.sent.at(-1)).toEqual(frame(WIRE_MAC, VM_MAC, { seed: 99 }));
    expect(u.fake.violations).toEqual([]);
  });
});
