// The work a sender left to the network card (frame.ts), done in software
// for a port that does not take it: a partial checksum completed, a large
// TCP segment over IPv4 or IPv6 cut into frames. And the check that the work a guest
// asked for is sound, so that a hostile header neither reads nor writes
// beyond its frame nor costs the switch more than a large segment's
// worth of frames.
//
// The Internet checksum (RFC 1071) is the ones' complement of the ones'
// complement sum of the 16-bit words; IPv4's header checksum (RFC 791)
// covers its header, TCP's (RFC 9293, 3.1) a pseudo-header of the
// addresses, the protocol and the TCP length, then the TCP header and data.
// IPv6 has no header checksum; its pseudo-header holds its 128-bit
// addresses, the upper-layer length and the next header (RFC 8200, 8.1).

import { be16At, be32At, HEADER_SIZE, MAX_FRAME, TAG_SIZE, TYPE_AT } from "./ethernet";
import { Frame } from "./frame";
import {
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  IP6_ADDRESSES,
  IP6_HEADER,
  IP6_NEXT_HEADER,
  IP6_PAYLOAD_LENGTH,
  IP_ADDRESSES,
  IP_CHECKSUM,
  IP_FRAGMENT,
  IP_FRAGMENT_MASK,
  IP_ID,
  IP_MAX_PACKET,
  IP_MIN_HEADER,
  IP_PROTOCOL,
  IP_TOTAL_LENGTH,
  PROTOCOL_TCP,
  TCP_CHECKSUM,
  TCP_DATA_OFFSET,
  TCP_FLAGS,
  TCP_MIN_HEADER,
  TCP_SEQUENCE,
} from "./packet";

// An IP header here follows an untagged Ethernet header; a segment to cut
// has no IPv6 extension header, TCP follows the fixed 40 bytes.
const IP_AT: i32 = HEADER_SIZE;
const TCP_FIN: u8 = 0x01, TCP_PSH: u8 = 0x08, TCP_CWR: u8 = 0x80;
// The smallest segment size taken: no TCP sends less per frame (Linux's
// floor is 48 bytes), and a 64 KiB segment stays under 1,400 frames.
const MIN_SEGMENT_SIZE: i32 = 48;

// The ones' complement sum of bytes[from, to) as 16-bit words from `from`
// on (an odd last byte padded with a zero), plus `sum`; folded to 16 bits.
export function onesSum(bytes: Uint8Array, from: i32, to: i32, sum: u32): u32 {
  // Little-endian loads add up to the byte-swapped sum (RFC 1071, 2(B)),
  // swapped back once; 32 bits at a time, the carries folded at the end.
  let swapped: u64 = 0, at = bytes.dataStart + <usize>from;
  const end = bytes.dataStart + <usize>to;
  for (; at + 4 <= end; at += 4) swapped += <u64>load<u32>(at);
  if (at + 2 <= end) {
    swapped += <u64>load<u16>(at);
    at += 2;
  }
  if (at < end) swapped += <u64>load<u8>(at);
  return fold(<u64>bswap<u16>(<u16>fold(swapped)) + <u64>sum);
}

function fold(sum: u64): u32 {
  while (sum >> 16 != 0) sum = (sum & 0xffff) + (sum >> 16);
  return <u32>sum;
}

function store16(bytes: Uint8Array, at: i32, value: u32): void {
  bytes[at] = <u8>(value >> 8);
  bytes[at + 1] = <u8>value;
}

// Stores the checksum a partial frame still needs and leaves it whole
// (virtio 1.2, 5.1.6.2: over csum_start to the end, at csum_start +
// csum_offset, whose bytes hold the sender's seed, the pseudo-header's sum).
export function completeChecksum(frame: Frame): void {
  frame.fetch();
  const bytes = frame.bytes, start = frame.checksumStart;
  store16(bytes, start + frame.checksumOffset, ~onesSum(bytes, start, frame.length, 0));
  frame.partialChecksum = false;
}

// Where a large segment's TCP data begins: after the headers that every
// frame cut from it repeats. Only for a frame soundWork() passed.
export function segmentHeaders(frame: Frame): i32 {
  const tcp = frame.checksumStart;
  return tcp + <i32>(frame.bytes[tcp + TCP_DATA_OFFSET] >> 4) * 4;
}

// Whether the work `frame` (untagged) asks for stays inside it and, for a
// segment to cut, whether it is one TCP segment over IPv4 or IPv6 (as
// `segmentIpv6` says) with its checksum partial, as a TCP stack's
// segmentation offload hands it over, cut into frames that fit MAX_FRAME.
export function soundWork(frame: Frame): bool {
  const bytes = frame.bytes, length = frame.length;
  if (frame.partialChecksum) {
    const start = frame.checksumStart, offset = frame.checksumOffset;
    if (start < HEADER_SIZE || offset < 0 || start + offset + 2 > length) return false;
  }
  if (frame.segmentSize == 0) return true;
  const tcp = frame.segmentIpv6 ? ipv6Tcp(bytes, length) : ipv4Tcp(bytes, length);
  if (!frame.partialChecksum || tcp < 0) return false;
  if (frame.checksumStart != tcp || frame.checksumOffset != TCP_CHECKSUM || tcp + TCP_MIN_HEADER > length) return false;
  const headers = segmentHeaders(frame), size = frame.segmentSize;
  return headers - tcp >= TCP_MIN_HEADER && headers < length && size >= MIN_SEGMENT_SIZE
    && headers + size <= MAX_FRAME - TAG_SIZE;
}

