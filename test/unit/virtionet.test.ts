// virtio-net (vmm/devices/virtio/net.ts, virtio 1.2 section 5.1) on the
// virtual switch: three VMs' NICs, each with RAM of its own, driven from JS
// as Linux's virtio_net drives them (test/unit/netdriver.ts). Frames go
// from one VM's transmit queue into another's receive buffers, with the
// 12-byte header and num_buffers, merged over several buffers or in one;
// the test checks VLANs and anti-spoofing end to end, drops on a full
// receive queue, DEVICE_NEEDS_RESET for a driver's garbage, and the
// transmit cap.
import { beforeEach, describe, expect, it } from "vitest";
import { FakeTsc } from "./fakehost";
import { type Exports, PhysMemory } from "./harness";
import {
  A,
  B,
  BROADCAST,
  CC,
  F_CSUM,
  F_GUEST_CSUM,
  F_GUEST_TSO4,
  F_GUEST_TSO6,
  F_HOST_TSO4,
  F_HOST_TSO6,
  F_MAC,
  F_MRG_RXBUF,
  F_STATUS,
  frame,
  HZ,
  loadNetMachine,
  MAC_A,
  MAC_B,
  MAC_BASE,
  type NetExports,
  NetDriver,
  octets,
  QUEUE_FULL,
  ramOf,
  RX_VECTOR,
  SPOOFED,
  TX_VECTOR,
  VLAN,
} from "./netdriver";
import {
  C,
  DEVICE_CFG,
  F_INDIRECT_DESC,
  msiData,
  NEEDS_RESET,
  PciConfig,
  REVISION,
  TRANSPORT,
  useMachine,
} from "./virtiodriver";

const CAP = 1_000_000n; // a's bytes per second

let phys: PhysMemory;
let tsc: FakeTsc;
let e: Exports<NetExports>;
beforeEach(async () => {
  ({ e, phys, tsc } = await loadNetMachine(CAP));
});

const vectorsSent = () => Array.from({ length: e.messageCount() }, (_, i) => e.messageData(i) - msiData(0));

