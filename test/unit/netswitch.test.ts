// The virtual switch (vmm/net/): learning and forwarding, VLAN access
// ports and trunks with their tags, anti-spoofing, the broadcast budget,
// a full receiver, the transmit shaper's rate, and a partial checksum
// across a trunk's tag, with frames written byte by byte as a NIC would
// hand them over.
import { beforeEach, describe, expect, it } from "vitest";
import { type Exports, load } from "./harness";

interface SwitchExports {
  U16_ID: { value: number };
  reset(): void;
  frameBuffer(): number;
  addPort(mac: bigint, vlans: number, trunk: number, bytesPerSecond: bigint): number;
  removePort(port: number): void;
  send(port: number, length: number, now: bigint, tscPerMs: bigint): void;
  setFull(port: number, full: number): void;
  receivedCount(port: number): number;
  received(port: number, i: number): number;
  dropped(port: number, why: number): bigint;
  describe(port: number): number;
  learnt(): number;
  shaperAdmits(port: number, bytes: bigint, now: bigint, tscPerMs: bigint): number;
  sendPartial(port: number, length: number, checksumStart: number, checksumOffset: number, now: bigint): void;
  takePartialChecksums(port: number): void;
  checksumStart(port: number, i: number): number;
  flowHashOf(length: number): number;
  tableLearn(vlan: number, mac: bigint, port: number): void;
  tableLookup(vlan: number, mac: bigint): number;
  tableSize(): number;
  tableClear(): void;
}

// vmm/net/port.ts, Drop.
const MALFORMED = 0, SPOOFED = 1, VLAN = 2, BROADCAST_LIMIT = 3, QUEUE_FULL = 4;
const MS = 1_000_000n; // TSC ticks a millisecond: a 1 GHz clock
const T0 = 1000n * MS;
const BROADCAST = 0xff_ff_ff_ff_ff_ffn;
const mac = (last: number) => 0x52_54_00_12_34_00n | BigInt(last);

let e: Exports<SwitchExports>;
beforeEach(async () => {
  e = (await load<SwitchExports>("netswitch.ts")).exports;
  e.reset();
});

function port(n: number, vlans: number[] = [1], trunk = false, bytesPerSecond = 0n): number {
  const list = e.__pin(e.__newArray(e.U16_ID.value, vlans));
  const p = e.addPort(mac(n), list, trunk ? 1 : 0, bytesPerSecond);
  e.__unpin(list);
  return p;
}

const octets = (m: bigint) => Array.from({ length: 6 }, (_, i) => Number((m >> BigInt(40 - 8 * i)) & 0xffn));

// An Ethernet frame: destination, source, an optional 802.1Q tag, the
// type (IPv4) and `payload` bytes counting up from `seed`.
function frame(dst: bigint, src: bigint, opts: { vlan?: number; payload?: number; seed?: number } = {}): Uint8Array {
  const tag = opts.vlan === undefined ? [] : [0x81, 0x00, opts.vlan >> 8, opts.vlan & 0xff];
  const payload = Array.from({ length: opts.payload ?? 46 }, (_, i) => (i + (opts.seed ?? 0)) & 0xff);
  return Uint8Array.from([...octets(dst), ...octets(src), ...tag, 0x08, 0x00, ...payload]);
}

function send(from: number, f: Uint8Array, now = T0): void {
  e.__getUint8ArrayView(e.frameBuffer()).set(f);
  e.send(from, f.length, now, MS);
}

const got = (p: number) => Array.from({ length: e.receivedCount(p) }, (_, i) => e.__getUint8Array(e.received(p, i)));