// Where the TCP header of an IPv4 packet of TCP, no fragment and at most
// 65535 bytes, begins in the frame; -1 if the frame is not one.
function ipv4Tcp(bytes: Uint8Array, length: i32): i32 {
  if (be16At(bytes, TYPE_AT) != ETHERTYPE_IPV4 || length < IP_AT + IP_MIN_HEADER) return -1;
  const ipHeader = <i32>(bytes[IP_AT] & 0xf) * 4;
  if (bytes[IP_AT] >> 4 != 4 || ipHeader < IP_MIN_HEADER || length - IP_AT > IP_MAX_PACKET) return -1;
  if (bytes[IP_AT + IP_PROTOCOL] != PROTOCOL_TCP || (be16At(bytes, IP_AT + IP_FRAGMENT) & IP_FRAGMENT_MASK) != 0) {
    return -1;
  }
  return IP_AT + ipHeader;
}

// Where the TCP header of an IPv6 packet whose header TCP follows begins
// in the frame, its payload at most 65535 bytes; -1 if the frame is not one.
function ipv6Tcp(bytes: Uint8Array, length: i32): i32 {
  if (be16At(bytes, TYPE_AT) != ETHERTYPE_IPV6 || length < IP_AT + IP6_HEADER) return -1;
  if (bytes[IP_AT] >> 4 != 6 || bytes[IP_AT + IP6_NEXT_HEADER] != PROTOCOL_TCP) return -1;
  return length - IP_AT - IP6_HEADER > IP_MAX_PACKET ? -1 : IP_AT + IP6_HEADER;
}

// Cuts a large segment into frames (as a NIC's TSO does): each has the
// headers with its own IPv4 total length, identification (one more each
// frame) and header checksum, or its own IPv6 payload length; its TCP
// sequence number, FIN and PSH on the last frame only, CWR on the first
// only (RFC 3168, 6.1.2), and its TCP checksum whole. start(), then
// next() until it returns false; each frame is `segment` until the next
// call.
export class Segmenter {
  readonly segment: Frame = new Frame(new Uint8Array(MAX_FRAME));
  private large: Frame = new Frame(new Uint8Array(0));
  private headers: i32 = 0;
  private at: i32 = 0;
  private index: u32 = 0;

  start(large: Frame): void {
    large.fetch();
    this.large = large;
    this.headers = this.at = segmentHeaders(large);
    this.index = 0;
  }

  next(): bool {
    const large = this.large, headers = this.headers, at = this.at;
    if (at >= large.length) return false;
    const data = min(large.segmentSize, large.length - at), length = headers + data;
    const bytes = this.segment.plain(this.segment.bytes, length).bytes;
    memory.copy(bytes.dataStart, large.bytes.dataStart, headers);
    memory.copy(bytes.dataStart + headers, large.bytes.dataStart + at, data);
    const tcp = large.checksumStart;
    let pseudo: u32;
    if (large.segmentIpv6) {
      store16(bytes, IP_AT + IP6_PAYLOAD_LENGTH, length - tcp);
      pseudo = onesSum(bytes, IP_AT + IP6_ADDRESSES, tcp, PROTOCOL_TCP + <u32>(length - tcp));
    } else {
      store16(bytes, IP_AT + IP_TOTAL_LENGTH, length - IP_AT);
      store16(bytes, IP_AT + IP_ID, be16At(bytes, IP_AT + IP_ID) + this.index);
      store16(bytes, IP_AT + IP_CHECKSUM, 0);
      store16(bytes, IP_AT + IP_CHECKSUM, ~onesSum(bytes, IP_AT, tcp, 0));
      pseudo = onesSum(bytes, IP_AT + IP_ADDRESSES, IP_AT + IP_MIN_HEADER, PROTOCOL_TCP + <u32>(length - tcp));
    }
    const sequence = be32At(bytes, tcp + TCP_SEQUENCE) + <u32>(at - headers);
    store16(bytes, tcp + TCP_SEQUENCE, sequence >> 16);
    store16(bytes, tcp + TCP_SEQUENCE + 2, sequence);
    if (at + data < large.length) bytes[tcp + TCP_FLAGS] &= ~(TCP_FIN | TCP_PSH);
    if (this.index > 0) bytes[tcp + TCP_FLAGS] &= ~TCP_CWR;
    store16(bytes, tcp + TCP_CHECKSUM, 0);
    store16(bytes, tcp + TCP_CHECKSUM, ~onesSum(bytes, tcp, length, pseudo));
    this.at = at + data;
    this.index++;
    return true;
  }
}
