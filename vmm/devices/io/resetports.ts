// The two reset registers a PC's chipset has besides the 8042's output port
// (io/i8042.ts); operating systems and boot loaders use all three.
//
// Port 0x92, "System Control Port A" (the PS/2 fast reset and A20 gate, as
// the PIIX/ICH southbridges keep it): bit 0 rising from 0 to 1 resets the
// machine, bit 1 gates A20. A20 is always on in these VMs, so the bit is
// only remembered; the register reads back what was written.
//
// Port 0xCF9, the Reset Control Register (Intel ICH datasheets, RST_CNT):
// RST_CPU (bit 2) rising from 0 to 1 resets the machine, SYS_RST (bit 1)
// and FULL_RST (bit 3) say how hard. It shares its port with the PCI
// configuration mechanism: only a byte access at 0xCF9 reaches it
// (pci/configports.ts forwards those).

import { Device } from "../bus";
import { MachineControl } from "../machine";

export const SYSTEM_CONTROL_A_PORT: u16 = 0x92;

const FAST_RESET: u8 = 0x01;
const RST_CPU: u8 = 0x04;

// A register whose bit `trigger`, rising, resets the machine.
export class ResetRegister extends Device {
  private value: u8 = 0;

  constructor(name: string, private trigger: u8, private machine: MachineControl) {
    super(name);
  }

  read(offset: u64, size: u8): u64 {
    return this.value;
  }

  write(offset: u64, size: u8, value: u64): void {
    const v = <u8>value, rising = v & ~this.value & this.trigger;
    this.value = v;
    if (rising) this.machine.reset(this.name);
  }
}

export function systemControlA(machine: MachineControl): ResetRegister {
  return new ResetRegister("port 0x92", FAST_RESET, machine);
}

export function resetControl(machine: MachineControl): ResetRegister {
  return new ResetRegister("port 0xcf9", RST_CPU, machine);
}
