// A RAM disk: a disk image that the boot loader loaded as a boot module,
// in the hypervisor's memory, for machines without a spare disk and for
// Bochs, whose disks are ATA only. What the VM writes lives as long as the
// hypervisor runs; a power-off of the host loses it, as with any RAM.

import { physZero } from "../../kernel/arch/shim";
import { BootModule } from "../../kernel/boot/bootinfo";
import { GuestMemory } from "../core/guestmemory";
import { DiskBacking, SECTOR_SIZE } from "./backing";

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

  read(offset: u64, memory: GuestMemory, gpa: u64, length: u64): bool {
    return memory.dma(gpa, this.base + offset, length, true);
  }

  write(offset: u64, memory: GuestMemory, gpa: u64, length: u64): bool {
    return !this.readOnly && memory.dma(gpa, this.base + offset, length, false);
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
