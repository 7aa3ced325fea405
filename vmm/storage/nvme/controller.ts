// An NVMe controller of the host, driven by polling (NVM Express Base
// Specification 1.4). start() follows the initialization sequence of 7.6.1:
// reset the controller, give it an admin queue pair, enable it, identify
// it, ask for one I/O queue pair and create it. I/O commands then start
// together, up to IO_DEPTH of them, and run on while their issuers go on:
// each belongs to a batch (../iobatch.ts), credited when whoever looks at
// the completion queue next finds it ended, all under the hypervisor's
// lock; no interrupt is used. A controller that completes nothing for
// COMMAND_TIMEOUT_MS while commands are in flight is taken for dead.
// Admin commands run alone, waited for.
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
import { IoBatch } from "../iobatch";
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
import { completionStatus, MAX_QUEUE_ENTRIES, NOTHING_YET, QueuePair, STRAY_COMPLETION, TIMED_OUT } from "./queue";

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
// I/O commands in flight at most, each with a PRP list page: a batch of
// 32 requests of a VM's queue (devices/virtio/block.ts) goes at once.
const IO_DEPTH: i32 = 32;

export class NvmeController extends HostController {
  identity: ControllerIdentity | null = null;
  // The most bytes one read or write moves: MDTS, and what one PRP list holds.
  maxTransfer: u64 = MAX_PRP_BYTES;
  readonly buffer: usize = allocPages(<i32>(BUFFER_BYTES / MEMORY_PAGE));
  readonly bufferPhys: u64 = physOf(this.buffer);
  readonly command: Command = new Command(); // admin commands, one at a time
  // The I/O commands: the first `flying` are in flight.
  private slots: StaticArray<IoSlot> = newSlots();
  private flying: i32 = 0;
  // At most IO_DEPTH, and fewer than the queue's entries (queue.ts).
  private depth: i32 = 1;
  private single: Segments = new Segments(1);
  private admin: QueuePair | null = null;
  private io: QueuePair | null = null;
  private commandTimeout: u64 = 0;
  // The TSC of the last completion, or of the first start after none was in flight.
  private progressAt: u64 = 0;

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
    this.depth = min(IO_DEPTH, <i32>entries - 1);
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

  // Whether another I/O command may start before those in flight finish.
  get hasRoom(): bool {
    return this.flying < this.depth;
  }

  // The next I/O command, for its builder (command.ts) before startIo().
  get next(): Command {
    return this.slots[this.flying].command;
  }

  // Points the next I/O command at as much of `data`, from its position
  // on, as one command can name: at most `most` bytes and maxTransfer, in
  // whole `unit`s. How many bytes (prp.ts).
  describe(data: Segments, most: u64, unit: u64): u64 {
    return this.slots[this.flying].pointer.describe(data, min(most, this.maxTransfer), unit);
  }

  // Submits the next I/O command, with the data describe() named if
  // `withData`, for request `tag` (below 64) of `batch`, and lets it run;
  // false if the controller has failed.
  startIo(withData: bool, batch: IoBatch, tag: i32): bool {
    if (this.failure !== null) return false; // said why once already
    const slot = this.slots[this.flying];
    if (withData) slot.pointer.apply(slot.command);
    slot.batch = batch;
    slot.tag = tag;
    slot.id = this.io!.submit(slot.command);
    if (this.flying++ == 0) this.progressAt = rdtsc();
    batch.started();
    return true;
  }

  // Credits every I/O command the controller has completed to its batch;
  // with `wait`, waits for one first if none has. A failed command is
  // logged; a controller that completes nothing for COMMAND_TIMEOUT_MS, or
  // completes a command it was not given, is failed, and everything in
  // flight with it.
  reapIo(wait: bool): void {
    while (this.flying > 0) {
      const completion = this.io!.poll();
      if (completion == NOTHING_YET) {
        if (rdtsc() - this.progressAt > this.commandTimeout) return this.failIo(TIMED_OUT);
        if (!wait) return;
        pause();
        continue;
      }
      const k = this.slotOf(<u16>completion);
      if (k < 0) return this.failIo(STRAY_COMPLETION);
      const status = completionStatus(completion), slot = this.slots[k];
      if (status != 0) log.warn(this.name + ": " + describeIo(slot.command) + " failed: " + describeStatus(status));
      slot.batch!.ended(slot.tag, status == 0);
      slot.batch = null;
      // The finished slot goes behind the ones still in flight.
      this.slots[k] = this.slots[--this.flying];
      this.slots[this.flying] = slot;
      this.progressAt = rdtsc();
      wait = false; // one has ended: the rest only if they have too
    }
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
    if (length > 0) {
      const pointer = this.slots[0].pointer;
      pointer.describe(this.single.only(this.bufferPhys, length), length, 1);
      pointer.apply(c);
    }
    const status = this.admin!.execute(c, this.commandTimeout);
    if (status == 0) return true;
    return this.fail(what + ": " + (status > 0 ? describeStatus(status) : this.describeFailure(status)));
  }

  // Fails the controller for `why` (TIMED_OUT, STRAY_COMPLETION), and
  // with it every command in flight.
  private failIo(why: i32): void {
    this.fail(describeIo(this.slots[0].command) + ": " + this.describeFailure(why));
    for (let k = 0; k < this.flying; k++) {
      this.slots[k].batch!.ended(this.slots[k].tag, false);
      this.slots[k].batch = null;
    }
    this.flying = 0;
  }

  // The slot of the command in flight with identifier `id`, or -1.
  private slotOf(id: u16): i32 {
    for (let k = 0; k < this.flying; k++) {
      if (this.slots[k].id == id) return k;
    }
    return -1;
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

// An I/O command and the PRP list page its data may need (prp.ts).
class IoSlot {
  readonly command: Command = new Command();
  readonly pointer: DataPointer;
  id: u16 = 0;
  // The batch and request it is part of (BlockDevice.begin()), while in flight.
  batch: IoBatch | null = null;
  tag: i32 = 0;

  constructor() {
    const list = allocPage();
    this.pointer = new DataPointer(list, physOf(list));
  }
}

function newSlots(): StaticArray<IoSlot> {
  const slots = new StaticArray<IoSlot>(IO_DEPTH);
  for (let k = 0; k < IO_DEPTH; k++) slots[k] = new IoSlot();
  return slots;
}
