// The test device's MMIO window: registers the test guests reach with loads
// and stores, to check the MMIO emulation path (emul/mmio.ts).
//
//   +0 (64-bit) a scratch register; an access of any size at any offset in
//      it reads or replaces just those bytes.
//   +8 (32-bit, read-only) the ID register, TEST_MMIO_ID ("TMIO").
// The rest of the 4 KiB window reads as zero and ignores writes. It lies
// above the RAM of any flat-binary VM (setup/flatvms.ts), below 4 GiB, so
// guests in every mode reach it with 32-bit addresses.

import { allOnes, Device } from "../bus";

export const TEST_MMIO_BASE: u64 = 0xfeb0_0000;
export const TEST_MMIO_SIZE: u64 = 0x1000;
export const TEST_MMIO_ID: u32 = 0x4f49_4d54;

const SCRATCH_BYTES: u64 = 8;
const ID_OFFSET: u64 = 8;
const ID_BYTES: u64 = 4;

export class TestMmioWindow extends Device {
  private scratch: u64 = 0;
  constructor() {
    super("test device MMIO window");
  }

  read(offset: u64, size: u8): u64 {
    if (offset < SCRATCH_BYTES) return this.scratch >> (offset * 8);
    if (offset - ID_OFFSET < ID_BYTES) return <u64>TEST_MMIO_ID >> ((offset - ID_OFFSET) * 8);
    return 0;
  }

  write(offset: u64, size: u8, value: u64): void {
    if (offset >= SCRATCH_BYTES) return;
    // Bytes past the register's end shift out of the mask.
    const shift = offset * 8, mask = allOnes(size) << shift;
    this.scratch = (this.scratch & ~mask) | ((value << shift) & mask);
  }
}
