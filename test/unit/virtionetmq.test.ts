// virtio-net with several queue pairs (vmm/devices/virtio/net.ts and
// netcontrol.ts, vmm/net/flow.ts; virtio 1.2, 5.1.6.5): NIC d of the unit
// machine (netdriver.ts) belongs to a VM of two vCPUs and has two pairs
// and a control queue. Its driver takes F_MQ and F_CTRL_VQ, sets up the
// five queues as Linux does, and says through the control queue how many
// pairs it uses, as Linux's commands lay it out: the class and command in
// one buffer, the data in a second, the answer in a third. A frame goes
// back to the pair that last sent one of its flow, on that receive
// queue's MSI-X vector.
import { beforeEach, describe, expect, it } from "vitest";
import { type Exports, PhysMemory } from "./harness";
import {
  A,
  D,
  F_CTRL_VQ,
  F_MQ,
  loadNetMachine,
  MAC_A,
  MAC_BASE,
  type NetExports,
  NetDriver,
  octets,
  ramOf,
  RX_VECTOR,
} from "./netdriver";
import { C, msiData, NEEDS_RESET, Ring, useMachine } from "./virtiodriver";

const MAC_D = MAC_BASE + 3n;
// Control commands (5.1.6.5): class MQ, VQ_PAIRS_SET; the answers.
const CLASS_MQ = 4, VQ_PAIRS_SET = 0, CLASS_RX = 0, OK = 0, ERR = 1;
// IPv4 addresses of a and d.
const IP_A = [10, 0, 0, 1], IP_D = [10, 0, 0, 4];

let phys: PhysMemory;
let e: Exports<NetExports>;
beforeEach(async () => {
  ({ e, phys } = await loadNetMachine(0n));
  useMachine(e, ramOf(phys, D));
});

const vectorsSent = () => Array.from({ length: e.messageCount() }, (_, i) => e.messageData(i) - msiData(0));

// A TCP/IPv4 frame (its checksums left as zeros: the switch does not read them).
function tcp(dst: bigint, src: bigint, from: number[], to: number[], sport: number, dport: number): Uint8Array {
  const ip = [0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, ...from, ...to];
  const header = [sport >> 8, sport & 0xff, dport >> 8, dport & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 1, 0, 0, 0];
  return Uint8Array.from([...octets(dst), ...octets(src), 0x08, 0x00, ...ip, ...header, 0, 0]);
}
const fromD = (sport: number) => tcp(MAC_A, MAC_D, IP_D, IP_A, sport, 80);
const toD = (dport: number) => tcp(MAC_D, MAC_A, IP_A, IP_D, 80, dport);

// d's driver: pair 0 as NetDriver has it, pair 1's rings and the control
// queue's in guest RAM below the driver's heap, vectors 3 to 5 after
// pair 0's 1 and 2. Without F_MQ the control queue is queue 2.
class MqDriver extends NetDriver {
  readonly rx1: Ring;
  readonly tx1: Ring;
  readonly control: Ring;
  readonly controlIndex: number;
  constructor(accept = (offered: bigint) => offered) {
    super(D, phys);
    const ring = (at: bigint) => new Ring(32, at, at + 0x400n, at + 0x800n, this.ram);
    [this.rx1, this.tx1, this.control] = [ring(0x9000n), ring(0xa000n), ring(0xb000n)];
    const multiqueue = (accept(F_MQ | F_CTRL_VQ) & F_MQ) !== 0n;
    this.controlIndex = multiqueue ? 4 : 2;
    this.start(accept, multiqueue ? [this.rx1, this.tx1, this.control] : [this.control]);
  }

  // Sends one command of `bytes` (class, command, data) and returns the
  // device's answer.
  command(...bytes: number[]): number {
    const head = this.alloc(2), data = this.alloc(bytes.length - 2), answer = this.alloc(1);
    this.phys.writeBytes(this.ram.hpa + head, Uint8Array.from(bytes.slice(0, 2)));
    this.phys.writeBytes(this.ram.hpa + data, Uint8Array.from(bytes.slice(2)));
    const buffers = [{ gpa: head, len: 2, write: false }, { gpa: answer, len: 1, write: true }];
    if (bytes.length > 2) buffers.splice(1, 0, { gpa: data, len: bytes.length - 2, write: false });
    this.control.offer(buffers);
    this.notify(this.controlIndex);
    expect(this.control.takeUsed()).toHaveLength(1);
    return this.phys.readBytes(this.ram.hpa + answer, 1)[0];
  }
  setPairs(pairs: number): number {
    return this.command(CLASS_MQ, VQ_PAIRS_SET, pairs & 0xff, pairs >> 8);
  }
}

