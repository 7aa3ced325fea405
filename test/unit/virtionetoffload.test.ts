// virtio-net's checksum and segmentation offloads (virtio 1.2, 5.1.6;
// vmm/devices/virtio/net.ts, vmm/net/offload.ts) between the VMs of
// test/unit/as/virtionet.ts, driven by test/unit/netdriver.ts. A TCP/IPv4
// frame with its checksum partial reaches a driver that took GUEST_CSUM as
// it was sent, and one that did not with its checksum done; a 20 KiB TCP
// segment reaches a GUEST_TSO4 driver whole and any other driver cut into
// frames, each checked here: sizes, IPv4 length, identification and header
// checksum, sequence numbers, flags, and the TCP checksum, every checksum
// by this file's own sum. A TCP/IPv6 segment the same way, by GUEST_TSO6:
// its frames' payload lengths, and their checksums over IPv6's
// pseudo-header. Hostile headers are dropped and counted, and the NICs
// carry on.
import { beforeEach, describe, expect, it } from "vitest";
import { type Exports, PhysMemory } from "./harness";
import {
  A,
  B,
  BAD_OFFLOAD,
  F_GUEST_CSUM,
  F_GUEST_TSO4,
  F_GUEST_TSO6,
  F_HOST_TSO4,
  F_HOST_TSO6,
  loadNetMachine,
  MAC_A,
  MALFORMED,
  MAC_B,
  type NetExports,
  NetDriver,
  NO_WORK,
  octets,
} from "./netdriver";

let phys: PhysMemory;
let e: Exports<NetExports>;
beforeEach(async () => {
  ({ e, phys } = await loadNetMachine(0n));
});

const NEEDS_CSUM = 1, GSO_TCPV4 = 1, GSO_UDP = 3, GSO_TCPV6 = 4, GSO_ECN = 0x80;
const IP = 14, TCP = 34, TCP_HEADER = 32; // with the timestamps option, as Linux sends
const HEADERS = TCP + TCP_HEADER;
const FIN = 0x01, PSH = 0x08, ACK = 0x10, CWR = 0x80;
const SEQUENCE = 0x7fff_f000; // wraps past 2^31 within the segment

