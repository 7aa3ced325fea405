// The numbers of the virtio 1.2 specification that both sides of Typervisor
// use, each defined once: the virtio devices it gives its VMs
// (devices/virtio/) and its driver of the host's virtio-net card
// (net/virtionet/). Sections are the specification's.

// 2.7.5, 2.7.7, 2.7.10: the split virtqueue's flags: a descriptor's chain
// goes on at `next`, its buffer is device-writable, it is a table of
// descriptors; the driver wants no interrupt; the device wants no
// notification.
export const DESC_F_NEXT: u16 = 1;
export const DESC_F_WRITE: u16 = 2;
export const DESC_F_INDIRECT: u16 = 4;
export const AVAIL_F_NO_INTERRUPT: u16 = 1;
export const USED_F_NO_NOTIFY: u16 = 1;

// 4.1.2: the PCI vendor of every virtio function.
export const VIRTIO_VENDOR: u16 = 0x1af4;

// 2.1: device status bits.
export const STATUS_ACKNOWLEDGE: u8 = 1;
export const STATUS_DRIVER: u8 = 2;
export const STATUS_DRIVER_OK: u8 = 4;
export const STATUS_FEATURES_OK: u8 = 8;
export const STATUS_DEVICE_NEEDS_RESET: u8 = 64;
export const STATUS_FAILED: u8 = 128;

// 6: feature bits of the transport and the queues.
export const F_INDIRECT_DESC: u64 = <u64>1 << 28;
export const F_EVENT_IDX: u64 = <u64>1 << 29;
export const F_VERSION_1: u64 = <u64>1 << 32;
export const F_ACCESS_PLATFORM: u64 = <u64>1 << 33;

// 4.1.4: the PCI capabilities that locate the structures (cfg_type), and
// where a capability keeps them: cfg_type, bar, offset, length, and a
// notify capability's notify_off_multiplier after them.
// Virtio's capabilities are PCI's vendor-specific ones (capability ID 09h).
export const VENDOR_SPECIFIC: u8 = 0x09;
export const COMMON_CFG: u8 = 1, NOTIFY_CFG: u8 = 2, ISR_CFG: u8 = 3, DEVICE_CFG: u8 = 4;
export const CAP_TYPE: u32 = 3, CAP_BAR: u32 = 4, CAP_OFFSET: u32 = 8, CAP_SIZE: u32 = 12, CAP_MULTIPLIER: u32 = 16;
export const CAP_BYTES: u32 = 16, NOTIFY_CAP_BYTES: u32 = 20;

// 4.1.4.3: struct virtio_pci_common_cfg, by byte offset.
export const DEVICE_FEATURE_SELECT: u32 = 0; // 4
export const DEVICE_FEATURE: u32 = 4; // 4, read-only
export const DRIVER_FEATURE_SELECT: u32 = 8; // 4
export const DRIVER_FEATURE: u32 = 12; // 4
export const CONFIG_MSIX_VECTOR: u32 = 16; // 2
export const NUM_QUEUES: u32 = 18; // 2, read-only
export const DEVICE_STATUS: u32 = 20; // 1
export const CONFIG_GENERATION: u32 = 21; // 1, read-only
export const QUEUE_SELECT: u32 = 22; // 2
export const QUEUE_SIZE: u32 = 24; // 2
export const QUEUE_MSIX_VECTOR: u32 = 26; // 2
export const QUEUE_ENABLE: u32 = 28; // 2
export const QUEUE_NOTIFY_OFF: u32 = 30; // 2, read-only
export const QUEUE_DESC: u32 = 32; // 8
export const QUEUE_DRIVER: u32 = 40; // 8
export const QUEUE_DEVICE: u32 = 48; // 8
export const COMMON_CFG_BYTES: u32 = 56;

// 5.1.3: the network device's feature bits: the device takes frames with a
// partial checksum, the driver does; the driver takes TCP/IPv4 and
// TCP/IPv6 segments larger than a frame, the device does; a control queue,
// and several queue pairs, which the driver sets through it.
export const NET_F_CSUM: u64 = 1 << 0;
export const NET_F_GUEST_CSUM: u64 = 1 << 1;
export const NET_F_MAC: u64 = 1 << 5;
export const NET_F_GUEST_TSO4: u64 = 1 << 7;
export const NET_F_GUEST_TSO6: u64 = 1 << 8;
export const NET_F_HOST_TSO4: u64 = 1 << 11;
export const NET_F_HOST_TSO6: u64 = 1 << 12;
export const NET_F_MRG_RXBUF: u64 = 1 << 15;
export const NET_F_STATUS: u64 = 1 << 16;
export const NET_F_CTRL_VQ: u64 = 1 << 17;
export const NET_F_MQ: u64 = 1 << 22;
// 5.1.4: struct virtio_net_config: mac[6], then status with LINK_UP, then
// max_virtqueue_pairs.
export const NET_MAC_AT: i32 = 0, NET_STATUS_AT: i32 = 6, NET_PAIRS_AT: i32 = 8;
export const NET_S_LINK_UP: u16 = 1;
// 5.1.6: struct virtio_net_hdr with VIRTIO_F_VERSION_1, before every frame:
// flags, gso_type, then hdr_len, gso_size, csum_start, csum_offset and
// num_buffers, 16 bits each.
export const NET_HEADER_BYTES: i32 = 12;
export const NET_HDR_FLAGS_AT: i32 = 0, NET_HDR_GSO_TYPE_AT: i32 = 1, NET_HDR_HDR_LEN_AT: i32 = 2;
export const NET_HDR_GSO_SIZE_AT: i32 = 4, NET_HDR_CSUM_START_AT: i32 = 6, NET_HDR_CSUM_OFFSET_AT: i32 = 8;
export const NET_HDR_NUM_BUFFERS_AT: i32 = 10;
export const NET_HDR_F_NEEDS_CSUM: u8 = 1;
export const NET_HDR_GSO_NONE: u8 = 0, NET_HDR_GSO_TCPV4: u8 = 1, NET_HDR_GSO_TCPV6: u8 = 4;
