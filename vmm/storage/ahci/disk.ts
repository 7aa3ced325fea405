// A SATA disk on an AHCI port as a BlockDevice: IDENTIFY DEVICE says its
// size and sector size, READ DMA EXT and WRITE DMA EXT move its sectors
// straight to or from host-physical memory, FLUSH CACHE EXT empties its
// cache (ATA8-ACS). Only disks with 48-bit addresses are used, and only
// sectors of 512 or 4096 bytes, as for NVMe.
//
// Where both the HBA (CAP.SNCQ) and the disk (IDENTIFY word 76) have
// native command queuing, reads and writes are READ and WRITE FPDMA
// QUEUED instead (ACS-2), up to one less than the queue's depth in flight
// at once in slots 1 and up (port.ts), each tagged with its slot's number,
// running on while their issuers go on; a command that is not queued waits
// for them to end first (ATA runs it only alone). When one fails, the
// device ends every queued command it has not finished; the port is
// recovered, the NCQ Command Error log (10h) names the one that failed,
// and the others are issued again. If the log cannot tell, every command
// the device had not finished fails.
//
// zero() keeps DiskBacking.discard()'s promise that the sectors read as
// zeroes afterwards: with TRIM only if the disk says trimmed sectors read
// as zeroes, deterministically (IDENTIFY word 69, DRAT and RZAT; ACS-2),
// since TRIM alone may leave the old data readable; otherwise by writing
// zeroes.

import { memoryFence, pause, rdtsc } from "../../../kernel/arch/shim";
import * as log from "../../../kernel/console/log";
import { allocPages, physOf } from "../../../kernel/mm/linearpages";
import { tscPerMillisecond } from "../../../kernel/time/tsc";
import { BlockDevice, BUFFER_BYTES } from "../blockdevice";
import { IoBatch } from "../iobatch";
import { Segments } from "../segments";
import {
  AtaCommand,
  flushCacheExt,
  fpdmaQueued,
  identifyDevice,
  NCQ_ERROR_LOG,
  readLogExt,
  readWriteDmaExt,
  trim,
} from "./command";
import { AtaIdentity, parseIdentify } from "./identify";
import { AhciPort, COMMAND_TIMEOUT_MS, MAX_SLOTS, Outcome } from "./port";
import { prdAddressable } from "./prdt";

const IDENTIFY_BYTES: u64 = 512;
// A command's count is 16 bits, 0 meaning 65536 (READ DMA EXT); a TRIM
// range's length 16 bits, 0 meaning none (ACS-2, LBA Range Entry).
const MAX_SECTORS: u64 = 0x1_0000;
const MAX_RANGE: u64 = 0xffff;
const RANGE_ENTRY_BYTES: u64 = 8, RANGE_BLOCK_BYTES: u64 = 512;
// The NCQ Command Error log's first byte (SATA 3.x, 13.7.4): the failed
// command's tag in bits 4-0, and NQ (bit 7) if it was not a queued one.
const LOG_TAG_MASK: u8 = 0x1f, LOG_NOT_QUEUED: u8 = 0x80;
const LOG_BYTES: u64 = 512;

export class AhciDisk extends BlockDevice {
  identity: AtaIdentity | null = null;
  private data: usize = allocPages(<i32>(BUFFER_BYTES / 4096));
  private dataPhys: u64 = physOf(this.data);
  // Each slot's command: slot 0's is not queued, and waited for at once.
  private commands: AtaCommand[] = [];
  // The slots of queued commands (1 to one less than this; 0 without
  // NCQ), those in flight, and the batch and request each is part of.
  private queueSlots: u32 = 0;
  private flying: u32 = 0;
  private batches: StaticArray<IoBatch | null> = new StaticArray<IoBatch | null>(<i32>MAX_SLOTS);
  private tags: StaticArray<i32> = new StaticArray<i32>(<i32>MAX_SLOTS);
  // The TSC of the last queued command's end, or of the first start after none was in flight.
  private progressAt: u64 = 0;

  // The disk on `port` of an HBA with 64-bit addresses (`wide`) or not,
  // that has `slots` command slots and, with `queuing`, NCQ.
  constructor(readonly port: AhciPort, private wide: bool, private slots: u32, private queuing: bool) {
    super();
    for (let slot: u32 = 0; slot < MAX_SLOTS; slot++) this.commands.push(new AtaCommand());
  }

  private get command(): AtaCommand {
    return this.commands[0];
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
    // Tags run from 0 to the depth less one; slot 0 is not queued.
    const slots = min(this.slots, id.queueDepth);
    if (this.queuing && slots > 1 && this.port.allocateQueue(slots, this.wide)) this.queueSlots = slots;
    return null;
  }

  // "...: 64 MiB, 512-byte sectors, 31 queued commands".
  describe(): string {
    const queue = this.queueSlots > 1 ? ", " + (this.queueSlots - 1).toString() + " queued commands" : "";
    return super.describe() + queue;
  }

  addressable(phys: u64, length: u64): bool {
    return prdAddressable(phys, length, this.wide);
  }

  protected cover(data: Segments): u64 {
    return this.port.describe(this.nextSlot, data, MAX_SECTORS * this.blockSize, this.blockSize);
  }

