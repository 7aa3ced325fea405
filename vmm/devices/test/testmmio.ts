// The test device's MMIO window: registers the test guests reach with loads
// and stores, to check the MMIO emulation path (emul/mmio.ts).
//
//   +0 (64-bit) a scratch register; an access of any size at any offset in
//      it reads or replaces just those bytes.
//   +8 (32-bit, read-only) the ID register, TEST_MMIO_ID ("TMIO").
//   +0x800 to the end: a 2 KiB buffer that reads back what was written, for
//      the string instructions (MOVS and STOS to and from the device).
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
export const TEST_MMIO_BUFFER: u64 = 0x800;
const BUFFER_BYTES: u64 = 0x800;

export class TestMmioWindow extends Device {
  private scratch: u64 = 0;
  private readonly buffer: StaticArray<u8> = new StaticArray<u8>(<i32>BUFFER_BYTES);
  constructor() {
    super("test device MMIO window");
  }

  read(offset: u64, size: u8): u64 {
    if (offset < SCRATCH_BYTES) return this.scratch >> (offset * 8);
    if (offset - ID_OFFSET < ID_BYTES) return <u64>TEST_MMIO_ID >> ((offset - ID_OFFSET) * 8);
    let value: u64 = 0;
    // Little-endian, the bytes past the buffer's end reading as zero.
    for (let i = <i32>size - 1; i >= 0; i--) value = (value << 8) | <u64>this.bufferByte(offset + <u64>i);
    return value;
  }

  write(offset: u64, size: u8, value: u64): void {
    if (offset - TEST_MMIO_BUFFER < BUFFER_BYTES) {
      const end = min(offset + <u64>size, TEST_MMIO_BUFFER + BUFFER_BYTES);
      for (let at = offset; at < end; at++, value >>= 8) this.buffer[<i32>(at - TEST_MMIO_BUFFER)] = <u8>value;
      return;
    }
    if (offset >= SCRATCH_BYTES) return;
    // Bytes past the register's end shift out of the mask.
    const shift = offset * 8, mask = allOnes(size) << shift;
    this.scratch = (this.scratch & ~mask) | ((value << shift) & mask);
  }

  private bufferByte(offset: u64): u8 {
    return offset - TEST_MMIO_BUFFER < BUFFER_BYTES ? this.buffer[<i32>(offset - TEST_MMIO_BUFFER)] : 0;
  }
}
