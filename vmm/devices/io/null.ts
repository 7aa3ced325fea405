// A port that accepts writes and reads as zero: the POST-code port 0x80,
// which firmware and kernels write to as an I/O delay. It is one of the
// VM's quiet ports (core/fastports.ts, Vm.addQuietPort()), which the exit
// fast path answers.

import { Device } from "../bus";

export const POST_PORT: u16 = 0x80;

export class NullDevice extends Device {
  constructor() {
    super("null");
  }
  read(offset: u64, size: u8): u64 {
    return 0;
  }
  write(offset: u64, size: u8, value: u64): void {}
}
