// An NVMe controller of the host, driven by polling (NVM Express Base
// Specification 1.4). start() follows the initialization sequence of 7.6.1:
// reset the controller, give it an admin queue pair, enable it, identify
// it, ask for one I/O queue pair and create it. Commands then run one at a
// time, under the hypervisor's lock, each waited for on its completion
// queue with a timeout on the TSC (queue.ts); no interrupt is used.
//
// A controller that misbehaves (never gets ready, lets a command time out,
// completes a command it was not given) is failed: one log line says why,
// bus mastering is turned off so that nothing late lands in memory that
// has been reused, and every later request fails at once. A command that
// completes with an error status fails only that request.

import { pause, physRead32, physWrite32, rdtsc } from "../../../kernel/arch/shim";
import * as log from "../../../kernel/console/log";
import { allocPage, allocPages, physOf } from "../../../kernel/mm/linearpages";
import { PciFunction } from "../../../kernel/pci/functions";
import { HostController } from "../../../kernel/pci/hostcontroller";
import { tscPerMillisecond } from "../../../kernel/time/tsc";
import { BUFFER_BYTES } from "../blockdevice";
import { Segments } from "../segments";
import {
  Command,
  createCompletionQueue,
  createSubmissionQueue,
  identify,
  IdentifyWhat,
  IoOpcode,
  setQueueCount,
} from "./command";
import { ControllerIdentity, NamespaceFormat, parseController, parseNamespace, parseNamespaceList } from "./identify";
import { DataPointer, MAX_PRP_BYTES, MEMORY_PAGE } from "./prp";
import { MAX_QUEUE_ENTRIES, QueuePair, TIMED_OUT } from "./queue";

// Controller registers (3.1): offsets into BAR0.
const CAP: u64 = 0x00, VS: u64 = 0x08, CC: u64 = 0x14, CSTS: u64 = 0x1c;
const AQA: u64 = 0x24, ASQ: u64 = 0x28, ACQ: u64 = 0x30;
// CC (3.1.5): enable; I/O queue entry sizes as powers of two (64 and 16
// bytes). CSS 0 (the NVM command set), MPS 0 (4 KiB pages) and AMS 0
// (round robin) are the zeroes in between.
const CC_ENABLE: u32 = 1;
const CC_QUEUE_ENTRY_SIZES: u32 = (4 << 20) | (6 << 16);
// CSTS (3.1.6): ready; controller fatal status.
const CSTS_READY: u32 = 1, CSTS_FATAL: u32 = 2;

// Longer than any healthy command takes, short enough to notice a dead one.
const COMMAND_TIMEOUT_MS: u64 = 10_000;
const IDENTIFY_BYTES: u64 = 4096;
const IO_QUEUE: u16 = 1;

export class NvmeController extends HostController {
  identity: ControllerIdentity | null = null;
  // The most bytes one read or write moves: MDTS, and what one PRP list holds.
  maxTransfer: u64 = MAX_PRP_BYTES;
  readonly buffer: usize = allocPages(<i32>(BUFFER_BYTES / MEMORY_PAGE));
  readonly bufferPhys: u64 = physOf(this.buffer);
  readonly command: Command = new Command(); // one at a time: every command is waited for
  private pointer: DataPointer = newDataPointer();
  private single: Segments = new Segments(1);
  private admin: QueuePair | null = null;
  private io: QueuePair | null = null;
  private commandTimeout: u64 = 0;

  // `registers`: the physical address BAR0 decodes.
  constructor(fn: PciFunction, private registers: u64) {
    super("nvme", fn);
  }

