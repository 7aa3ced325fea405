// Receive steering for a NIC with several queue pairs (virtio 1.2,
// 5.1.6.5.5, automatic receive steering in multiqueue mode): a frame goes
// to the receive queue of the pair whose transmit queue last sent a frame
// of its flow. Linux gives each pair's interrupts and transmissions to one
// CPU, so both directions of a TCP connection are then handled on the
// vCPU that runs it.
//
// A flow is known by its two ends, each an IP address and, for TCP and
// UDP, a port. Each end is hashed alone and the two hashes added, so that
// both directions of a flow hash alike. A table of FLOW_SLOTS entries
// remembers a pair by hash; two flows that share a slot share a queue,
// which costs balance and nothing else. A frame of a flow not seen yet,
// or of no flow (not IP), goes to the first pair, as the spec allows.

import { be16At, HEADER_SIZE, TAG_SIZE, TPID_8021Q, TYPE_AT } from "./ethernet";
import { Frame } from "./frame";
import {
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  IP6_ADDRESSES,
  IP6_HEADER,
  IP6_NEXT_HEADER,
  IP_ADDRESSES,
  IP_FRAGMENT,
  IP_FRAGMENT_MASK,
  IP_MIN_HEADER,
  IP_PROTOCOL,
  PORTS_SIZE,
  PROTOCOL_TCP,
  PROTOCOL_UDP,
} from "./packet";

const FLOW_SLOTS: u32 = 256;
// FNV-1a's 32-bit offset basis and prime.
const FNV_BASIS: u32 = 0x811c9dc5, FNV_PRIME: u32 = 0x01000193;

export class FlowSteering {
  // The pair each slot's flows last left by; 0 for none yet.
  private pairs: StaticArray<u8> = new StaticArray<u8>(<i32>FLOW_SLOTS);

  // A frame of `frame`'s flow left by pair `pair`'s transmit queue.
  sent(frame: Frame, pair: u32): void {
    this.pairs[slotOf(frame)] = <u8>pair;
  }

  // The pair whose receive queue takes `frame`, of the first `active`.
  receiving(frame: Frame, active: u32): u32 {
    const pair = <u32>this.pairs[slotOf(frame)];
    return pair < active ? pair : 0;
  }

  forget(): void {
    this.pairs.fill(0);
  }
}

function slotOf(frame: Frame): i32 {
  const h = flowHash(frame);
  return <i32>((h ^ (h >> 16)) & (FLOW_SLOTS - 1));
}

// A hash of `frame`'s flow, the same in both directions; 0 for a frame that
// is not IP. Reads only the bytes the frame holds (the switch's headers).
export function flowHash(frame: Frame): u32 {
  const bytes = frame.bytes, held = frame.source !== null ? frame.held : frame.length;
  if (held < HEADER_SIZE) return 0;
  let ip = HEADER_SIZE, type = be16At(bytes, TYPE_AT);
  if (type == TPID_8021Q && held >= HEADER_SIZE + TAG_SIZE) {
    ip += TAG_SIZE;
    type = be16At(bytes, TYPE_AT + TAG_SIZE);
  }
  let size: i32, protocol: u32, ports: i32;
  if (type == ETHERTYPE_IPV4 && held >= ip + IP_MIN_HEADER) {
    size = 4;
    protocol = bytes[ip + IP_PROTOCOL];
    // Only a first fragment (or a whole packet) has the ports.
    ports = (be16At(bytes, ip + IP_FRAGMENT) & IP_FRAGMENT_MASK) == 0 ? ip + <i32>(bytes[ip] & 0xf) * 4 : held;
    ip += IP_ADDRESSES;
  } else if (type == ETHERTYPE_IPV6 && held >= ip + IP6_HEADER) {
    size = 16;
    protocol = bytes[ip + IP6_NEXT_HEADER];
    ports = ip + IP6_HEADER;
    ip += IP6_ADDRESSES;
  } else {
    return 0;
  }
  const hasPorts = (protocol == PROTOCOL_TCP || protocol == PROTOCOL_UDP) && ports + PORTS_SIZE <= held;
  const source = hasPorts ? be16At(bytes, ports) : 0, destination = hasPorts ? be16At(bytes, ports + 2) : 0;
  return endHash(bytes, ip, size, source) + endHash(bytes, ip + size, size, destination);
}

// One end of a flow: FNV-1a over its address's `size` bytes at `at`, then its port.
function endHash(bytes: Uint8Array, at: i32, size: i32, port: u32): u32 {
  let h = FNV_BASIS;
  for (let i = 0; i < size; i++) h = (h ^ <u32>bytes[at + i]) * FNV_PRIME;
  h = (h ^ (port >> 8)) * FNV_PRIME;
  return (h ^ (port & 0xff)) * FNV_PRIME;
}
