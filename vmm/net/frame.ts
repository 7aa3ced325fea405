// A frame as it crosses the switch: its bytes, and the work its sender
// left to the network card, which virtio-net's header (virtio 1.2, 5.1.6)
// carries beside it. A sender with checksum offload leaves one checksum
// partial: the Internet checksum of the bytes from checksumStart to the
// end still has to be stored at checksumStart + checksumOffset. A sender
// with segmentation offload hands over one TCP/IPv4 segment of up to 64
// KiB that the card is to cut into frames of segmentSize payload bytes.
//
// The switch carries this work to a port that takes it as it is (a VM
// whose driver negotiated it), and does it itself for any other
// (offload.ts). Frames from the uplink and from the hypervisor's own
// address never carry any.

import { HEADER_SIZE, MAX_FRAME, TAG_SIZE } from "./ethernet";

// The largest frame with a segment to cut: an IPv4 packet of 65535 bytes
// (RFC 791, Total Length) behind a header and a tag.
export const MAX_LARGE_FRAME: i32 = HEADER_SIZE + 65535 + TAG_SIZE;

export class Frame {
  length: i32 = 0;
  partialChecksum: bool = false;
  checksumStart: i32 = 0;
  checksumOffset: i32 = 0;
  // The TCP payload of each frame to cut the segment into; 0: a frame as it is.
  segmentSize: i32 = 0;

  constructor(public bytes: Uint8Array) {}

  // `length` bytes of `bytes`, with no work left.
  plain(bytes: Uint8Array, length: i32): Frame {
    this.bytes = bytes;
    this.length = length;
    this.partialChecksum = false;
    this.checksumStart = this.checksumOffset = this.segmentSize = 0;
    return this;
  }

  // The same work as `other`'s, its offsets `shift` bytes on: a tag put in
  // (TAG_SIZE) or taken out (-TAG_SIZE) before them.
  takeWork(other: Frame, shift: i32): void {
    this.partialChecksum = other.partialChecksum;
    this.checksumStart = other.checksumStart + shift;
    this.checksumOffset = other.checksumOffset;
    this.segmentSize = other.segmentSize;
  }

  // The largest this frame may be: a frame's most, or a segment's to cut.
  get largest(): i32 {
    return this.segmentSize != 0 ? MAX_LARGE_FRAME : MAX_FRAME;
  }
}