  // Brings the controller up to one working I/O queue pair; false (logged) if it cannot.
  start(): bool {
    this.commandTimeout = COMMAND_TIMEOUT_MS * tscPerMillisecond();
    const cap = this.read64(CAP);
    // CAP (3.1.1): CSS bit 37 is the NVM command set; MPSMIN 51-48.
    if (((cap >> 37) & 1) == 0) return this.fail("does not offer the NVM command set");
    const minPage = <u64>4096 << ((cap >> 48) & 0xf);
    if (minPage != MEMORY_PAGE) return this.fail("takes no memory pages smaller than " + log.size(minPage));
    // Doorbells are 4 << DSTRD bytes apart; CSTS.RDY changes within TO x 500 ms; MQES is 0-based.
    const stride = <u64>4 << ((cap >> 32) & 0xf);
    const readyMs = max<u64>(1, (cap >> 24) & 0xff) * 500;
    const entries = min<u32>(MAX_QUEUE_ENTRIES, <u32>(cap & 0xffff) + 1);

    // Reset first (7.6.1). EN is changed only once RDY has followed its
    // last change, so a controller still on its way up is let arrive first.
    if ((this.read32(CC) & CC_ENABLE) != 0) {
      this.waitReady(true, readyMs);
      this.write32(CC, this.read32(CC) & ~CC_ENABLE);
    }
    if (!this.waitReady(false, readyMs)) {
      return this.fail("did not finish its reset within " + readyMs.toString() + " ms");
    }

    // The admin queues (AQA's sizes are 0-based), then enable.
    const admin = new QueuePair(0, entries, this.registers, stride);
    this.admin = admin;
    this.write32(AQA, ((entries - 1) << 16) | (entries - 1));
    this.write64(ASQ, admin.submissionsPhys);
    this.write64(ACQ, admin.completionsPhys);
    this.write32(CC, CC_QUEUE_ENTRY_SIZES | CC_ENABLE);
    if (!this.waitReady(true, readyMs)) {
      const fatal = (this.read32(CSTS) & CSTS_FATAL) != 0;
      return this.fail(
        fatal ? "reported a fatal error when enabled" : "not ready within " + readyMs.toString() + " ms",
      );
    }

    // Who it is, and its limits (Identify Controller).
    const c = this.command;
    identify(c, IdentifyWhat.Controller, 0);
    if (!this.adminCommand(c, IDENTIFY_BYTES, "identify controller")) return false;
    const id = parseController(this.bufferBytes(IDENTIFY_BYTES));
    this.identity = id;
    if (id.submissionEntryLog2 > 6 || id.completionEntryLog2 > 4) return this.fail("needs larger queue entries");
    if (id.maxTransferLog2 != 0 && id.maxTransferLog2 < 9) this.maxTransfer = MEMORY_PAGE << id.maxTransferLog2;

    // One I/O queue pair, announced, then created completion queue first.
    setQueueCount(c, 1);
    if (!this.adminCommand(c, 0, "set the number of queues")) return false;
    const io = new QueuePair(IO_QUEUE, entries, this.registers, stride);
    createCompletionQueue(c, IO_QUEUE, entries, io.completionsPhys);
    if (!this.adminCommand(c, 0, "create an I/O completion queue")) return false;
    createSubmissionQueue(c, IO_QUEUE, entries, io.submissionsPhys, IO_QUEUE);
    if (!this.adminCommand(c, 0, "create an I/O submission queue")) return false;
    this.io = io;
    return true;
  }

  // The active namespace IDs: the controller's list (CNS 02h, from version
  // 1.1 on), or else every ID up to NN, inactive ones to be found empty.
  namespaceIds(): u32[] {
    const c = this.command;
    if (this.read32(VS) >= 0x0001_0100) {
      identify(c, IdentifyWhat.ActiveNamespaces, 0);
      if (!this.adminCommand(c, IDENTIFY_BYTES, "identify the active namespaces")) return [];
      return parseNamespaceList(this.bufferBytes(IDENTIFY_BYTES));
    }
    const ids: u32[] = [];
    const count = min<u32>(this.identity!.namespaceCount, <u32>(IDENTIFY_BYTES / 4));
    for (let id: u32 = 1; id <= count; id++) ids.push(id);
    return ids;
  }

  // Namespace `nsid`'s size and format, or null if the command failed (logged).
  identifyNamespace(nsid: u32): NamespaceFormat | null {
    identify(this.command, IdentifyWhat.Namespace, nsid);
    if (!this.adminCommand(this.command, IDENTIFY_BYTES, "identify namespace " + nsid.toString())) return null;
    return parseNamespace(this.bufferBytes(IDENTIFY_BYTES));
  }