describe("virtio-net with two queue pairs", () => {
  it("offers MQ with its control queue, two pairs and five queues, where a card of one pair offers neither", () => {
    const d = new MqDriver();
    expect(d.deviceFeatures() & (F_MQ | F_CTRL_VQ)).toBe(F_MQ | F_CTRL_VQ);
    expect(d.config(8, 2)).toBe(2); // max_virtqueue_pairs
    expect(d.read(C.numQueues, 2)).toBe(5);
    useMachine(e, ramOf(phys, A));
    const a = new NetDriver(A, phys);
    expect(a.deviceFeatures() & (F_MQ | F_CTRL_VQ)).toBe(0n);
    expect(a.config(8, 2)).toBe(1);
  });

  it("takes VQ_PAIRS_SET of 1 or 2 and answers anything else with an error", () => {
    const d = new MqDriver();
    expect(d.setPairs(2)).toBe(OK);
    expect(d.setPairs(1)).toBe(OK);
    expect([d.setPairs(0), d.setPairs(3), d.setPairs(0x8000)]).toEqual([ERR, ERR, ERR]);
    // Short of its data, another command of the class, another class (VIRTIO_NET_CTRL_RX).
    expect([d.command(CLASS_MQ, VQ_PAIRS_SET, 2), d.command(CLASS_MQ, 1, 2, 0), d.command(CLASS_RX, 0, 1)]).toEqual([
      ERR,
      ERR,
      ERR,
    ]);
    expect(d.status & NEEDS_RESET).toBe(0);
  });

  it("sends a flow's frames back to the receive queue of the pair that last sent one", () => {
    useMachine(e, ramOf(phys, A));
    const a = new NetDriver(A, phys).start();
    a.offerReceive(...Array<number>(8).fill(1536));
    useMachine(e, ramOf(phys, D));
    const d = new MqDriver();
    d.offerReceiveOn(d.ring, 0, Array<number>(8).fill(1536));
    d.offerReceiveOn(d.rx1, 2, Array<number>(8).fill(1536));
    expect(d.setPairs(2)).toBe(OK);
    // Flow 1 leaves by pair 1, flow 2 by pair 0; a receives both.
    d.send(fromD(40001), false, undefined, d.tx1, 3);
    d.send(fromD(40002));
    useMachine(e, ramOf(phys, A));
    expect(a.received().map((r) => r.frame)).toEqual([fromD(40001), fromD(40002)]);
    // a's answers, and a frame of a flow d never sent.
    const sent = e.messageCount();
    a.send(toD(40001));
    a.send(toD(40002));
    a.send(toD(40003));
    useMachine(e, ramOf(phys, D));
    expect(d.received(d.rx1).map((r) => r.frame)).toEqual([toD(40001)]);
    expect(d.received().map((r) => r.frame)).toEqual([toD(40002), toD(40003)]);
    // Pair 1's receive queue interrupts on its own vector (3), pair 0's on RX_VECTOR.
    expect(vectorsSent().slice(sent)).toContain(3);
    expect(vectorsSent().slice(sent)).toContain(RX_VECTOR);
    // Back to one pair: flow 1 comes to pair 0.
    expect(d.setPairs(1)).toBe(OK);
    useMachine(e, ramOf(phys, A));
    a.send(toD(40001));
    useMachine(e, ramOf(phys, D));
    expect(d.received(d.rx1)).toEqual([]);
    expect(d.received().map((r) => r.frame)).toEqual([toD(40001)]);
  });

  it("without F_MQ has one pair, the control queue is queue 2, and VQ_PAIRS_SET 2 fails", () => {
    const d = new MqDriver((offered) => offered & ~F_MQ);
    expect(d.setPairs(2)).toBe(ERR);
    expect(d.setPairs(1)).toBe(OK);
  });

  it("needs a reset after a command with no room for its answer", () => {
    const d = new MqDriver();
    const gpa = d.alloc(4);
    d.control.offer([{ gpa, len: 4, write: false }]);
    d.notify(d.controlIndex);
    expect(d.status & NEEDS_RESET).toBe(NEEDS_RESET);
  });
});
