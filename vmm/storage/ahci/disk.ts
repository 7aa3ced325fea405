// A SATA disk on an AHCI port as a BlockDevice: IDENTIFY DEVICE says its
// size and sector size, READ DMA EXT and WRITE DMA EXT move its sectors
// straight to or from host-physical memory, FLUSH CACHE EXT empties its
// cache (ATA8-ACS). Only disks with 48-bit addresses are used, and only
// sectors of 512 or 4096 bytes, as for NVMe.
//
// zero() keeps DiskBacking.discard()'s promise that the sectors read as
// zeroes afterwards: with TRIM only if the disk says trimmed sectors read
// as zeroes, deterministically (IDENTIFY word 69, DRAT and RZAT; ACS-2),
// since TRIM alone may leave the old data readable; otherwise by writing
// zeroes.

import * as log from "../../../kernel/console/log";
import { allocPages, physOf } from "../../../kernel/mm/linearpages";
import { BlockDevice, BUFFER_BYTES } from "../blockdevice";
import { Segments } from "../segments";
import { AtaCommand, flushCacheExt, identifyDevice, readWriteDmaExt, trim } from "./command";
import { AtaIdentity, parseIdentify } from "./identify";
import { AhciPort, COMMAND_TIMEOUT_MS, Outcome } from "./port";
import { prdAddressable } from "./prdt";

const IDENTIFY_BYTES: u64 = 512;
// A command's count is 16 bits, 0 meaning 65536 (READ DMA EXT); a TRIM
// range's length 16 bits, 0 meaning none (ACS-2, LBA Range Entry).
const MAX_SECTORS: u64 = 0x1_0000;
const MAX_RANGE: u64 = 0xffff;
const RANGE_ENTRY_BYTES: u64 = 8, RANGE_BLOCK_BYTES: u64 = 512;

export class AhciDisk extends BlockDevice {
  identity: AtaIdentity | null = null;
  private data: usize = allocPages(<i32>(BUFFER_BYTES / 4096));
  private dataPhys: u64 = physOf(this.data);
  private command: AtaCommand = new AtaCommand(); // one at a time: every command is waited for

  // The disk on `port` of an HBA with 64-bit addresses (`wide`) or not.
  constructor(readonly port: AhciPort, private wide: bool) {
    super();
  }

  get blocks(): u64 {
    return this.identity!.sectors;
  }
  get blockSize(): u64 {
    return this.identity!.sectorSize;
  }
  get kind(): string {
    return "SATA";
  }
  get title(): string {
    const id = this.identity!;
    return this.port.name + ": " + id.model + ", serial " + id.serial + ", ";
  }
  get unit(): string {
    return "sectors";
  }
  get buffer(): usize {
    return this.data;
  }
  get bufferPhys(): u64 {
    return this.dataPhys;
  }

  // Asks the disk who it is; null if it answered, else why it is not used (logged or to be).
  identify(): string | null {
    identifyDevice(this.command);
    if (!this.runOnBuffer(this.command, IDENTIFY_BYTES)) return "IDENTIFY DEVICE failed";
    const bytes = new Uint8Array(<i32>IDENTIFY_BYTES);
    memory.copy(bytes.dataStart, this.data, <usize>IDENTIFY_BYTES);
    const id = parseIdentify(bytes);
    this.identity = id;
    if (!id.lba48) return "no 48-bit addresses (not supported)";
    if (id.sectorSize != 512 && id.sectorSize != 4096) {
      return id.sectorSize.toString() + "-byte sectors (only 512 and 4096 are supported)";
    }
    return null;
  }

  addressable(phys: u64, length: u64): bool {
    return prdAddressable(phys, length, this.wide);
  }

  protected cover(data: Segments): u64 {
    return this.port.describe(data, MAX_SECTORS * this.blockSize, this.blockSize);
  }

  // One command slot is used: each command runs to its end in start().
  protected get hasRoom(): bool {
    return true;
  }

  protected start(lba: u64, blocks: u64, write: bool, tag: i32): bool {
    readWriteDmaExt(this.command, write, lba, <u32>blocks);
    return this.run(this.command, true);
  }

  protected finish(): u64 {
    return 0;
  }

  zero(lba: u64, count: u64): bool {
    return this.identity!.trimZeroes ? this.trim(lba, count) : this.writeZeroes(lba, count);
  }

  flush(): bool {
    flushCacheExt(this.command);
    return this.run(this.command, false);
  }

  // DATA SET MANAGEMENT commands whose LBA range entries (LBA in bits
  // 47-0, sector count in 63-48; unused entries all zero) cover the range.
  private trim(lba: u64, count: u64): bool {
    const blocks = min<u64>(this.identity!.maxTrimBlocks, BUFFER_BYTES / RANGE_BLOCK_BYTES);
    const perCommand = blocks * RANGE_BLOCK_BYTES / RANGE_ENTRY_BYTES;
    for (let at = lba, end = lba + count; at < end;) {
      memory.fill(this.data, 0, <usize>BUFFER_BYTES);
      let entries: u64 = 0;
      for (; at < end && entries < perCommand; entries++) {
        const n = min(MAX_RANGE, end - at);
        store<u64>(this.data + <usize>(entries * RANGE_ENTRY_BYTES), at | (n << 48));
        at += n;
      }
      const used = (entries * RANGE_ENTRY_BYTES + RANGE_BLOCK_BYTES - 1) / RANGE_BLOCK_BYTES;
      trim(this.command, <u16>used);
      if (!this.runOnBuffer(this.command, used * RANGE_BLOCK_BYTES)) return false;
    }
    return true;
  }

  // Writes of the zeroed buffer over the range.
  private writeZeroes(lba: u64, count: u64): bool {
    memory.fill(this.data, 0, <usize>BUFFER_BYTES);
    const perCommand = BUFFER_BYTES / this.blockSize;
    for (let done: u64 = 0; done < count;) {
      const n = min(perCommand, count - done);
      readWriteDmaExt(this.command, true, lba + done, <u32>n);
      if (!this.runOnBuffer(this.command, n * this.blockSize)) return false;
      done += n;
    }
    return true;
  }

  // Runs `c` with the first `length` bytes of the driver's buffer as its data.
  private runOnBuffer(c: AtaCommand, length: u64): bool {
    this.port.describe(this.single.only(this.dataPhys, length), length, 1);
    return this.run(c, true);
  }

  // Runs `c`, with the data the port's describe() named if `withData`:
  // true on success. A command the device fails fails the request and the
  // port goes on; one the HBA loses fails the port.
  private run(c: AtaCommand, withData: bool): bool {
    const port = this.port;
    if (port.failure !== null) return false; // said why once already
    const outcome = port.execute(c, withData);
    if (outcome == Outcome.Done) return true;
    const what = c.toString();
    if (outcome == Outcome.DeviceError) {
      const tf = port.taskFile;
      log.warn(port.name + ": " + what + " failed: status " + log.hex(tf & 0xff) + ", error " + log.hex(tf >> 8));
      if (!port.recover()) port.fail("still busy after a failed " + what);
      return false;
    }
    const why = outcome == Outcome.TimedOut
      ? "no completion within " + COMMAND_TIMEOUT_MS.toString() + " ms"
      : "a host bus or interface error";
    return port.fail(what + ": " + why);
  }
}