describe("the virtual switch", () => {
  it("learns up to 4,096 addresses, per VLAN, follows one that moves, and forgets them all at once", () => {
    // Addresses alike but for a few bits, as a vendor's are: their slots collide.
    const addr = (i: number) => 0x52_54_00_00_00_00n | (BigInt(i) << 8n);
    for (let i = 0; i < 5000; i++) e.tableLearn(1 + (i & 1), addr(i), i % 7);
    expect(e.tableSize()).toBe(4096);
    const seen = Array.from({ length: 5000 }, (_, i) => e.tableLookup(1 + (i & 1), addr(i)));
    expect(seen).toEqual(Array.from({ length: 5000 }, (_, i) => i < 4096 ? i % 7 : -1));
    // The same address on the other VLAN is another entry, not learnt when full.
    expect(e.tableLookup(2, addr(0))).toBe(-1);
    e.tableLearn(1, addr(0), 6);
    expect([e.tableLookup(1, addr(0)), e.tableSize()]).toEqual([6, 4096]);
    e.tableClear();
    expect([e.tableSize(), e.tableLookup(1, addr(0)), e.tableLookup(2, addr(1))]).toEqual([0, -1, -1]);
    e.tableLearn(2, addr(0), 3);
    expect([e.tableLookup(2, addr(0)), e.tableLookup(1, addr(0))]).toEqual([3, -1]);
  });

  it("floods a frame to an unknown address and then learns where it is", () => {
    const a = port(1), b = port(2), c = port(3);
    send(a, frame(mac(2), mac(1)));
    expect(got(b)).toHaveLength(1);
    expect(got(c)).toHaveLength(1);
    expect(got(a)).toHaveLength(0);
    // b answers a: a is known by now, so c sees nothing more.
    send(b, frame(mac(1), mac(2), { seed: 7 }));
    expect(got(a)).toEqual([frame(mac(1), mac(2), { seed: 7 })]);
    expect(got(c)).toHaveLength(1);
    // And a's next frame to b goes to b only.
    send(a, frame(mac(2), mac(1), { seed: 9 }));
    expect(got(b)[1]).toEqual(frame(mac(2), mac(1), { seed: 9 }));
    expect(got(c)).toHaveLength(1);
    expect(e.learnt()).toBe(2);
  });

  it("takes a port out: the ports after it go on sending and receiving, the one out sends nothing", () => {
    const a = port(1), b = port(2), c = port(3);
    send(a, frame(mac(3), mac(1)));
    send(c, frame(mac(1), mac(3)));
    e.removePort(b);
    send(c, frame(mac(1), mac(3), { seed: 1 }));
    send(a, frame(mac(3), mac(1), { seed: 2 }));
    send(b, frame(BROADCAST, mac(2)));
    send(a, frame(BROADCAST, mac(1), { seed: 3 }));
    expect(got(a)).toEqual([frame(mac(1), mac(3)), frame(mac(1), mac(3), { seed: 1 })]);
    expect(got(b)).toEqual([frame(mac(3), mac(1))]); // flooded before it went
    expect(got(c)).toEqual([
      frame(mac(3), mac(1)),
      frame(mac(3), mac(1), { seed: 2 }),
      frame(BROADCAST, mac(1), { seed: 3 }),
    ]);
  });

  it("delivers broadcasts to every other port of the VLAN", () => {
    const a = port(1), b = port(2), c = port(3);
    send(a, frame(BROADCAST, mac(1)));
    expect([got(a).length, got(b).length, got(c).length]).toEqual([0, 1, 1]);
  });

  it("drops a frame whose source is not the port's NIC", () => {
    const a = port(1), b = port(2);
    send(a, frame(mac(2), mac(2)));
    send(a, frame(BROADCAST, mac(9)));
    expect(got(b)).toHaveLength(0);
    expect(e.dropped(a, SPOOFED)).toBe(2n);
    // Nothing was learnt from them: b's address still points nowhere.
    expect(e.learnt()).toBe(0);
  });

  it("drops frames too short, too long or from a group address", () => {
    const a = port(1), b = port(2);
    send(a, frame(mac(2), mac(1)).subarray(0, 13));
    send(a, frame(mac(2), mac(1), { payload: 1501 }));
    send(a, frame(mac(2), mac(1), { vlan: 1, payload: 1500 }));
    send(a, frame(mac(2), BROADCAST));
    expect(e.dropped(a, MALFORMED)).toBe(3n);
    expect(e.dropped(a, VLAN)).toBe(1n); // the tagged one: this is an access port
    send(a, frame(mac(2), mac(1), { payload: 1500 }));
    expect(got(b)).toHaveLength(1);
  });

  it("keeps VLANs apart, broadcasts included", () => {
    const a = port(1, [10]), b = port(2, [20]), c = port(3, [10]);
    send(a, frame(BROADCAST, mac(1)));
    send(a, frame(mac(2), mac(1)));
    send(b, frame(BROADCAST, mac(2)));
    expect(got(b)).toHaveLength(0);
    expect(got(c)).toHaveLength(2);
    expect(got(a)).toHaveLength(0);
  });

  it("tags frames for a trunk and strips the tags of a trunk's frames", () => {
    const a = port(1, [10]), b = port(2, [20]), t = port(3, [10, 20], true);
    send(a, frame(BROADCAST, mac(1), { seed: 1 }));
    send(b, frame(BROADCAST, mac(2), { seed: 2 }));
    expect(got(t)).toEqual([
      frame(BROADCAST, mac(1), { vlan: 10, seed: 1 }),
      frame(BROADCAST, mac(2), { vlan: 20, seed: 2 }),
    ]);
    // The trunk answers on VLAN 20: only b gets it, untagged.
    send(t, frame(mac(2), mac(3), { vlan: 20, seed: 3 }));
    expect(got(b)).toEqual([frame(mac(2), mac(3), { seed: 3 })]);
    expect(got(a)).toHaveLength(0);
  });

  it("refuses tags on access ports, untagged frames on trunks and VLANs a trunk lacks", () => {
    const a = port(1, [10]), t = port(3, [10, 20], true), c = port(4, [30]);
    send(a, frame(BROADCAST, mac(1), { vlan: 10 }));
    send(t, frame(BROADCAST, mac(3)));
    send(t, frame(BROADCAST, mac(3), { vlan: 30 }));
    expect(e.dropped(a, VLAN)).toBe(1n);
    expect(e.dropped(t, VLAN)).toBe(2n);
    expect(got(c)).toHaveLength(0);
    expect(got(a)).toHaveLength(0);
  });

  it("limits a port's broadcasts and leaves the others' alone", () => {
    const a = port(1), b = port(2), c = port(3);
    // 10,000 broadcasts in one millisecond: 1000 a second allow 1 and 50 of burst.
    for (let i = 0; i < 10_000; i++) send(a, frame(BROADCAST, mac(1)), T0 + BigInt(i) * 100n);
    expect(got(b).length).toBeGreaterThan(0);
    expect(got(b).length).toBeLessThanOrEqual(52);
    expect(e.dropped(a, BROADCAST_LIMIT)).toBe(BigInt(10_000 - got(b).length));
    // c's broadcasts and a's unicast frames still go through.
    send(c, frame(BROADCAST, mac(3)), T0 + MS);
    send(a, frame(mac(3), mac(1)), T0 + MS);
    expect(got(b).at(-1)).toEqual(frame(BROADCAST, mac(3)));
    expect(got(c).at(-1)).toEqual(frame(mac(3), mac(1)));
    // A second later a may broadcast again.
    const before = got(b).length;
    send(a, frame(BROADCAST, mac(1)), T0 + 1000n * MS);
    expect(got(b)).toHaveLength(before + 1);
  });

  it("counts a frame the receiver had no room for on the receiver's port", () => {
    const a = port(1), b = port(2);
    e.setFull(b, 1);
    send(a, frame(mac(2), mac(1)));
    expect(e.dropped(b, QUEUE_FULL)).toBe(1n);
    expect(e.__getString(e.describe(b))).toBe("sent 0, received 0, dropped 1 (queue full 1)");
    expect(e.__getString(e.describe(a))).toBe("sent 1, received 0");
  });

  it("shapes a port's transmissions to its bytes per second", () => {
    const a = port(1, [1], false, 1_000_000n); // 1 MB/s
    let now = T0, bytes = 0;
    while (now < T0 + 2000n * MS) {
      if (e.shaperAdmits(a, 1514n, now, MS)) bytes += 1514;
      else now += MS / 10n;
    }
    expect(bytes / 2).toBeGreaterThan(0.99e6);
    expect(bytes / 2).toBeLessThan(1.03e6);
  });

  it("moves a partial checksum's start with a trunk's tag, and completes it for a port that does not take it", () => {
    const trunk = port(1, [10, 20], true), a = port(2, [10]), b = port(3, [10]);
    e.takePartialChecksums(trunk);
    e.takePartialChecksums(a);
    // Tagged, the checksum covers what follows 18 bytes of header and tag.
    e.__getUint8ArrayView(e.frameBuffer()).set(frame(BROADCAST, mac(1), { vlan: 10, payload: 46 }));
    e.sendPartial(trunk, 64, 18, 6, T0);
    expect(e.checksumStart(a, 0)).toBe(14);
    expect(e.checksumStart(b, 0)).toBe(-1);
    // b's copy: the sum of bytes 14 to 60 with the checksum stored at 20,
    // and of what the field held before (the sender's seed), is all ones.
    const f = got(b)[0];
    let sum = (6 << 8) | 7;
    for (let i = 14; i < 60; i += 2) sum += (f[i] << 8) | f[i + 1];
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    expect(sum).toBe(0xffff);
    e.__getUint8ArrayView(e.frameBuffer()).set(frame(BROADCAST, mac(2), { payload: 46 }));
    e.sendPartial(a, 60, 14, 6, T0);
    expect(e.checksumStart(trunk, 0)).toBe(18);
  });
});