// The ones' complement sum of 16-bit big-endian words, an odd byte padded.
function sum16(bytes: Uint8Array, from = 0, to = bytes.length, start = 0): number {
  let s = start;
  for (let i = from; i < to; i += 2) s += (bytes[i] << 8) | (i + 1 < to ? bytes[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}
// TCP's pseudo-header (RFC 9293, 3.1) sum for `f`'s addresses and a TCP length.
const pseudo = (f: Uint8Array, tcpLength: number) => sum16(f, IP + 12, IP + 20, 6 + tcpLength);
const be16 = (f: Uint8Array, at: number) => (f[at] << 8) | f[at + 1];
const be32 = (f: Uint8Array, at: number) => ((be16(f, at) << 16) | be16(f, at + 2)) >>> 0;

// A TCP/IPv4 frame from a to b with `data` bytes of payload, as Linux hands
// it over with checksum offload: the IPv4 header whole, the TCP checksum
// field holding the pseudo-header's sum (its length `seedLength`).
function tcpFrame(data: number, flags = ACK | PSH, seedLength = TCP_HEADER + data): Uint8Array {
  const f = new Uint8Array(HEADERS + data), v = new DataView(f.buffer);
  f.set([...octets(MAC_B), ...octets(MAC_A), 0x08, 0x00]);
  f.set([0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2], IP);
  v.setUint16(IP + 2, 20 + TCP_HEADER + data);
  v.setUint16(IP + 10, ~sum16(f, IP, TCP) & 0xffff);
  v.setUint16(TCP, 40000);
  v.setUint16(TCP + 2, 5001);
  v.setUint32(TCP + 4, SEQUENCE);
  v.setUint32(TCP + 8, 0x1000);
  f[TCP + 12] = (TCP_HEADER / 4) << 4;
  f[TCP + 13] = flags;
  v.setUint16(TCP + 14, 64000);
  f.set([1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9], TCP + 20); // NOP, NOP, timestamps
  for (let i = 0; i < data; i++) f[HEADERS + i] = (i * 7 + (i >> 8)) & 0xff;
  v.setUint16(TCP + 16, pseudo(f, seedLength));
  return f;
}
const partial = { ...NO_WORK, flags: NEEDS_CSUM, csumStart: TCP, csumOffset: 16 };
const segment = (gsoSize: number) => ({ ...partial, gsoType: GSO_TCPV4, gsoSize, hdrLen: HEADERS });

// Whether `f`'s IPv4 header checksum and TCP checksum (over its IPv4 length) are right.
function checksumsRight(f: Uint8Array): boolean {
  const tcpLength = be16(f, IP + 2) - 20;
  return sum16(f, IP, TCP) === 0xffff && sum16(f, TCP, TCP + tcpLength, pseudo(f, tcpLength)) === 0xffff;
}

const withoutOffloads = (f: bigint) => f & ~(F_GUEST_CSUM | F_GUEST_TSO4 | F_GUEST_TSO6);
const withoutTso = (f: bigint) => f & ~F_GUEST_TSO4;

// The IPv6 frame (RFC 8200, 3) of the same TCP segment as tcpFrame(), from
// fd00::1 to fd00::2: TCP right after the 40-byte header, its checksum
// field seeded with IPv6's pseudo-header sum.
const IP6_TCP = IP + 40, IP6_HEADERS = IP6_TCP + TCP_HEADER;
const pseudo6 = (f: Uint8Array, tcpLength: number) => sum16(f, IP + 8, IP + 40, 6 + tcpLength);
function tcp6Frame(data: number, flags = ACK | PSH, nextHeader = 6): Uint8Array {
  const v4 = tcpFrame(data, flags), f = new Uint8Array(IP6_HEADERS + data), v = new DataView(f.buffer);
  f.set([...octets(MAC_B), ...octets(MAC_A), 0x86, 0xdd]);
  f.set([0x60, 0, 0, 0, 0, 0, nextHeader, 64], IP);
  v.setUint16(IP + 4, TCP_HEADER + data);
  f[IP + 8] = f[IP + 24] = 0xfd;
  f[IP + 23] = 1;
  f[IP + 39] = 2;
  f.set(v4.subarray(TCP), IP6_TCP);
  v.setUint16(IP6_TCP + 16, pseudo6(f, 0));
  return f;
}
const segment6 = (gsoSize: number) => ({
  ...partial,
  csumStart: IP6_TCP,
  gsoType: GSO_TCPV6,
  gsoSize,
  hdrLen: IP6_HEADERS,
});

describe("checksum offload", () => {
  it("carries a partial checksum to a driver that took GUEST_CSUM as it was sent", () => {
    const a = new NetDriver(A, phys).start(), b = new NetDriver(B, phys).start(withoutTso);
    b.offerReceive(1536);
    const f = tcpFrame(1000);
    a.send(f, false, partial);
    const [got] = b.receivedWithHeaders();
    expect(got.header).toEqual({ ...partial, hdrLen: 0, gsoSize: 0, gsoType: 0 });
    expect(got.frame).toEqual(f);
    expect(checksumsRight(got.frame)).toBe(false);
  });

  it("completes it for a driver that did not, over csum_start to the end", () => {
    const a = new NetDriver(A, phys).start(), b = new NetDriver(B, phys).start(withoutOffloads);
    b.offerReceive(1536, 1536);
    for (const data of [1000, 1001]) {
      const f = tcpFrame(data);
      a.send(f, true, partial);
      const [got] = b.receivedWithHeaders();
      expect(got.header).toEqual(NO_WORK);
      expect(checksumsRight(got.frame)).toBe(true);
      // Only the checksum changed.
      expect([...got.frame.subarray(0, TCP + 16), ...got.frame.subarray(TCP + 18)]).toEqual([
        ...f.subarray(0, TCP + 16),
        ...f.subarray(TCP + 18),
      ]);
    }
  });
});

describe("segmentation offload", () => {
  const DATA = 20_000, MSS = 1448;

  it("hands a 20 KiB TCP segment whole to a driver that took GUEST_TSO4, over merged buffers", () => {
    const a = new NetDriver(A, phys).start(), b = new NetDriver(B, phys).start();
    b.offerReceive(...Array<number>(16).fill(1536));
    const f = tcpFrame(DATA, ACK | PSH, 0);
    a.send(f, false, { ...segment(MSS), hdrLen: 100 }); // Linux's hdr_len: the skb's linear part
    const [got] = b.receivedWithHeaders();
    expect(got.header).toEqual(segment(MSS));
    expect(got.numBuffers).toBe(Math.ceil((f.length + 12) / 1536));
    expect(got.frame).toEqual(f);
    expect(e.dropped(1, BAD_OFFLOAD)).toBe(0n);
  });

  it("cuts it into frames of gso_size for a driver that did not, each with its headers and checksums", () => {
    const a = new NetDriver(A, phys).start(), b = new NetDriver(B, phys).start(withoutOffloads);
    const count = Math.ceil(DATA / MSS);
    b.offerReceive(...Array<number>(count).fill(1536));
    const f = tcpFrame(DATA, CWR | ACK | PSH | FIN, 0);
    a.send(f, false, segment(MSS));
    const frames = b.receivedWithHeaders();
    expect(frames).toHaveLength(count);
    let data: number[] = [];
    frames.forEach(({ header, frame: s }, i) => {
      const last = i === count - 1, size = last ? DATA - MSS * (count - 1) : MSS;
      expect(header).toEqual(NO_WORK);
      expect(s.length).toBe(HEADERS + size);
      expect(be16(s, IP + 2)).toBe(20 + TCP_HEADER + size);
      expect(be16(s, IP + 4)).toBe(0x1234 + i);
      expect(be32(s, TCP + 4)).toBe((SEQUENCE + MSS * i) >>> 0);
      expect(s[TCP + 13]).toBe((i === 0 ? CWR : 0) | ACK | (last ? PSH | FIN : 0));
      expect(checksumsRight(s)).toBe(true);
      // The rest of the headers as sent.
      expect([...s.subarray(0, IP + 2), ...s.subarray(IP + 6, IP + 10), ...s.subarray(IP + 12, TCP + 4)]).toEqual([
        ...f.subarray(0, IP + 2),
        ...f.subarray(IP + 6, IP + 10),
        ...f.subarray(IP + 12, TCP + 4),
      ]);
      expect([...s.subarray(TCP + 8, TCP + 13), ...s.subarray(TCP + 14, TCP + 16), ...s.subarray(TCP + 18, HEADERS)])
        .toEqual([
          ...f.subarray(TCP + 8, TCP + 13),
          ...f.subarray(TCP + 14, TCP + 16),
          ...f.subarray(TCP + 18, HEADERS),
        ]);
      data = data.concat([...s.subarray(HEADERS)]);
    });
    expect(data).toEqual([...f.subarray(HEADERS)]);
  });

  it("takes a 64 KiB segment, the most an IPv4 packet holds", () => {
    const a = new NetDriver(A, phys).start(), b = new NetDriver(B, phys).start();
    b.offerReceive(...Array<number>(17).fill(4096));
    const f = tcpFrame(65535 - 20 - TCP_HEADER, ACK, 0);
    a.send(f, false, segment(MSS));
    const [got] = b.receivedWithHeaders();
    expect(got.frame).toEqual(f);
  });
});

describe("segmentation offload over IPv6", () => {
  const DATA = 20_000, MSS = 1428;

  it("hands a 20 KiB TCP/IPv6 segment whole to a driver that took GUEST_TSO6", () => {
    const a = new NetDriver(A, phys).start(), b = new NetDriver(B, phys).start();
    b.offerReceive(...Array<number>(16).fill(1536));
    const f = tcp6Frame(DATA);
    a.send(f, false, segment6(MSS));
    const [got] = b.receivedWithHeaders();
    expect(got.header).toEqual(segment6(MSS));
    expect(got.frame).toEqual(f);
  });

  it("cuts it for a driver that took GUEST_TSO4 only: payload lengths, sequence numbers, checksums", () => {
    const a = new NetDriver(A, phys).start(), b = new NetDriver(B, phys).start((f) => f & ~F_GUEST_TSO6);
    const count = Math.ceil(DATA / MSS);
    b.offerReceive(...Array<number>(count).fill(1536));
    const f = tcp6Frame(DATA, ACK | PSH | FIN);
    a.send(f, false, segment6(MSS));
    const frames = b.receivedWithHeaders();
    expect(frames).toHaveLength(count);
    let data: number[] = [];
    frames.forEach(({ header, frame: s }, i) => {
      const last = i === count - 1, size = last ? DATA - MSS * (count - 1) : MSS, tcpLength = TCP_HEADER + size;
      expect(header).toEqual(NO_WORK);
      expect(s.length).toBe(IP6_HEADERS + size);
      expect(be16(s, IP + 4)).toBe(tcpLength);
      expect(be32(s, IP6_TCP + 4)).toBe((SEQUENCE + MSS * i) >>> 0);
      expect(s[IP6_TCP + 13]).toBe(ACK | (last ? PSH | FIN : 0));
      expect(sum16(s, IP6_TCP, IP6_TCP + tcpLength, pseudo6(s, tcpLength))).toBe(0xffff);
      expect([...s.subarray(0, IP + 4), ...s.subarray(IP + 6, IP6_TCP + 4)]).toEqual([
        ...f.subarray(0, IP + 4),
        ...f.subarray(IP + 6, IP6_TCP + 4),
      ]);
      data = data.concat([...s.subarray(IP6_HEADERS)]);
    });
    expect(data).toEqual([...f.subarray(IP6_HEADERS)]);
  });

  it("takes a segment of 65535 bytes of IPv6 payload, 20 more than an IPv4 packet holds", () => {
    const a = new NetDriver(A, phys).start(), b = new NetDriver(B, phys).start();
    b.offerReceive(...Array<number>(17).fill(4096));
    const f = tcp6Frame(65535 - TCP_HEADER);
    a.send(f, false, segment6(MSS));
    const [got] = b.receivedWithHeaders();
    expect(got.frame).toEqual(f);
  });
});

describe("a hostile driver's headers", () => {
  const DATA = 4000;
  const hostile: Array<[string, Uint8Array, typeof NO_WORK, number?]> = [
    ["csum_start beyond the frame", tcpFrame(100), { ...partial, csumStart: HEADERS + 100 }],
    ["csum_offset beyond the frame", tcpFrame(100), { ...partial, csumOffset: HEADERS + 100 - TCP - 1 }],
    ["csum_start in the Ethernet header", tcpFrame(100), { ...partial, csumStart: 4 }],
    ["gso_size 0", tcpFrame(DATA), segment(0)],
    ["gso_size too small", tcpFrame(DATA), segment(8)],
    ["gso_size beyond a frame", tcpFrame(DATA), segment(1500)],
    ["hdr_len beyond the frame", tcpFrame(DATA), { ...segment(1448), hdrLen: HEADERS + DATA + 1 }],
    ["gso_type UDP, not offered", tcpFrame(DATA), { ...segment(1448), gsoType: GSO_UDP }],
    ["gso_type TCPv6 on an IPv4 frame", tcpFrame(DATA), { ...segment(1448), gsoType: GSO_TCPV6 }],
    ["a TCP/IPv6 segment behind an extension header", tcp6Frame(DATA, ACK, 0), segment6(1428)],
    ["a TCP/IPv6 segment whose csum_start is not its TCP header", tcp6Frame(DATA), {
      ...segment6(1428),
      csumStart: 54 + 8,
    }],
    ["gso_type with ECN, not offered", tcpFrame(DATA), { ...segment(1448), gsoType: GSO_TCPV4 | GSO_ECN }],
    ["a segment without NEEDS_CSUM", tcpFrame(DATA), { ...segment(1448), flags: 0 }],
    ["a segment whose csum_start is not its TCP header", tcpFrame(DATA), { ...segment(1448), csumStart: IP }],
    ["a 64 KiB segment that is UDP", udp(tcpFrame(60_000)), segment(1448)],
    ["a 64 KiB segment that is not IPv4", ipv6(tcpFrame(60_000)), segment(1448)],
    ["a segment larger than an IPv4 packet", tcpFrame(65535 - 20 - TCP_HEADER + 1), segment(1448)],
    ["a segment larger than an IPv6 packet", tcp6Frame(65535 - TCP_HEADER + 1), segment6(1428), MALFORMED],
  ];

  it.each(hostile)("drops and counts %s, and the NICs carry on", (_, f, header, cause = BAD_OFFLOAD) => {
    const a = new NetDriver(A, phys).start(), b = new NetDriver(B, phys).start(withoutOffloads);
    b.offerReceive(...Array<number>(8).fill(1536));
    a.send(f, false, header);
    expect([e.dropped(0, BAD_OFFLOAD), e.dropped(0, MALFORMED)]).toEqual(cause === MALFORMED ? [0n, 1n] : [1n, 0n]);
    expect(b.received()).toHaveLength(0);
    expect(a.tx.takeUsed()).toHaveLength(1);
    const good = tcpFrame(1000);
    a.send(good, false, partial);
    const [got] = b.received();
    expect(checksumsRight(got.frame)).toBe(true);
  });

  it("drops offloads the driver did not negotiate", () => {
    const a = new NetDriver(A, phys).start((f) => f & ~(F_HOST_TSO4 | F_HOST_TSO6)), b = new NetDriver(B, phys).start();
    b.offerReceive(...Array<number>(8).fill(1536));
    a.send(tcpFrame(DATA, ACK, 0), false, segment(1448));
    a.send(tcp6Frame(DATA), false, segment6(1428));
    expect(e.dropped(0, BAD_OFFLOAD)).toBe(2n);
    expect(b.received()).toHaveLength(0);
  });
});

// `f` with its IPv4 protocol UDP.
function udp(f: Uint8Array): Uint8Array {
  const g = f.slice();
  g[IP + 9] = 17;
  return g;
}
// `f` with its EtherType IPv6.
function ipv6(f: Uint8Array): Uint8Array {
  const g = f.slice();
  g[13] = 0xdd;
  g[12] = 0x86;
  return g;
}
