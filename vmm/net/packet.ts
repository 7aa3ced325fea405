// The fields of the IPv4, IPv6 and TCP headers that the switch reads behind
// an Ethernet header: to do a sender's offloaded work (offload.ts) and to
// tell one flow from another (flow.ts). Offsets count from each header's
// first byte.

// EtherType of the packet an Ethernet header carries (IEEE 802.3, 3.2.6).
export const ETHERTYPE_IPV4: u32 = 0x0800, ETHERTYPE_IPV6: u32 = 0x86dd;
// IP protocol numbers (IANA): what the IPv4 Protocol or IPv6 Next Header says follows.
export const PROTOCOL_TCP: u32 = 6, PROTOCOL_UDP: u32 = 17;
// The IPv4 header (RFC 791, 3.1).
export const IP_TOTAL_LENGTH: i32 = 2, IP_ID: i32 = 4, IP_FRAGMENT: i32 = 6, IP_PROTOCOL: i32 = 9;
export const IP_CHECKSUM: i32 = 10, IP_ADDRESSES: i32 = 12, IP_MIN_HEADER: i32 = 20;
// More Fragments and the fragment offset: only a packet's first fragment
// has its TCP or UDP header, and a whole packet is no fragment at all.
export const IP_FRAGMENT_MASK: u32 = 0x3fff;
export const IP_MAX_PACKET: i32 = 65535;
// The IPv6 header (RFC 8200, 3): its fixed 40 bytes.
export const IP6_PAYLOAD_LENGTH: i32 = 4, IP6_NEXT_HEADER: i32 = 6, IP6_ADDRESSES: i32 = 8, IP6_HEADER: i32 = 40;
// The TCP header (RFC 9293, 3.1); a UDP header (RFC 768) begins with the same two ports.
export const TCP_SEQUENCE: i32 = 4, TCP_DATA_OFFSET: i32 = 12, TCP_FLAGS: i32 = 13, TCP_CHECKSUM: i32 = 16;
export const TCP_MIN_HEADER: i32 = 20;
export const PORTS_SIZE: i32 = 4;