  // Without NCQ each command runs to its end in start().
  protected get hasRoom(): bool {
    return this.queueSlots == 0 || this.freeSlots != 0;
  }

  protected start(lba: u64, blocks: u64, write: bool, batch: IoBatch, tag: i32): bool {
    if (this.queueSlots == 0) {
      readWriteDmaExt(this.command, write, lba, <u32>blocks);
      return this.run(this.command, true);
    }
    if (this.port.failure !== null) return false;
    const slot = this.nextSlot, c = this.commands[slot];
    fpdmaQueued(c, write, lba, <u32>blocks, slot);
    this.port.issue(slot, c);
    if (this.flying == 0) this.progressAt = rdtsc();
    this.batches[slot] = batch;
    this.tags[slot] = tag;
    this.flying |= 1 << slot;
    batch.started();
    return true;
  }

  // Credits the queued commands the device has finished to their
  // batches; with `wait`, waits for one first. When one fails the device
  // ends all it had not finished: the port is recovered, the log names the
  // one that failed, and the others go again; if it cannot tell, they all
  // fail. A port that reports a bus error, or finishes nothing for
  // COMMAND_TIMEOUT_MS, is failed, and every command in flight with it.
  protected reap(wait: bool): void {
    const port = this.port;
    while (this.flying != 0) {
      const outcome = port.queuedOutcome;
      const unfinished = port.active & this.flying;
      if (outcome == Outcome.Done) {
        const finished = this.flying & ~unfinished;
        if (finished != 0) {
          memoryFence(); // what the HBA wrote is read after the register that says it is done
          this.end(finished, true);
          return;
        }
        if (rdtsc() - this.progressAt > COMMAND_TIMEOUT_MS * tscPerMillisecond()) {
          return this.failAll("queued commands: " + TIMED_OUT);
        }
        if (!wait) return;
        pause();
        continue;
      }
      if (outcome != Outcome.DeviceError) return this.failAll("queued commands: " + HOST_ERROR);
      const tf = port.taskFile;
      log.warn(port.name + ": a queued command failed: status " + log.hex(tf & 0xff) + ", error " + log.hex(tf >> 8));
      this.end(this.flying & ~unfinished, true);
      if (!port.recover()) return this.failAll("still busy after a failed queued command");
      const slot = this.failedSlot();
      if (slot < 0 || (unfinished & (1 << slot)) == 0) {
        this.end(unfinished, false);
        return;
      }
      log.warn(port.name + ": it was the " + this.commands[slot].toString() + "; the others go again");
      this.end(1 << slot, false);
      for (let rest = this.flying; rest != 0; rest &= rest - 1) {
        const again = ctz(rest);
        port.issue(again, this.commands[again]);
      }
    }
  }

  // The queued commands of `slots` ended, well or not: each is credited to its batch.
  private end(slots: u32, ok: bool): void {
    for (let rest = slots; rest != 0; rest &= rest - 1) {
      const slot = ctz(rest);
      this.batches[slot]!.ended(this.tags[slot], ok);
      this.batches[slot] = null;
    }
    this.flying &= ~slots;
    this.progressAt = rdtsc();
  }

  // Fails the port for `reason`, and every queued command in flight.
  private failAll(reason: string): void {
    this.port.fail(reason);
    this.end(this.flying, false);
  }

  // Lets every queued command end, before one that is not queued.
  private drain(): void {
    while (this.flying != 0) this.reap(true);
  }

  // The slot of the queued command that failed, from the NCQ Command Error
  // log (which also lets the device take queued commands again); -1 if the
  // log cannot be read or names none.
  private failedSlot(): i32 {
    readLogExt(this.command, NCQ_ERROR_LOG);
    if (!this.runOnBuffer(this.command, LOG_BYTES)) return -1;
    // The page's bytes sum to 0 (its last is a checksum).
    let sum: u32 = 0;
    for (let i: usize = 0; i < <usize>LOG_BYTES; i++) sum += load<u8>(this.data + i);
    const first = load<u8>(this.data);
    return (sum & 0xff) != 0 || (first & LOG_NOT_QUEUED) != 0 ? -1 : <i32>(first & LOG_TAG_MASK);
  }

  // The queued slots free (of 1 to queueSlots - 1), and the lowest of them.
  private get freeSlots(): u32 {
    return ~this.flying & <u32>((<u64>1 << <u64>this.queueSlots) - 2);
  }
  private get nextSlot(): u32 {
    return this.queueSlots == 0 ? 0 : ctz(this.freeSlots);
  }

  zero(lba: u64, count: u64): bool {
    this.drain();
    return this.identity!.trimZeroes ? this.trim(lba, count) : this.writeZeroes(lba, count);
  }

  flush(): bool {
    this.drain();
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
    this.port.describe(0, this.single.only(this.dataPhys, length), length, 1);
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
    return port.fail(what + ": " + (outcome == Outcome.TimedOut ? TIMED_OUT : HOST_ERROR));
  }
}

const TIMED_OUT: string = "no completion within " + COMMAND_TIMEOUT_MS.toString() + " ms";
const HOST_ERROR: string = "a host bus or interface error";
