// The hypervisor's management port (vmm/net/ip/management.ts) on the
// virtual switch, with the real lwIP instance (build/lwip.wasm) behind the
// shim's ip_* imports, which copy frames across with the glue's checks
// (linker/ipstack.c): a VM on the port's VLAN gets its ARP and echo
// replies before its send returns; a VM on another VLAN reaches nothing;
// frames for other addresses are kept from lwIP; the scheduler's poll
// passes lwIP the time; a stopped stack's frames count as queue full; an
// answer to a frame from a polled port (the uplink) goes out without that
// port being polled from inside its own poll.
import { beforeAll, describe, expect, it } from "vitest";
import { compileLwip, instantiate } from "./lwipinstance";
import { load } from "./harness";

interface ManagementExports {
  frameBuffer(): number;
  start(macA: bigint, macC: bigint): void;
  sendFrom(vm: number, length: number, now: bigint): void;
  poll(now: bigint): void;
  receivedCount(vm: number): number;
  received(vm: number, i: number): number;
  describe(): number;
  queueOnWire(length: number): void;
  pollWire(now: bigint): void;
  wireReceivedCount(): number;
  wireReceived(i: number): number;
  wireReentered(): number;
}

const A = 0, C = 1;
const MAC_A = [0x52, 0x54, 0x00, 0x12, 0x00, 0x00], MAC_C = [0x52, 0x54, 0x00, 0x12, 0x01, 0x00];
const MANAGEMENT_MAC = [0x52, 0x54, 0x00, 0x13, 0x00, 0x01];
const ADDRESS = [10, 0, 2, 20], IP_A = [10, 0, 2, 15];
const BROADCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
const macValue = (m: number[]) => m.reduce((v, b) => (v << 8n) | BigInt(b), 0n);

let lwip: WebAssembly.Module;
beforeAll(() => {
  lwip = compileLwip();
});

function arpRequest(from: number[], fromIp: number[], target: number[]): number[] {
  const body = [0, 1, 8, 0, 6, 4, 0, 1, ...from, ...fromIp, 0, 0, 0, 0, 0, 0, ...target];
  return [...BROADCAST, ...from, 0x08, 0x06, ...body, ...new Array(18).fill(0)];
}

function echoRequest(from: number[], fromIp: number[], to: number[], toMac: number[]): number[] {
  const sum = (b: number[]) => {
    let s = 0;
    for (let i = 0; i < b.length; i += 2) s += (b[i] << 8) | (b[i + 1] ?? 0);
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    return ~s & 0xffff;
  };
  const icmp = [8, 0, 0, 0, 0x12, 0x34, 0, 1, 1, 2, 3, 4];
  const ic = sum(icmp);
  icmp.splice(2, 2, ic >> 8, ic & 0xff);
  const ip = [0x45, 0, 0, 20 + icmp.length, 0, 1, 0, 0, 64, 1, 0, 0, ...fromIp, ...to];
  const hc = sum(ip);
  ip.splice(10, 2, hc >> 8, hc & 0xff);
  return [...toMac, ...from, 0x08, 0x00, ...ip, ...icmp];
}

// The switch with a, c and the management port, lwIP behind the shim.
async function started(opts: { failed?: boolean } = {}) {
  const { stack, memory } = instantiate(lwip);
  const lwipBytes = () => new Uint8Array(memory.buffer);
  let kernel: () => Uint8Array = () => new Uint8Array();
  const inputs: number[] = [], polls: number[] = [];
  // The glue's checks: both ranges inside their memories, the length within the buffer.
  const within = (m: Uint8Array, offset: number, length: number) => offset + length <= m.length;
  const shim = {
    ip_start: (mac: bigint, address: number, netmask: number, gateway: number, seed: number) => {
      stack.start(Number(mac >> 32n), Number(mac & 0xffff_ffffn), address, netmask, gateway, seed);
      return 1;
    },
    ip_input: (offset: number, length: number) => {
      const to = stack.receive_buffer();
      expect(length <= stack.frame_capacity() && within(kernel(), offset, length)).toBe(true);
      inputs.push(length);
      lwipBytes().set(kernel().subarray(offset, offset + length), to);
      stack.input(length);
    },
    ip_poll: (nowMs: number) => {
      polls.push(nowMs);
      stack.poll(nowMs);
    },
    ip_output: (offset: number, capacity: number) => {
      const length = opts.failed ? 0 : stack.pending();
      if (length === 0) return 0;
      expect(length <= capacity && within(kernel(), offset, length)).toBe(true);
      kernel().set(lwipBytes().subarray(stack.pending_frame(), stack.pending_frame() + length), offset);
      stack.pop();
      return length;
    },
    ip_failed: () => (opts.failed ? 1 : 0),
  };
  const unit = await load<ManagementExports>("management.ts", { shim });
  const e = unit.exports;
  kernel = () => new Uint8Array(e.memory.buffer);
  e.start(macValue(MAC_A), macValue(MAC_C));
  let now = 1_000_000n;
  return {
    e,
    inputs,
    polls,
    serial: () => unit.machine.serial(),
    send(vm: number, f: number[]) {
      e.__getUint8ArrayView(e.frameBuffer()).set(f);
      e.sendFrom(vm, f.length, now += 1000n);
    },
    poll: () => e.poll(now += 250_000n),
    received: (vm: number) =>
      Array.from({ length: e.receivedCount(vm) }, (_, i) => [...e.__getUint8Array(e.received(vm, i))]),
    describe: () => e.__getString(e.describe()),
    fromWire(f: number[]) {
      e.__getUint8ArrayView(e.frameBuffer()).set(f);
      e.queueOnWire(f.length);
      e.pollWire(now += 1000n);
    },
    wireReceived: () =>
      Array.from({ length: e.wireReceivedCount() }, (_, i) => [...e.__getUint8Array(e.wireReceived(i))]),
  };
}

