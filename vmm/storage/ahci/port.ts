// One port of an AHCI HBA and the SATA device on it, driven by polling
// (AHCI 1.3.1, 3.3 "Port Registers", 5 "Data Transfer Operation").
//
// A port reads its commands from memory the host gives it: a command list
// of 32-byte headers (4.2.2), one per command slot, each pointing at a
// command table (4.2.3) that holds the command's FIS and its PRDT, and a
// received-FIS area where it posts the FISes the device sends back
// (4.2.1). The list, the FIS area and slot 0's table live in one page of
// the linear memory, written with ordinary stores, under the hypervisor's
// lock. Slot 0 runs the commands that are not queued, one at a time: the
// driver sets its bit in PxCI and polls until the HBA clears it (done) or
// PxIS reports an error, with a deadline on the TSC. With native command
// queuing, slots 1 and up, each with a table in a page of its own, hold
// queued reads and writes in flight together (5.3.7 and 5.3.8): the driver
// sets a slot's bit in PxSACT, then in PxCI, and the command is done when
// the device has cleared its PxSACT bit, in whatever order it finishes them.
//
// A command the device fails (a task file error) fails that request, and
// the port is restarted as 6.2.2.1 says. A port that lets a command time
// out, or stays busy after an error, is failed: one log line, the port
// stopped (or, if it will not stop, bus mastering turned off for the whole
// HBA, so that nothing late lands in memory that has been reused), and
// every later request fails at once.

import { memoryFence, pause, physRead32, physWrite32, rdtsc } from "../../../kernel/arch/shim";
import * as log from "../../../kernel/console/log";
import { allocPage, physOf } from "../../../kernel/mm/linearpages";
import { BUS_MASTER, PciFunction } from "../../../kernel/pci/functions";
import { tscPerMillisecond } from "../../../kernel/time/tsc";
import { Segments } from "../segments";
import { AtaCommand } from "./command";
import { PrdTable } from "./prdt";

// Port registers (3.3), from the port's base at ABAR + 100h + 80h x port.
const PxCLB: u64 = 0x00, PxFB: u64 = 0x08, PxIS: u64 = 0x10, PxCMD: u64 = 0x18, PxTFD: u64 = 0x20;
const PxSIG: u64 = 0x24, PxSSTS: u64 = 0x28, PxSERR: u64 = 0x30, PxCI: u64 = 0x38;
// PxCMD (3.3.7): start (process the command list), spin-up device, FIS
// receive enable, and the HBA's acknowledgements of the two: FIS receive
// running, command list running.
const CMD_ST: u32 = 1 << 0, CMD_SUD: u32 = 1 << 1, CMD_FRE: u32 = 1 << 4, CMD_FR: u32 = 1 << 14, CMD_CR: u32 = 1 << 15;
// PxTFD (3.3.8): the device's Status register in bits 7-0: busy, data request, error.
const TFD_BSY: u32 = 1 << 7, TFD_DRQ: u32 = 1 << 3, TFD_ERR: u32 = 1 << 0;
// PxIS (3.3.5): the errors that end a command: task file, host bus fatal,
// host bus data, interface fatal.
const IS_ERRORS: u32 = (1 << 30) | (1 << 29) | (1 << 28) | (1 << 27);
// PxSSTS.DET (3.3.10), bits 3-0: a device is present and the link is up.
const DET_PRESENT: u32 = 3;
// PxSACT (3.3.13): the queued commands the device has not finished.
const PxSACT: u64 = 0x34;
// PxSIG (3.3.9): what the device's first D2H Register FIS said it is.
export const ATA_SIGNATURE: u32 = 0x0000_0101;

// The port's page: command list (1 KiB-aligned), received FISes
// (256-byte-aligned), slot 0's command table (128-byte-aligned). A
// table's PRDT starts 80h into it and holds PRD_ENTRIES, to the page's
// end for slot 0's; a queued slot's table starts its own page.
const RECEIVED_FIS: usize = 0x400, SLOT_0_TABLE: usize = 0x500, PRDT_AT: usize = 0x80;
const HEADER_BYTES: usize = 32;
const FIS_DWORDS: u32 = 5; // a Register H2D FIS: the header's CFL
const HEADER_WRITE: u32 = 1 << 6; // the header's W: data from host to device
const SLOT_0: u32 = 1;
// The command slots an HBA may have (CAP.NCS, 3.1.1).
export const MAX_SLOTS: u32 = 32;

