// A RAM disk: a disk image that the boot loader loaded as a boot module,
// in the hypervisor's memory, for machines without a spare disk and for
// Bochs, whose disks are ATA only. What the VM writes lives as long as the
// hypervisor runs; a power-off of the host loses it, as with any RAM.

import { physCopy, physZero } from "../../kernel/arch/shim";
import { BootModule } from "../../kernel/boot/bootinfo";
import { DiskBacking, SECTOR_SIZE } from "./backing";
import { IoBatch } from "./iobatch";
import { Segments } from "./segments";

export class RamDisk extends DiskBacking {
  private base: u64;

  // The module's whole sectors; a partial last sector is not part of the disk.
  constructor(module: BootModule, readOnly: bool, serial: string) {
    const bytes = module.end > module.start ? module.end - module.start : 0;
    super(bytes / SECTOR_SIZE, readOnly, serial);
    this.base = module.start;
  }

  get kind(): string {
    return "RAM";
  }

  // A copy, done before this returns: the batch has nothing to wait for.
  begin(offset: u64, data: Segments, write: bool, batch: IoBatch, tag: i32): bool {
    if (write && this.readOnly) return false;
    let at = this.base + offset;
    for (let i = 0; i < data.count; i++) {
      const phys = data.phys(i), length = data.length(i);
      if (write) physCopy(at, phys, length);
      else physCopy(phys, at, length);
      at += length;
    }
    return true;
  }

  poll(): void {}

  finish(batch: IoBatch): u64 {
    return batch.take();
  }

  flush(): bool {
    return true;
  }

  discard(offset: u64, length: u64): bool {
    if (this.readOnly) return false;
    physZero(this.base + offset, length);
    return true;
  }
}
