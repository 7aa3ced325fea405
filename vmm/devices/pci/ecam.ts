// The enhanced configuration access mechanism: every function's
// configuration space as 4 KiB of memory, at
// base + (bus << 20 | device << 15 | function << 12) (PCI Express Base
// 4.0, 7.2.2). The ACPI MCFG table tells the guest where the region is
// (platform/pc/pcimap.ts).

import { Device } from "../bus";
import { PciBus } from "./pcibus";

export class Ecam extends Device {
  constructor(private bus: PciBus) {
    super("PCI ECAM");
  }

  // An access must not cross a dword (7.2.2.2); one that does is cut there.
  read(offset: u64, size: u8): u64 {
    const o = <u32>offset;
    return this.bus.readConfig(o >> 20, (o >> 15) & 0x1f, (o >> 12) & 0x7, o & 0xfff, withinDword(o, size));
  }

  write(offset: u64, size: u8, value: u64): void {
    const o = <u32>offset;
    this.bus.writeConfig(o >> 20, (o >> 15) & 0x1f, (o >> 12) & 0x7, o & 0xfff, withinDword(o, size), <u32>value);
  }
}

function withinDword(offset: u32, size: u8): u8 {
  return <u8>min<u32>(<u32>size, 4 - (offset & 3));
}