describe("virtio-net", () => {
  beforeEach(() => useMachine(e, ramOf(phys, A)));

  it("is a modern network device with its MAC address and the link up", () => {
    const p = new PciConfig(A);
    expect(p.read(0)).toBe(0x1041_1af4);
    expect(p.read(REVISION) >>> 8).toBe(0x02_00_00); // network controller, Ethernet
    const d = new NetDriver(B, phys);
    expect(d.deviceFeatures()).toBe(
      (TRANSPORT & ~F_INDIRECT_DESC) | F_CSUM | F_GUEST_CSUM | F_MAC | F_GUEST_TSO4 | F_GUEST_TSO6 | F_HOST_TSO4
        | F_HOST_TSO6 | F_MRG_RXBUF
        | F_STATUS,
    );
    expect(d.cap(DEVICE_CFG)!.length).toBe(10);
    expect(Array.from({ length: 6 }, (_, i) => d.config(i, 1))).toEqual(octets(MAC_B));
    expect(d.config(6, 2)).toBe(1); // VIRTIO_NET_S_LINK_UP
    expect(d.read(C.numQueues, 2)).toBe(2);
  });

  it("carries a frame from one VM's transmit queue into another VM's receive buffer", () => {
    const a = new NetDriver(A, phys).start(), b = new NetDriver(B, phys).start();
    b.offerReceive(1536, 1536);
    const f = frame(MAC_B, MAC_A, 1514, 3);
    a.send(f);
    expect(b.received()).toEqual([{ numBuffers: 1, frame: f }]);
    expect(a.tx.takeUsed()).toEqual([[0, 0]]);
    // b's receive interrupt, then a's transmit interrupt.
    expect(vectorsSent()).toEqual([RX_VECTOR, TX_VECTOR]);
    // The header apart from the frame is the same frame.
    a.send(frame(MAC_B, MAC_A, 100, 9), true);
    expect(b.received()).toEqual([{ numBuffers: 1, frame: frame(MAC_B, MAC_A, 100, 9) }]);
  });

  it("merges receive buffers for a frame larger than one, num_buffers counting them", () => {
    const a = new NetDriver(A, phys).start(), b = new NetDriver(B, phys).start();
    b.offerReceive(512, 512, 512, 512);
    const f = frame(MAC_B, MAC_A, 1514, 5);
    a.send(f);
    expect(b.received()).toEqual([{ numBuffers: 3, frame: f }]);
  });

  it("copies a frame past the headers the switch reads from a's buffers straight into b's", () => {
    const a = new NetDriver(A, phys).start(), b = new NetDriver(B, phys).start();
    // Buffers smaller than those headers, from a chain whose header has a
    // buffer of its own.
    b.offerReceive(...Array<number>(16).fill(100));
    const f = frame(MAC_B, MAC_A, 1514, 7);
    a.send(f, true);
    expect(b.received()).toEqual([{ numBuffers: 16, frame: f }]);
  });

  it("fills adjacent receive buffers past the headers with one copy, and the buffers apart on their own", () => {
    const a = new NetDriver(A, phys).start(), b = new NetDriver(B, phys).start();
    // The header and the bytes the switch holds take the first two, as do
    // the rest of the frame the next six, in two runs.
    b.offerReceive(100, 100);
    b.offerReceiveAdjacent(256, 256, 256, 256);
    b.offerReceive(200);
    b.offerReceiveAdjacent(256, 256);
    const f = frame(MAC_B, MAC_A, 1514, 9);
    a.send(f, true);
    expect(b.received()).toEqual([{ numBuffers: 8, frame: f }]);
    // A chain of two buffers between runs of lone ones: walked, then the
    // runs go on where it ends.
    b.offerReceive(100, 100);
    b.offerReceiveAdjacent(256, 256);
    b.offerReceiveChain(100, 100);
    b.offerReceive(200);
    b.offerReceiveAdjacent(256, 256);
    const g = frame(MAC_B, MAC_A, 1514, 10);
    a.send(g, true);
    expect(b.received()).toEqual([{ numBuffers: 8, frame: g }]);
  });

  it("without F_MRG_RXBUF puts each frame in one buffer, num_buffers 1", () => {
    const a = new NetDriver(A, phys).start();
    const b = new NetDriver(B, phys).start((f) => f & ~F_MRG_RXBUF);
    b.offerReceive(1530, 1530);
    a.send(frame(MAC_B, MAC_A, 1514));
    a.send(frame(MAC_B, MAC_A, 64));
    expect(b.received()).toEqual([
      { numBuffers: 1, frame: frame(MAC_B, MAC_A, 1514) },
      { numBuffers: 1, frame: frame(MAC_B, MAC_A, 64) },
    ]);
  });

  it("fills receive chains of several buffers, the header split over the first two", () => {
    // Each chain's buffers, read back in order: what the device wrote there.
    const offerChains = (d: NetDriver, ...chains: number[][]) => {
      const gpas = new Map<number, Array<[bigint, number]>>();
      for (const sizes of chains) {
        const buffers = sizes.map((len) => ({ gpa: d.alloc(len), len, write: true }));
        gpas.set(d.ring.offer(buffers), buffers.map((b) => [b.gpa, b.len]));
      }
      d.notify(0);
      return (head: number, written: number) =>
        Uint8Array.from(gpas.get(head)!.flatMap(([gpa, len]) => [...phys.readBytes(d.ram.hpa + gpa, len)]))
          .subarray(0, written);
    };
    const a = new NetDriver(A, phys).start();
    // Without F_MRG_RXBUF, as Linux's big receive buffers: the header apart, then pages.
    const big = new NetDriver(B, phys).start((f) => f & ~F_MRG_RXBUF);
    const readBig = offerChains(big, [4, 8, 1000, 1000]);
    const f = frame(MAC_B, MAC_A, 1514, 4);
    a.send(f, true);
    const [[head, written]] = big.ring.takeUsed();
    const bytes = readBig(head, written);
    expect(written).toBe(12 + 1514);
    expect(bytes[10] | (bytes[11] << 8)).toBe(1); // num_buffers, in the second buffer
    expect(bytes.subarray(12)).toEqual(f);
    // With it (a), a frame over two chains of two buffers each.
    const readMerged = offerChains(a, [6, 900], [500, 400]);
    const g = frame(MAC_A, MAC_B, 1400, 6);
    big.send(g);
    const used = a.ring.takeUsed();
    expect(used.map(([, n]) => n)).toEqual([906, 12 + 1400 - 906]);
    const all = Uint8Array.from([...readMerged(...used[0]), ...readMerged(...used[1])]);
    expect(all[10] | (all[11] << 8)).toBe(2);
    expect(all.subarray(12)).toEqual(g);
  });

  it("drops a frame the receive queue has no room for, and counts it", () => {
    const a = new NetDriver(A, phys).start(), b = new NetDriver(B, phys).start();
    a.send(frame(MAC_B, MAC_A)); // no buffers at all
    b.offerReceive(512);
    a.send(frame(MAC_B, MAC_A, 1514)); // one buffer, too small: given back
    expect(e.dropped(1, QUEUE_FULL)).toBe(2n);
    expect(b.ring.usedIdx).toBe(0);
    b.offerReceive(512, 512);
    const f = frame(MAC_B, MAC_A, 1514, 1);
    a.send(f);
    expect(b.received()).toEqual([{ numBuffers: 3, frame: f }]);
    // The sender's frames all went back to it.
    expect(a.tx.takeUsed()).toHaveLength(3);
  });

  it("keeps VLANs apart and drops frames with another VM's address", () => {
    const a = new NetDriver(A, phys).start(), b = new NetDriver(B, phys).start(), c = new NetDriver(CC, phys).start();
    b.offerReceive(1536, 1536);
    c.offerReceive(1536);
    a.send(frame(BROADCAST, MAC_A));
    expect(b.received()).toHaveLength(1);
    expect(c.received()).toHaveLength(0);
    a.send(frame(BROADCAST, MAC_B)); // spoofed
    c.send(frame(BROADCAST, MAC_BASE + 2n)); // VLAN 20: nobody else there
    expect(b.received()).toHaveLength(0);
    expect(e.dropped(0, SPOOFED)).toBe(1n);
    expect(e.dropped(0, VLAN) + e.dropped(2, VLAN)).toBe(0n);
  });

  it("needs a reset after a transmit chain without its header, and works after it", () => {
    const a = new NetDriver(A, phys).start(), b = new NetDriver(B, phys).start();
    const gpa = a.alloc(8);
    a.tx.offer([{ gpa, len: 8, write: false }]);
    a.notify(1);
    expect(a.status & NEEDS_RESET).toBe(NEEDS_RESET);
    expect(vectorsSent()).toEqual([0]); // the configuration-change vector
    a.start();
    b.offerReceive(1536);
    a.send(frame(MAC_B, MAC_A));
    expect(b.received()).toHaveLength(1);
  });

  it("needs a reset after a receive buffer the device cannot write, and the sender carries on", () => {
    const a = new NetDriver(A, phys).start(), b = new NetDriver(B, phys).start();
    const gpa = b.alloc(1536);
    b.ring.offer([{ gpa, len: 1536, write: false }]);
    a.send(frame(MAC_B, MAC_A));
    expect(b.status & NEEDS_RESET).toBe(NEEDS_RESET);
    expect(a.status & NEEDS_RESET).toBe(0);
    expect(a.tx.takeUsed()).toHaveLength(1);
    expect(e.dropped(1, QUEUE_FULL)).toBe(1n);
  });

  it("holds a's transmissions to its cap of bytes per second", () => {
    const a = new NetDriver(A, phys).start(), b = new NetDriver(B, phys).start();
    const start = tsc.clock;
    let delivered = 0;
    // A second of frames offered as fast as the queue takes them.
    for (let round = 0; tsc.clock < start + HZ; round++) {
      b.offerReceive(...Array<number>(16).fill(1536));
      for (let i = 0; i < 16; i++) a.send(frame(MAC_B, MAC_A, 1514, round));
      delivered += b.received().length;
      a.tx.takeUsed();
      while (e.resumeAt(0) !== 0xffff_ffff_ffff_ffffn) {
        tsc.clock = e.resumeAt(0);
        e.resume(0);
        delivered += b.received().length;
      }
    }
    // 1 MB/s of payload, with 50 ms of credit at the start.
    const bytes = delivered * 1514;
    expect(bytes).toBeGreaterThan(0.99e6);
    expect(bytes).toBeLessThan(1.06e6 + 1514 * 16);
  });
});
