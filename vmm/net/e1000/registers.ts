// The registers of Intel's 8254x Gigabit Ethernet controllers that the
// driver uses, and their bits, as the "PCI/PCI-X Family of Gigabit Ethernet
// Controllers Software Developer's Manual" (the 8254x SDM) names them:
// offsets into the memory BAR (section 13, table 13-2) and, for each
// register, the fields the driver sets or reads.

// Device Control (13.4.1).
export const CTRL: u64 = 0x0000;
// Auto-speed detection; set link up; the device reset, which clears itself.
export const CTRL_ASDE: u32 = 1 << 5;
export const CTRL_SLU: u32 = 1 << 6;
export const CTRL_RST: u32 = 1 << 26;
// Link reset, invert loss-of-signal, 802.1Q tag handling, PHY reset: all off.
export const CTRL_LRST: u32 = 1 << 3;
export const CTRL_ILOS: u32 = 1 << 7;
export const CTRL_VME: u32 = 1 << 30;
export const CTRL_PHY_RST: u32 = 1 << 31;

// Device Status (13.4.2): the link is up.
export const STATUS: u64 = 0x0008;
export const STATUS_LU: u32 = 1 << 1;

// EEPROM Read (13.4.4): start a read of the word at ADDR; DONE when DATA holds it.
export const EERD: u64 = 0x0014;
export const EERD_START: u32 = 1 << 0;
export const EERD_DONE: u32 = 1 << 4;
export const EERD_ADDR_SHIFT: u32 = 8;
export const EERD_DATA_SHIFT: u32 = 16;

// Flow control: address, type and timer, all zero when it is not used (14.3).
export const FCAL: u64 = 0x0028;
export const FCAH: u64 = 0x002c;
export const FCT: u64 = 0x0030;
export const FCTTV: u64 = 0x0170;

// Interrupt Mask Clear (13.4.21): a 1 masks that cause.
export const IMC: u64 = 0x00d8;
export const ALL_INTERRUPTS: u32 = 0xffff_ffff;

// Receive Control (13.4.22).
export const RCTL: u64 = 0x0100;
export const RCTL_EN: u32 = 1 << 1;
// Unicast and multicast promiscuous; accept broadcasts; strip the CRC.
export const RCTL_UPE: u32 = 1 << 3;
export const RCTL_MPE: u32 = 1 << 4;
export const RCTL_BAM: u32 = 1 << 15;
export const RCTL_SECRC: u32 = 1 << 26;
// BSIZE (bits 17:16) 00b with BSEX 0 is 2048-byte buffers; LPE 0 keeps
// frames to 1522 bytes (1518 and a tag), so one buffer holds any frame.
export const RX_BUFFER_BYTES: i32 = 2048;

// Transmit Control (13.4.33): enable; pad short packets to 64 bytes;
// collision threshold and distance, the values the manual recommends
// (CT 0Fh; COLD 40h for full duplex).
export const TCTL: u64 = 0x0400;
export const TCTL_EN: u32 = 1 << 1;
export const TCTL_PSP: u32 = 1 << 3;
export const TCTL_CT: u32 = 0x0f << 4;
export const TCTL_COLD: u32 = 0x40 << 12;

// Transmit Inter-Packet Gap (13.4.34): IPGT 10, IPGR1 8, IPGR2 6 for the
// copper parts (82540EP/EM, 82545GM/EM).
export const TIPG: u64 = 0x0410;
export const TIPG_COPPER: u32 = 10 | (8 << 10) | (6 << 20);

// The receive and transmit descriptor rings (13.4.25-13.4.29 for receive,
// the TDBAL to TDT registers of 13.4 for transmit): base address low and
// high, length in bytes, head, tail.
export const RDBAL: u64 = 0x2800;
export const RDBAH: u64 = 0x2804;
export const RDLEN: u64 = 0x2808;
export const RDH: u64 = 0x2810;
export const RDT: u64 = 0x2818;
export const TDBAL: u64 = 0x3800;
export const TDBAH: u64 = 0x3804;
export const TDLEN: u64 = 0x3808;
export const TDH: u64 = 0x3810;
export const TDT: u64 = 0x3818;
// A ring's length is a multiple of 128 bytes, its base 16-byte aligned.
export const RING_LENGTH_UNIT: i32 = 128;

// Multicast Table Array (13.5.1): 128 dwords of hash filter, cleared (14.4).
export const MTA: u64 = 0x5200;
export const MTA_DWORDS: i32 = 128;

// Receive Address 0, low and high (13.5.2): the MAC address, valid when AV is set.
export const RAL0: u64 = 0x5400;
export const RAH0: u64 = 0x5404;
export const RAH_AV: u32 = 1 << 31;