// How long the HBA may take to stop a port (10.1.2: at least 500 ms).
const STOP_MS: u64 = 500;
// Longer than any healthy command takes, short enough to notice a dead one.
export const COMMAND_TIMEOUT_MS: u64 = 10_000;

// execute()'s results.
export const enum Outcome {
  Done,
  DeviceError, // the device ended the command with ERR (PxTFD holds why)
  HostError, // the HBA reported a bus or interface error
  TimedOut,
}

export class AhciPort {
  readonly name: string;
  failure: string | null = null;
  // Its command list, received FISes and command table, once there is a device (allocate()).
  private page: usize = 0;
  private pagePhys: u64 = 0;
  // Each slot's command table and its PRDT, for slot 0 and those allocateQueue() gave.
  private tables: StaticArray<usize> = new StaticArray<usize>(<i32>MAX_SLOTS);
  private prdts: PrdTable[] = [];

  // Port `index` of the HBA `fn` named `hba`, with its registers at `base`.
  constructor(private fn: PciFunction, hba: string, index: u32, private base: u64) {
    this.name = hba + " port " + index.toString();
  }

  get linkUp(): bool {
    return (this.read(PxSSTS) & 0xf) == DET_PRESENT;
  }
  get signature(): u32 {
    return this.read(PxSIG);
  }
  // The device's Error (15-8) and Status (7-0) registers.
  get taskFile(): u32 {
    return this.read(PxTFD) & 0xffff;
  }
  // Gives the port its page; false if the HBA could not address it
  // (above 4 GiB, and no 64-bit addressing: `wide` false).
  allocate(wide: bool): bool {
    this.page = allocPage();
    this.pagePhys = physOf(this.page);
    this.addTable(this.page + SLOT_0_TABLE);
    return wide || this.pagePhys + 4096 <= <u64>1 << 32;
  }

  // Gives queued slots 1 to `slots` - 1 a table each; false if the HBA
  // could not address one (`wide` as for allocate()).
  allocateQueue(slots: u32, wide: bool): bool {
    for (let slot = <u32>this.prdts.length; slot < slots; slot++) {
      const page = allocPage();
      if (!wide && physOf(page) + 4096 > <u64>1 << 32) return false;
      this.addTable(page);
    }
    return true;
  }

  private addTable(table: usize): void {
    this.tables[this.prdts.length] = table;
    this.prdts.push(new PrdTable(table + PRDT_AT));
  }

  // Stops the command list, then FIS reception (10.1.2 step 3); false if the HBA does not follow.
  stop(): bool {
    if (!this.stopCommands()) return false;
    this.write(PxCMD, this.read(PxCMD) & ~CMD_FRE);
    return waitClear(this.base + PxCMD, CMD_FR, STOP_MS);
  }

  // Points the idle port at its allocated page and lets it receive FISes
  // (10.1.2 step 5), which brings the device's signature and status; then
  // waits until the device is not busy. False if it stays busy.
  receive(): bool {
    this.write64(PxCLB, this.pagePhys);
    this.write64(PxFB, this.pagePhys + <u64>RECEIVED_FIS);
    this.write(PxSERR, 0xffff_ffff); // write-1-to-clear (3.3.12), step 6
    this.write(PxCMD, this.read(PxCMD) | CMD_FRE);
    return waitClear(this.base + PxTFD, TFD_BSY | TFD_DRQ, COMMAND_TIMEOUT_MS);
  }

  // With staggered spin-up (CAP.SSS) a device comes up only once SUD is set (3.3.7).
  spinUp(): void {
    this.write(PxCMD, this.read(PxCMD) | CMD_SUD);
  }

  // Starts the command list (10.3.1: only with FRE set, the device not busy, the link up).
  start(): void {
    this.write(PxIS, 0xffff_ffff);
    this.write(PxCMD, this.read(PxCMD) | CMD_ST);
  }

  // Points slot `slot`'s next command at as much of `data`, from its
  // position on, as its table holds: at most `most` bytes, in whole
  // `unit`s. How many bytes (prdt.ts).
  describe(slot: u32, data: Segments, most: u64, unit: u64): u64 {
    return this.prdts[slot].describe(data, most, unit);
  }

  // Runs `c` in slot 0, with the data describe() named if `withData`, and
  // waits for it. Only while no queued command is in flight: ATA runs a
  // command that is not queued only alone.
  execute(c: AtaCommand, withData: bool): Outcome {
    this.write(PxIS, 0xffff_ffff);
    this.prepare(0, c, withData);
    this.write(PxCI, SLOT_0);
    // An error leaves the slot's bit set (6.2.2), so PxIS is looked at first.
    return this.await(PxCI, SLOT_0);
  }