  // Points the next I/O command at as much of `data`, from its position
  // on, as one command can name: at most `most` bytes and maxTransfer, in
  // whole `unit`s. How many bytes (prp.ts).
  describe(data: Segments, most: u64, unit: u64): u64 {
    return this.pointer.describe(data, min(most, this.maxTransfer), unit);
  }

  // Runs I/O command `c`, with the data describe() named if `withData`:
  // true on success. A failure is logged.
  runIo(c: Command, withData: bool): bool {
    if (this.failure !== null) return false; // said why once already
    const status = this.run(this.io!, c, withData);
    if (status == 0) return true;
    const what = describeIo(c);
    if (status > 0) log.warn(this.name + ": " + what + " failed: " + describeStatus(status));
    else this.fail(what + ": " + this.describeFailure(status));
    return false;
  }

  // The first `length` bytes of the driver's buffer, copied out.
  bufferBytes(length: u64): Uint8Array {
    const bytes = new Uint8Array(<i32>length);
    memory.copy(bytes.dataStart, this.buffer, <usize>length);
    return bytes;
  }

  // An admin command with its data in the driver's buffer; any failure fails the controller.
  private adminCommand(c: Command, length: u64, what: string): bool {
    if (this.failure !== null) return false;
    if (length > 0) this.pointer.describe(this.single.only(this.bufferPhys, length), length, 1);
    const status = this.run(this.admin!, c, length > 0);
    if (status == 0) return true;
    return this.fail(what + ": " + (status > 0 ? describeStatus(status) : this.describeFailure(status)));
  }

  private run(queue: QueuePair, c: Command, withData: bool): i32 {
    if (withData) {
      c.prp1 = this.pointer.prp1;
      c.prp2 = this.pointer.prp2;
    }
    return queue.execute(c, this.commandTimeout);
  }

  private describeFailure(status: i32): string {
    return status == TIMED_OUT
      ? "no completion within " + COMMAND_TIMEOUT_MS.toString() + " ms"
      : "a completion for a command it was not given";
  }

  // Whether CSTS.RDY became `ready` within `ms`; waiting for ready stops
  // early at a fatal error (CSTS.CFS).
  private waitReady(ready: bool, ms: u64): bool {
    const want = ready ? CSTS_READY : 0;
    const deadline = rdtsc() + ms * tscPerMillisecond();
    while (true) {
      const csts = this.read32(CSTS);
      if ((csts & CSTS_READY) == want) return true;
      if ((ready && (csts & CSTS_FATAL) != 0) || rdtsc() > deadline) return false;
      pause();
    }
  }

  private read32(reg: u64): u32 {
    return physRead32(this.registers + reg);
  }
  private write32(reg: u64, v: u32): void {
    physWrite32(this.registers + reg, v);
  }
  // 64-bit registers as two aligned 32-bit accesses, low dword first, which
  // every controller takes (3.1: native width or aligned 32-bit accesses).
  private read64(reg: u64): u64 {
    return <u64>this.read32(reg) | (<u64>this.read32(reg + 4) << 32);
  }
  private write64(reg: u64, v: u64): void {
    this.write32(reg, <u32>v);
    this.write32(reg + 4, <u32>(v >> 32));
  }
}

// "read of 8 blocks at LBA 2048 of namespace 1", for the log.
function describeIo(c: Command): string {
  const op = c.opcode == IoOpcode.Read
    ? "read"
    : c.opcode == IoOpcode.Write
    ? "write"
    : c.opcode == IoOpcode.WriteZeroes
    ? "write zeroes"
    : "flush";
  if (c.opcode == IoOpcode.Flush) return op + " of namespace " + c.nsid.toString();
  return op + " of " + c.blocks.toString() + " blocks at LBA " + c.lba.toString() + " of namespace "
    + c.nsid.toString();
}

// A completion's status field (4.6.1): its type (bits 10-8) and code (7-0).
function describeStatus(status: i32): string {
  return "status type " + (status >> 8).toString() + ", code " + log.hex(<u64>(status & 0xff));
}

function newDataPointer(): DataPointer {
  const list = allocPage();
  return new DataPointer(list, physOf(list));
}
