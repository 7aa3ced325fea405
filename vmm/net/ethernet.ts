// Ethernet frames as the switch sees them (IEEE 802.3, 802.1Q): where the
// addresses and the type sit, what makes an address a group address, and
// the VLAN tag that trunk ports carry.
//
// A MAC address is kept in a u64, its first octet in bits 40-47, so that
// it prints and compares in the order it is written ("52:54:00:12:34:56").

// Destination, source, then the EtherType or, in a tagged frame, the tag's
// protocol identifier followed by the tag control information (802.1Q, 9.6).
export const DESTINATION_AT: i32 = 0;
export const SOURCE_AT: i32 = 6;
export const TYPE_AT: i32 = 12;
export const HEADER_SIZE: i32 = 14;
export const TAG_SIZE: i32 = 4;
export const TPID_8021Q: u32 = 0x8100;
// The largest frame without a frame check sequence: 1500 bytes of payload
// (the MTU a guest assumes without VIRTIO_NET_F_MTU), a header and a tag.
export const MAX_FRAME: i32 = 1500 + HEADER_SIZE + TAG_SIZE;

// VLAN identifiers 0 and 4095 are reserved (802.1Q, table 9-2).
export const MIN_VLAN: u32 = 1;
export const MAX_VLAN: u32 = 4094;
// The VLAN of a port the configuration puts on none, as on most switches.
export const DEFAULT_VLAN: u16 = 1;

// The six octets at `at`, in network order: the first two, then the last four.
export function macAt(frame: Uint8Array, at: i32): u64 {
  return (<u64>be16At(frame, at) << 32) | <u64>be32At(frame, at + 2);
}

// The I/G bit, the least significant bit of the first octet: set for
// multicast and broadcast addresses (802.3, 3.2.3).
export function isGroup(mac: u64): bool {
  return ((mac >> 40) & 1) != 0;
}

// Big-endian 16- and 32-bit fields, as every field of the headers is: one
// load each, byte-swapped (wasm memory is little-endian).
export function be16At(frame: Uint8Array, at: i32): u32 {
  if (at < 0 || at > frame.length - 2) throw new RangeError("be16At: past the frame");
  return <u32>bswap<u16>(load<u16>(frame.dataStart + <usize>at));
}

export function be32At(frame: Uint8Array, at: i32): u32 {
  if (at < 0 || at > frame.length - 4) throw new RangeError("be32At: past the frame");
  return bswap<u32>(load<u32>(frame.dataStart + <usize>at));
}

// "52:54:00:12:34:56"
export function formatMac(mac: u64): string {
  let s = "";
  for (let i = 5; i >= 0; i--) {
    const octet = <u32>(mac >> (<u64>i * 8)) & 0xff;
    s += (octet < 0x10 ? "0" : "") + octet.toString(16) + (i > 0 ? ":" : "");
  }
  return s;
}