  // Starts queued command `c` in slot `slot` (1 and up, its tag), with the
  // data describe() named for it, and returns: PxSACT's bit first, then
  // PxCI's (3.3.13).
  issue(slot: u32, c: AtaCommand): void {
    this.prepare(slot, c, true);
    this.write(PxSACT, 1 << slot);
    this.write(PxCI, 1 << slot);
  }

  // Whether the queued commands in flight go well so far: Done, or the
  // error that ended them (the device then ends every queued command it
  // had not finished: `active` says which). Waits for nothing.
  get queuedOutcome(): Outcome {
    return this.error;
  }

  get active(): u32 {
    return this.read(PxSACT);
  }

  // Slot `slot`'s header and table for `c` (4.2.2): CFL, W and PRDTL;
  // PRDBC cleared; CTBA. Then they, and the data, are in memory before
  // the HBA is told.
  private prepare(slot: u32, c: AtaCommand, withData: bool): void {
    const table = this.tables[slot], header = this.page + <usize>slot * HEADER_BYTES;
    c.writeFis(table);
    const entries = withData ? this.prdts[slot].entries : 0;
    store<u32>(header, (entries << 16) | (c.toDevice ? HEADER_WRITE : 0) | FIS_DWORDS);
    store<u32>(header + 4, 0);
    store<u64>(header + 8, physOf(table));
    memoryFence();
  }

  // Polls until `bits` of register `reg` are all clear (done), PxIS reports
  // an error, or the deadline passes.
  private await(reg: u64, bits: u32): Outcome {
    const deadline = rdtsc() + COMMAND_TIMEOUT_MS * tscPerMillisecond();
    while (true) {
      const error = this.error;
      if (error != Outcome.Done) return error;
      if ((this.read(reg) & bits) == 0) break;
      if (rdtsc() > deadline) return Outcome.TimedOut;
      pause();
    }
    memoryFence(); // what the HBA wrote is read after the register that says it is done
    return Outcome.Done;
  }

  // The error PxIS reports, if any: the device's (a task file error) or the HBA's.
  private get error(): Outcome {
    if ((this.read(PxIS) & IS_ERRORS) == 0) return Outcome.Done;
    return (this.taskFile & TFD_ERR) != 0 ? Outcome.DeviceError : Outcome.HostError;
  }

  // Error recovery (6.2.2.1, and 6.2.2.2 for queued commands): stop the
  // command list, which clears PxCI and PxSACT; clear the errors; start
  // again if the device is not busy. False if it is (that needs a
  // COMRESET, which this driver leaves out).
  recover(): bool {
    if (!this.stopCommands()) return false;
    this.write(PxSERR, 0xffff_ffff);
    this.write(PxIS, 0xffff_ffff);
    if ((this.taskFile & (TFD_BSY | TFD_DRQ)) != 0) return false;
    this.start();
    return true;
  }

  // Logs why the port is no longer used, once, and stops it: false.
  fail(reason: string): bool {
    if (this.failure !== null) return false;
    this.failure = reason;
    log.error(this.name + ": " + reason + "; the port is not used");
    if (!this.stop()) {
      log.error(this.name + ": does not stop; bus mastering is turned off for the whole controller");
      this.fn.command(0, BUS_MASTER);
    }
    return false;
  }

  // Clears ST and waits for the HBA to say the command list is no longer processed (CR).
  private stopCommands(): bool {
    this.write(PxCMD, this.read(PxCMD) & ~CMD_ST);
    return waitClear(this.base + PxCMD, CMD_CR, STOP_MS);
  }

  private read(reg: u64): u32 {
    return physRead32(this.base + reg);
  }
  private write(reg: u64, v: u32): void {
    physWrite32(this.base + reg, v);
  }
  // An address in a register pair, low dword first (PxCLB/PxCLBU, PxFB/PxFBU).
  private write64(reg: u64, v: u64): void {
    this.write(reg, <u32>v);
    this.write(reg + 4, <u32>(v >> 32));
  }
}

// Whether `bits` of the register at `address` all read 0 within `ms`.
export function waitClear(address: u64, bits: u32, ms: u64): bool {
  const deadline = rdtsc() + ms * tscPerMillisecond();
  while ((physRead32(address) & bits) != 0) {
    if (rdtsc() > deadline) return false;
    pause();
  }
  return true;
}