// The flow hash that steers a received frame to a queue pair (vmm/net/flow.ts).
describe("flow hashes for receive steering", () => {
  // An IPv4 or IPv6 packet of `protocol` between two addresses and ports,
  // behind an Ethernet header (tagged with `vlan`), as much of it as the hash reads.
  function packet(
    v6: boolean,
    protocol: number,
    [from, to]: [number, number],
    [sport, dport]: [number, number],
    opts: { vlan?: number; fragment?: number } = {},
  ): Uint8Array {
    const address = (n: number) => (v6 ? [0xfd, ...Array<number>(14).fill(0), n] : [10, 0, 0, n]);
    const ip = v6
      ? [0x60, 0, 0, 0, 0, 8, protocol, 64, ...address(from), ...address(to)]
      : [0x45, 0, 0, 28, 0, 0, (opts.fragment ?? 0) >> 8, (opts.fragment ?? 0) & 0xff, 64, protocol, 0, 0]
        .concat(address(from), address(to));
    const tag = opts.vlan === undefined ? [] : [0x81, 0x00, 0, opts.vlan];
    const type = v6 ? [0x86, 0xdd] : [0x08, 0x00];
    return Uint8Array.from([
      ...octets(mac(1)),
      ...octets(mac(2)),
      ...tag,
      ...type,
      ...ip,
      sport >> 8,
      sport & 0xff,
      dport >> 8,
      dport & 0xff,
      0,
      0,
      0,
      0,
    ]);
  }
  function hash(f: Uint8Array): number {
    e.__getUint8ArrayView(e.frameBuffer()).set(f);
    return e.flowHashOf(f.length) >>> 0;
  }

  it("is the same both ways, for TCP and UDP over IPv4 and IPv6, tagged or not", () => {
    for (const v6 of [false, true]) {
      for (const protocol of [6, 17]) {
        const there = hash(packet(v6, protocol, [1, 2], [40000, 80]));
        expect(hash(packet(v6, protocol, [2, 1], [80, 40000]))).toBe(there);
        expect(hash(packet(v6, protocol, [1, 2], [40000, 80], { vlan: 10 }))).toBe(there);
        // Another port, another flow.
        expect(hash(packet(v6, protocol, [1, 2], [40001, 80]))).not.toBe(there);
      }
    }
  });

  it("leaves the ports out for a protocol without them and for a later fragment, and is 0 for what is not IP", () => {
    expect(hash(packet(false, 1, [1, 2], [1, 2]))).toBe(hash(packet(false, 1, [1, 2], [3, 4])));
    const later = (sport: number) => hash(packet(false, 6, [1, 2], [sport, 80], { fragment: 0x00b9 }));
    expect(later(40000)).toBe(later(40001));
    expect(later(40000)).not.toBe(hash(packet(false, 6, [1, 2], [40000, 80])));
    const arp = packet(false, 6, [1, 2], [40000, 80]);
    arp.set([0x08, 0x06], 12);
    expect(hash(arp)).toBe(0);
  });
});
