// The I/O and MSR bitmaps: which port and MSR accesses exit.
//
// I/O bitmap A covers ports 0-0x7fff and B 0x8000-0xffff, one bit per port;
// all bits are set, so every IN/OUT/INS/OUTS exits (SDM Vol. 3C 24.6.4 "I/O
// Bitmaps", 25.1.3). The MSR bitmap is four 1 KiB bitmaps: reads of MSRs
// 0-0x1fff, reads of 0xc0000000-0xc0001fff, then writes of the same two
// ranges; a clear bit lets the access through to the guest's own copy, and
// every MSR outside those ranges exits (24.6.9 "MSR-Bitmap Address"). The
// passthrough set is emul/msrpolicy.ts's; each of those MSRs is switched
// between guest and host by the VMCS or the MSR lists (msrlists.ts). The
// bitmaps are the same for every vCPU, so the backend keeps one set.

import { allocPages, physOf } from "../../../kernel/mm/linearpages";
import { PASSTHROUGH, PASSTHROUGH_READ } from "../../emul/msrpolicy";

const PAGE: usize = 4096;
const WRITE_BITMAPS: usize = 2048;

export class VmxBitmaps {
  private readonly io: usize = allocPages(2);
  private readonly msr: usize = allocPages(1);
  readonly ioAPhys: u64 = physOf(this.io);
  readonly ioBPhys: u64 = physOf(this.io + PAGE);
  readonly msrPhys: u64 = physOf(this.msr);

  constructor() {
    memory.fill(this.io, 0xff, 2 * PAGE);
    memory.fill(this.msr, 0xff, PAGE);
    for (let i = 0; i < PASSTHROUGH.length; i++) this.allowMsr(PASSTHROUGH[i], true);
    for (let i = 0; i < PASSTHROUGH_READ.length; i++) this.allowMsr(PASSTHROUGH_READ[i], false);
  }

  // Clears the read (and write) exit bits of `msr`.
  private allowMsr(msr: u32, write: bool): void {
    let bitmap: usize;
    if (msr <= 0x1fff) bitmap = 0;
    else if (msr >= 0xc0000000 && msr <= 0xc0001fff) bitmap = 1024;
    else return;
    const byte = <usize>(msr & 0x1fff) >> 3, bit = <u8>1 << <u8>(msr & 7);
    const read = this.msr + bitmap + byte;
    store<u8>(read, load<u8>(read) & ~bit);
    if (write) store<u8>(read + WRITE_BITMAPS, load<u8>(read + WRITE_BITMAPS) & ~bit);
  }
}
