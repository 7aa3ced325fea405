// What the receive and transmit descriptors of an 8254x controller share in
// the legacy format (8254x SDM 3.2.3, 3.3.3): 16 bytes each, the buffer's
// physical address first, the length in the low half of the third dword,
// the status in the low byte of the fourth, whose DD bit the controller
// sets when it is done with the descriptor.

export const DESCRIPTOR_BYTES: usize = 16;
export const BUFFER_ADDRESS_AT: usize = 0;
export const LENGTH_DWORD_AT: usize = 8;
export const STATUS_DWORD_AT: usize = 12;
export const STATUS_DD: u32 = 1 << 0;
