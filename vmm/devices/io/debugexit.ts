// QEMU's isa-debug-exit device: a write of v ends the machine's run with status
// (v << 1) | 1, exactly as QEMU exits with that code. Guests written for
// QEMU's test setups run unchanged.

import { Device } from "../bus";
import { MachineControl } from "../machine";

export const DEBUG_EXIT_PORT: u16 = 0xf4;

export class DebugExit extends Device {
  constructor(private machine: MachineControl) {
    super("isa-debug-exit");
  }
  read(offset: u64, size: u8): u64 {
    return 0;
  }
  write(offset: u64, size: u8, value: u64): void {
    this.machine.exitWith(<i64>((value << 1) | 1));
  }
}
