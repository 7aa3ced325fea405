// The test device: a few ports the test guests use to check the I/O path.
//
//   port +0 (32-bit): a scratch register; reads return the last value written.
//   port +4 (8-bit write): raise an external interrupt with this vector.
//   port +5 (8-bit write): an edge on the VM's NMI line, like a board's NMI
//     button: it reaches every local APIC's LINT1 pin.
// It exists so that guests can verify port I/O round trips of every size and
// interrupt and NMI injection (HLT wake-up) without a full PC platform. Its MMIO
// window, for the MMIO emulation path, is TestMmioWindow (testmmio.ts).
// Flat-binary VMs have both (setup/flatvms.ts).

import { Device } from "../bus";

// Where the test device's interrupts go: straight to the boot vCPU, as
// external interrupts with the vector the guest wrote; and its NMI button.
export abstract class VectorSink {
  abstract raise(vector: u8): void;
  abstract pulseNmi(): void;
}

export const TEST_DEVICE_PORT: u16 = 0x600;
export const TEST_DEVICE_PORTS: u64 = 8;

export class TestDevice extends Device {
  private scratch: u64 = 0;
  constructor(private interrupts: VectorSink) {
    super("test device");
  }

  read(offset: u64, size: u8): u64 {
    if (offset < 4) return this.scratch >> (offset * 8);
    return 0;
  }
  // Every read is quick (devices/bus.ts); so are the scratch register's writes.
  get quickReads(): u32 {
    return 0xff;
  }
  get quickWrites(): u32 {
    return 0x0f;
  }
  quickRead(offset: u64, size: u8): u64 {
    return this.read(offset, size);
  }
  quickWrite(offset: u64, size: u8, value: u64): bool {
    if (offset >= 4) return false;
    const shift = offset * 8, mask: u64 = size >= 4 ? 0xffff_ffff : ((<u64>1 << (<u64>size * 8)) - 1);
    this.scratch = (this.scratch & ~(mask << shift)) | ((value & mask) << shift);
    return true;
  }

  write(offset: u64, size: u8, value: u64): void {
    if (this.quickWrite(offset, size, value)) return;
    if (offset == 4) {
      this.interrupts.raise(<u8>value);
    } else if (offset == 5) {
      this.interrupts.pulseNmi();
    }
  }
}
