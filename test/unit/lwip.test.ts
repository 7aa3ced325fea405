// The hypervisor's TCP/IP stack as the build makes it (build/lwip.wasm:
// lwIP from Debian's source package with linker/lwip/, docs/lwip.md), run
// in Node through the exports the glue (linker/ipstack.c) calls: it
// imports nothing but its memory; it announces its address when it
// starts; it answers ARP and ping for its own address only, with correct
// checksums, to the asker's MAC; a closed TCP port answers a SYN with a
// reset.
import { beforeAll, describe, expect, it } from "vitest";
import { compileLwip, instantiate } from "./lwipinstance";

const MAC = [0x52, 0x54, 0x00, 0x13, 0x00, 0x01];
const PEER_MAC = [0x52, 0x54, 0x00, 0x12, 0x00, 0x00];
const ADDRESS = [10, 0, 2, 20], PEER = [10, 0, 2, 15], OTHER = [10, 0, 2, 21];
const BROADCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
const ETH_ARP = [0x08, 0x06], ETH_IPV4 = [0x08, 0x00];
const u32 = (a: number[]) => ((a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]) >>> 0;

let module: WebAssembly.Module;
beforeAll(() => {
  module = compileLwip();
});

// A started stack at ADDRESS/24 and its memory; sent() takes what it has sent, oldest first.
function started() {
  const { stack, memory } = instantiate(module);
  stack.start(0x5254, 0x00130001, u32(ADDRESS), u32([255, 255, 255, 0]), 0, 12345);
  const bytes = () => new Uint8Array(memory.buffer);
  const sent = () => {
    const out: number[][] = [];
    for (let n = stack.pending(); n > 0; n = stack.pending()) {
      out.push([...bytes().slice(stack.pending_frame(), stack.pending_frame() + n)]);
      stack.pop();
    }
    return out;
  };
  const receive = (frame: number[]) => {
    bytes().set(frame, stack.receive_buffer());
    stack.input(frame.length);
  };
  return { stack, sent, receive };
}

// The Internet checksum (RFC 1071) of `bytes`: 0 over data that carries its own.
function checksum(bytes: number[]): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i] << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
const withChecksum = (bytes: number[], at: number) => {
  const c = checksum(bytes);
  bytes[at] = c >> 8;
  bytes[at + 1] = c & 0xff;
  return bytes;
};

function arpRequest(target: number[]): number[] {
  const body = [0, 1, 8, 0, 6, 4, 0, 1, ...PEER_MAC, ...PEER, 0, 0, 0, 0, 0, 0, ...target];
  return [...BROADCAST, ...PEER_MAC, ...ETH_ARP, ...body, ...new Array(18).fill(0)];
}

// An IPv4 packet from PEER to `to` of `protocol`, in a frame to MAC.
function ipv4(to: number[], protocol: number, payload: number[]): number[] {
  const header = withChecksum([0x45, 0, 0, 20 + payload.length, 0, 1, 0, 0, 64, protocol, 0, 0, ...PEER, ...to], 10);
  return [...MAC, ...PEER_MAC, ...ETH_IPV4, ...header, ...payload];
}
const echoRequest = (to: number[]) =>
  ipv4(to, 1, withChecksum([8, 0, 0, 0, 0x12, 0x34, 0, 1, ...Buffer.from("typervisor")], 2));

describe("lwIP's instance", () => {
  it("imports nothing but its memory", () => {
    expect(WebAssembly.Module.imports(module)).toEqual([{ module: "env", name: "memory", kind: "memory" }]);
  });

  it("announces its address when it starts (a gratuitous ARP from its MAC)", () => {
    const frames = started().sent();
    expect(frames).toHaveLength(1);
    expect(frames[0].slice(0, 14)).toEqual([...BROADCAST, ...MAC, ...ETH_ARP]);
    expect(frames[0].slice(14 + 8)).toEqual([...MAC, ...ADDRESS, 0, 0, 0, 0, 0, 0, ...ADDRESS]);
  });

  it("answers ARP for its own address only", () => {
    const s = started();
    s.sent();
    s.receive(arpRequest(OTHER));
    expect(s.sent()).toEqual([]);
    s.receive(arpRequest(ADDRESS));
    const reply = s.sent();
    expect(reply).toHaveLength(1);
    // An ARP reply (opcode 2) to the asker: our MAC has our address.
    expect(reply[0].slice(0, 14)).toEqual([...PEER_MAC, ...MAC, ...ETH_ARP]);
    expect(reply[0].slice(20, 42)).toEqual([0, 2, ...MAC, ...ADDRESS, ...PEER_MAC, ...PEER]);
  });

  it("answers ping to its address with the request's data and good checksums, and ignores other addresses", () => {
    const s = started();
    s.sent();
    s.receive(arpRequest(ADDRESS));
    s.sent();
    s.receive(echoRequest(OTHER));
    expect(s.sent()).toEqual([]);
    s.receive(echoRequest(ADDRESS));
    const [reply] = s.sent();
    expect(reply.slice(0, 14)).toEqual([...PEER_MAC, ...MAC, ...ETH_IPV4]);
    const ip = reply.slice(14, 34), icmp = reply.slice(34);
    expect(checksum(ip)).toBe(0);
    expect([ip[9], ...ip.slice(12, 20)]).toEqual([1, ...ADDRESS, ...PEER]);
    expect(checksum(icmp)).toBe(0);
    expect(icmp[0]).toBe(0); // echo reply
    expect(Buffer.from(icmp.slice(8)).toString()).toBe("typervisor");
  });

  it("resets a TCP connection to a port nobody listens on", () => {
    const s = started();
    s.sent();
    s.receive(arpRequest(ADDRESS));
    s.sent();
    // A SYN from port 40000 to port 22, sequence number 1000; its checksum covers a pseudo-header.
    const segment = [0x9c, 0x40, 0, 22, 0, 0, 0x03, 0xe8, 0, 0, 0, 0, 0x50, 0x02, 0x20, 0, 0, 0, 0, 0];
    const pseudo = [...PEER, ...ADDRESS, 0, 6, 0, segment.length];
    const c = checksum([...pseudo, ...segment]);
    segment[16] = c >> 8;
    segment[17] = c & 0xff;
    s.receive(ipv4(ADDRESS, 6, segment));
    const [reset] = s.sent();
    const tcp = reset.slice(34);
    expect([tcp[0] << 8 | tcp[1], tcp[2] << 8 | tcp[3]]).toEqual([22, 40000]);
    expect(tcp[13] & 0x14).toBe(0x14); // RST and ACK
    expect(((tcp[8] << 24) | (tcp[9] << 16) | (tcp[10] << 8) | tcp[11]) >>> 0).toBe(1001);
  });
});
