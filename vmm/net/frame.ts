// A frame as it crosses the switch: its bytes, and the work its sender
// left to the network card, which virtio-net's header (virtio 1.2, 5.1.6)
// carries beside it. A sender with checksum offload leaves one checksum
// partial: the Internet checksum of the bytes from checksumStart to the
// end still has to be stored at checksumStart + checksumOffset. A sender
// with segmentation offload hands over one TCP segment of up to 64 KiB,
// over IPv4 or IPv6, that the card is to cut into frames of segmentSize
// payload bytes.
//
// The switch carries this work to a port that takes it as it is (a VM
// whose driver negotiated it), and does it itself for any other
// (offload.ts). Frames from the uplink and from the hypervisor's own
// address never carry any.
//
// A VM's card may hand over only the frame's first bytes, as many as the
// switch reads to forward it (its headers), and leave the rest in the
// sender's buffers (a FrameSource): a card that receives it copies that
// rest from buffer to buffer, and whatever needs the whole frame in
// `bytes` (a tag put in or taken out, a checksum, segmentation, a port
// outside the VMs) fetches it first.

import { HEADER_SIZE, MAX_FRAME, TAG_SIZE } from "./ethernet";

// The largest frame with a segment to cut: an IPv6 packet, whose 40-byte
// header the 65535 bytes of its Payload Length follow (RFC 8200, 3),
// behind an Ethernet header and a tag. An IPv4 packet is at most 65535
// bytes in all (RFC 791, Total Length; offload.ts checks it).
export const MAX_LARGE_FRAME: i32 = HEADER_SIZE + 40 + 65535 + TAG_SIZE;
// The bytes the switch reads to forward a frame: its Ethernet header and
// tag, and IPv4 and TCP headers of the most 60 bytes each (offload.ts).
export const HEADERS_READ: i32 = HEADER_SIZE + TAG_SIZE + 60 + 60;

// Where the bytes of a frame past those held in `bytes` still are.
export abstract class FrameSource {
  // Copies the frame's bytes [from, from + count) into bytes[from...].
  abstract read(bytes: Uint8Array, from: i32, count: i32): void;
}

export class Frame {
  length: i32 = 0;
  partialChecksum: bool = false;
  checksumStart: i32 = 0;
  checksumOffset: i32 = 0;
  // The TCP payload of each frame to cut the segment into; 0: a frame as it is.
  segmentSize: i32 = 0;
  // The segment to cut is TCP over IPv6, not over IPv4.
  segmentIpv6: bool = false;
  // With a source, only bytes [0, held) are in `bytes` yet.
  source: FrameSource | null = null;
  held: i32 = 0;

  constructor(public bytes: Uint8Array) {}

  // `length` bytes of `bytes`, with no work left.
  plain(bytes: Uint8Array, length: i32): Frame {
    this.bytes = bytes;
    this.length = length;
    this.source = null;
    this.partialChecksum = false;
    this.checksumStart = this.checksumOffset = this.segmentSize = 0;
    this.segmentIpv6 = false;
    return this;
  }

  // The frame has its first `held` bytes in `bytes` and the rest at
  // `source`; with all of them held, it is whole already.
  hold(held: i32, source: FrameSource): void {
    this.held = held;
    this.source = held < this.length ? source : null;
  }

  // All of the frame into `bytes`, if it is not there yet.
  fetch(): void {
    const source = this.source;
    if (source === null) return;
    source.read(this.bytes, this.held, this.length - this.held);
    this.source = null;
  }

  // The same work as `other`'s, its offsets `shift` bytes on: a tag put in
  // (TAG_SIZE) or taken out (-TAG_SIZE) before them.
  takeWork(other: Frame, shift: i32): void {
    this.partialChecksum = other.partialChecksum;
    this.checksumStart = other.checksumStart + shift;
    this.checksumOffset = other.checksumOffset;
    this.segmentSize = other.segmentSize;
    this.segmentIpv6 = other.segmentIpv6;
  }

  // The largest this frame may be: a frame's most, or a segment's to cut.
  get largest(): i32 {
    return this.segmentSize != 0 ? MAX_LARGE_FRAME : MAX_FRAME;
  }
}
