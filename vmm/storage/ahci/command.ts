// ATA commands as an AHCI port sends them: the ATA command set (ATA8-ACS;
// ACS-2 for what DATA SET MANAGEMENT and its IDENTIFY bits need, and for
// the queued READ and WRITE FPDMA QUEUED of native command queuing) carried
// in a Register Host to Device FIS (Serial ATA 2.6, 10.3.4), the 20 bytes
// at the start of a command table (AHCI 1.3.1, 4.2.3 "Command Table",
// CFIS). The builders fill an AtaCommand and touch nothing else, so that
// unit tests can read what the device would; the port (port.ts) writes
// the FIS into its command table and issues it.

// The commands this driver uses (ATA8-ACS and ACS-2 give each its own section).
export const enum AtaOpcode {
  DataSetManagement = 0x06,
  ReadDmaExt = 0x25,
  ReadLogExt = 0x2f,
  WriteDmaExt = 0x35,
  ReadFpdmaQueued = 0x60,
  WriteFpdmaQueued = 0x61,
  FlushCacheExt = 0xea,
  IdentifyDevice = 0xec,
}

const REGISTER_H2D: u8 = 0x27; // the FIS type (SATA 2.6, 10.3.4)
const COMMAND_BIT: u8 = 0x80; // byte 1 bit 7: the FIS updates the Command register, not Device Control
const LBA_MODE: u8 = 0x40; // Device register bit 6: the address is an LBA (ATA8-ACS, READ DMA EXT, "Device")
const TRIM: u16 = 1; // DATA SET MANAGEMENT's feature bit 0 (ACS-2, DATA SET MANAGEMENT)
// A queued command's tag, in bits 7-3 of its Count (ACS-2, READ FPDMA QUEUED).
const TAG_SHIFT: u16 = 3;
// The NCQ Command Error log (ACS-2, Table A.2: log address 10h), one 512-byte page.
export const NCQ_ERROR_LOG: u64 = 0x10;
const FIS_BYTES: i32 = 20;

export class AtaCommand {
  opcode: u8 = 0;
  features: u16 = 0;
  lba: u64 = 0; // 48 bits
  count: u16 = 0; // for the EXT transfers, 0 means 65536
  // Whether its data goes from host to device (the command header's W bit).
  toDevice: bool = false;

  set(opcode: AtaOpcode, lba: u64, count: u16, toDevice: bool): AtaCommand {
    this.opcode = <u8>opcode;
    this.features = 0;
    this.lba = lba;
    this.count = count;
    this.toDevice = toDevice;
    return this;
  }

  // The Register H2D FIS at linear offset `at` (SATA 2.6, 10.3.4):
  // LBA bits 23-0 in bytes 4-6, 47-24 in 8-10; features in bytes 3 and 11;
  // the count in 12-13.
  writeFis(at: usize): void {
    memory.fill(at, 0, FIS_BYTES);
    store<u8>(at, REGISTER_H2D);
    store<u8>(at + 1, COMMAND_BIT);
    store<u8>(at + 2, this.opcode);
    store<u8>(at + 3, <u8>this.features);
    for (let i = 0; i < 3; i++) {
      store<u8>(at + 4 + <usize>i, <u8>(this.lba >> (8 * <u64>i)));
      store<u8>(at + 8 + <usize>i, <u8>(this.lba >> (8 * <u64>(i + 3))));
    }
    store<u8>(at + 7, LBA_MODE);
    store<u8>(at + 11, <u8>(this.features >> 8));
    store<u16>(at + 12, this.count);
  }

  // Whether it is a queued command, whose sector count is in its features.
  get queued(): bool {
    return this.opcode == <u8>AtaOpcode.ReadFpdmaQueued || this.opcode == <u8>AtaOpcode.WriteFpdmaQueued;
  }

  // "read of 8 sectors at LBA 2048", "queued write of ...", for the log.
  toString(): string {
    const count = this.queued ? this.features : this.count;
    const sectors = count == 0 ? "65536" : count.toString();
    const at = " of " + sectors + " sectors at LBA " + this.lba.toString();
    if (this.opcode == <u8>AtaOpcode.ReadDmaExt) return "read" + at;
    if (this.opcode == <u8>AtaOpcode.WriteDmaExt) return "write" + at;
    if (this.opcode == <u8>AtaOpcode.ReadFpdmaQueued) return "queued read" + at;
    if (this.opcode == <u8>AtaOpcode.WriteFpdmaQueued) return "queued write" + at;
    if (this.opcode == <u8>AtaOpcode.ReadLogExt) return "read of log " + log16(this.lba);
    if (this.opcode == <u8>AtaOpcode.DataSetManagement) return "trim";
    if (this.opcode == <u8>AtaOpcode.FlushCacheExt) return "flush";
    return "identify";
  }
}

// IDENTIFY DEVICE (ATA8-ACS): 512 bytes of PIO data in.
export function identifyDevice(c: AtaCommand): void {
  c.set(AtaOpcode.IdentifyDevice, 0, 0, false);
}

// READ DMA EXT or WRITE DMA EXT (ATA8-ACS) of `sectors` (1 to 65536) from `lba`.
export function readWriteDmaExt(c: AtaCommand, write: bool, lba: u64, sectors: u32): void {
  c.set(write ? AtaOpcode.WriteDmaExt : AtaOpcode.ReadDmaExt, lba, <u16>sectors, write);
}

// READ FPDMA QUEUED or WRITE FPDMA QUEUED (ACS-2) of `sectors` (1 to
// 65536) from `lba` as queued command `tag`: the sector count goes in the
// features, the tag in the count. The device may run it beside the others
// in flight and end them in any order (SATA's native command queuing).
export function fpdmaQueued(c: AtaCommand, write: bool, lba: u64, sectors: u32, tag: u32): void {
  c.set(write ? AtaOpcode.WriteFpdmaQueued : AtaOpcode.ReadFpdmaQueued, lba, <u16>(tag << TAG_SHIFT), write).features =
    <u16>sectors;
}

// READ LOG EXT (ACS-2) of the first page of log `address`: 512 bytes of PIO data in.
export function readLogExt(c: AtaCommand, address: u64): void {
  c.set(AtaOpcode.ReadLogExt, address, 1, false);
}

// FLUSH CACHE EXT (ATA8-ACS): the device's volatile cache is on the medium.
export function flushCacheExt(c: AtaCommand): void {
  c.set(AtaOpcode.FlushCacheExt, 0, 0, false);
}

// DATA SET MANAGEMENT with TRIM (ACS-2): `blocks` 512-byte blocks of
// LBA range entries go to the device by DMA.
export function trim(c: AtaCommand, blocks: u16): void {
  c.set(AtaOpcode.DataSetManagement, 0, blocks, true).features = TRIM;
}

// "10h", a log's address for the log.
function log16(address: u64): string {
  return (address & 0xff).toString(16) + "h";
}