describe("the management port", () => {
  it("says where it is when it starts", async () => {
    const s = await started();
    expect(s.serial()).toContain("management: 10.0.2.20/24 on VLAN 1, 52:54:00:13:00:01\n");
  });

  it("answers ARP and ping from a VM on its VLAN before the VM's send returns", async () => {
    const s = await started();
    // lwIP's gratuitous ARP went out at the first poll, to a only.
    s.poll();
    expect(s.received(A).map((f) => f.slice(0, 14))).toEqual([[...BROADCAST, ...MANAGEMENT_MAC, 0x08, 0x06]]);
    expect(s.received(C)).toEqual([]);
    s.send(A, arpRequest(MAC_A, IP_A, ADDRESS));
    const arp = s.received(A)[1];
    expect(arp.slice(0, 14)).toEqual([...MAC_A, ...MANAGEMENT_MAC, 0x08, 0x06]);
    expect(arp.slice(20, 32)).toEqual([0, 2, ...MANAGEMENT_MAC, ...ADDRESS]);
    s.send(A, echoRequest(MAC_A, IP_A, ADDRESS, MANAGEMENT_MAC));
    const echo = s.received(A)[2];
    expect(echo.slice(0, 14)).toEqual([...MAC_A, ...MANAGEMENT_MAC, 0x08, 0x00]);
    expect([...echo.slice(26, 34), echo[34]]).toEqual([...ADDRESS, ...IP_A, 0]); // from us to a, an echo reply
    expect(s.describe()).toBe("sent 3, received 2");
  });

  it("is out of reach of a VM on another VLAN", async () => {
    const s = await started();
    s.send(C, arpRequest(MAC_C, [10, 0, 2, 16], ADDRESS));
    s.send(C, echoRequest(MAC_C, [10, 0, 2, 16], ADDRESS, MANAGEMENT_MAC));
    expect(s.inputs).toEqual([]);
    expect(s.received(C)).toEqual([]);
  });

  it("keeps frames for other addresses from lwIP", async () => {
    const s = await started();
    // To a MAC nobody has: flooded on VLAN 1, the management port included.
    s.send(A, echoRequest(MAC_A, IP_A, ADDRESS, [0x52, 0x54, 0x00, 0x99, 0x99, 0x99]));
    expect(s.inputs).toEqual([]);
    expect(s.describe()).toBe("sent 1, received 1"); // sent: its gratuitous ARP
    s.send(A, arpRequest(MAC_A, IP_A, ADDRESS));
    expect(s.inputs).toEqual([60]);
  });

  it("passes lwIP the time in milliseconds when polled", async () => {
    const s = await started();
    s.poll();
    s.poll();
    expect(s.polls.slice(-2)).toEqual([1250, 1500]);
  });

  it("refuses frames once lwIP has stopped after a trap, as queue full", async () => {
    const s = await started({ failed: true });
    s.send(A, arpRequest(MAC_A, IP_A, ADDRESS));
    expect(s.inputs).toEqual([]);
    expect(s.describe()).toBe("sent 0, received 0, dropped 1 (queue full 1)");
  });

  it("answers a frame from the wire without polling the wire inside its own poll", async () => {
    const s = await started();
    const wireMac = [0x52, 0x54, 0x00, 0xbb, 0x00, 0x01];
    s.fromWire(arpRequest(wireMac, [10, 0, 2, 30], ADDRESS));
    // The gratuitous ARP (drained at the first poll), then the answer.
    const replies = s.wireReceived().filter((f) => f[21] === 2);
    expect(replies.map((f) => f.slice(0, 6))).toEqual([wireMac]);
    expect(s.e.wireReentered()).toBe(0);
  });
});
