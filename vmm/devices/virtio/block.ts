// virtio-blk (virtio 1.2, 5.2): a disk with a request queue for each of
// the VM's vCPUs (F_MQ, up to MAX_QUEUES), served from its backing
// (storage/backing.ts) when the driver notifies: the reads and writes of
// one kick go to the disk together, as one batch (blockbatch.ts), and the
// guest runs on while the disk works. The platform's clock looks at the
// disk on the device's behalf (its `resume`, when lookschedule.ts says),
// and once the disk has ended a batch its requests come back on their
// queue together, with one interrupt; a queue notified while its batch is
// at the disk is served then. Each queue has a batch of its own, so the
// queues of a VM's CPUs are at the disk side by side. A disk that ends a
// batch at once (a RAM disk) gives it back within the kick's exit. Linux
// gives each CPU a queue of its own (blk-mq), so CPUs submit without
// sharing one.
//
// The VM's I/O caps (storage/budget.ts) and its share of a host disk
// other VMs use too (storage/diskarbiter.ts) are applied here, a request
// at a time (storage/vmdisk.ts): a request they hold back holds every
// queue behind it, since the arbiter counts one request in hand per VM. A
// request is one descriptor chain: a 16-byte header the device reads
// (type, reserved, sector), the data (read by the device for a write, written
// for a read), and a status byte the device writes last (5.2.6). Anything
// past the disk's end fails with an I/O error and touches nothing; a chain
// too short to hold a header and a status byte is a driver that broke the
// rules, and the device then needs a reset (2.1.2).

import { rdtsc } from "../../../kernel/arch/shim";
import { tscPerMillisecond } from "../../../kernel/time/tsc";
import { DiskBacking, SECTOR_SIZE } from "../../storage/backing";
import { Segments } from "../../storage/segments";
import { IoBatch } from "../../storage/iobatch";
import { VmDisk } from "../../storage/vmdisk";
import { readLittleEndian, writeLittleEndian } from "../../storage/littleendian";
import { Deferred, NOT_DUE } from "../timers/deferred";
import { BlockBatch, PENDING } from "./blockbatch";
import { Chain, Virtqueue } from "./virtqueue";
import { VirtioDevice } from "./device";

const BLOCK_ID: u16 = 2;
// Room for a 1 MiB request of 4 KiB pages as one chain (SEG_MAX): Linux
// splits a request at seg_max, and each part is a kick and an interrupt.
const QUEUE_SIZE: u16 = 512;
// The most request queues a disk has, whatever the VM's vCPUs.
export const MAX_QUEUES: u32 = 8;

// Feature bits (5.2.3).
const F_SEG_MAX: u64 = 1 << 2;
const F_RO: u64 = 1 << 5;
const F_BLK_SIZE: u64 = 1 << 6;
const F_FLUSH: u64 = 1 << 9;
const F_MQ: u64 = 1 << 12;
const F_DISCARD: u64 = 1 << 13;
const F_WRITE_ZEROES: u64 = 1 << 14;

// Request types and status values (5.2.6).
const T_IN: u32 = 0, T_OUT: u32 = 1, T_FLUSH: u32 = 4, T_GET_ID: u32 = 8, T_DISCARD: u32 = 11, T_WRITE_ZEROES: u32 = 13;
const S_OK: u8 = 0, S_IOERR: u8 = 1, S_UNSUPP: u8 = 2;
const HEADER_SIZE: u64 = 16;
const ID_BYTES: i32 = 20;
// A discard or write-zeroes segment: sector (8), number of sectors (4), flags (4).
const SEGMENT_SIZE: u64 = 16;
// Its one flag, which only a write-zeroes may carry (5.2.6.2).
const SEGMENT_UNMAP: u64 = 1;

// Limits the device states in its configuration (5.2.4).
const SEG_MAX: u32 = <u32>QUEUE_SIZE - 2; // all but the header and the status
const MAX_DISCARD_SECTORS: u32 = 0x40_0000; // 2 GiB at a time
const MAX_DISCARD_SEGMENTS: u32 = 16;
// Configuration field offsets (5.2.4).
const CAPACITY: u32 = 0, SEG_MAX_AT: u32 = 12, BLK_SIZE_AT: u32 = 20, NUM_QUEUES: u32 = 34;
const MAX_DISCARD_SECTORS_AT: u32 = 36, MAX_DISCARD_SEG_AT: u32 = 40, DISCARD_ALIGNMENT_AT: u32 = 44;
const MAX_WRITE_ZEROES_SECTORS_AT: u32 = 48, MAX_WRITE_ZEROES_SEG_AT: u32 = 52;
const CONFIG_SIZE: u32 = 60;

export class VirtioBlock extends VirtioDevice {
  // The request queues, those the driver may use (1 without F_MQ), and
  // the request in hand, of whichever queue is served.
  private queues: Array<Virtqueue | null> = [];
  private usable: u32 = 0;
  private chain: Chain = new Chain(<i32>QUEUE_SIZE);
  // The queue whose chain in hand the budget or the share held back (-1:
  // none), and the queues notified meanwhile, which wait behind it.
  private heldQueue: i32 = -1;
  private waiting: u32 = 0;
  // Its turn comes at the platform clock's call (devices/timers/deferred.ts),
  // or when the host disk's arbiter calls.
  readonly resume!: Deferred;
  private bytes: Uint8Array = new Uint8Array(<i32>SEGMENT_SIZE);
  // The data buffers of the request in hand, in host memory.
  private data: Segments = new Segments(<i32>QUEUE_SIZE);
  // Each queue's requests taken and not yet given back; the queues whose
  // batch is at the disk while the guest runs on (bit i for queue i);
  // whether notified() is at work (and was called again from within:
  // `woken`).
  private batches: BlockBatch[] = [];
  private atDisk: u32 = 0;
  private serving: bool = false;
  private woken: bool = false;
  private config: Uint8Array = new Uint8Array(<i32>CONFIG_SIZE);
  // The serial number, NUL-padded to 20 bytes or cut there (5.2.6.1).
  private id: Uint8Array = new Uint8Array(ID_BYTES);

  // `vmDisk`: the backing, with the VM's caps on its operations and bytes
  // per second and its share of the host disk; a queue for each of `vcpus`.
  constructor(private vmDisk: VmDisk, vcpus: u32) {
    const count = max<u32>(1, min(vcpus, MAX_QUEUES));
    super(BLOCK_ID, "blk", count, QUEUE_SIZE);
    const commands: IoBatch[] = [];
    for (let i: u32 = 0; i < count; i++) {
      this.queues.push(null);
      this.batches.push(new BlockBatch());
      commands.push(this.batches[i].commands);
    }
    const disk = vmDisk.backing, c = this.config;
    writeLittleEndian(c, CAPACITY, 8, disk.sectors);
    writeLittleEndian(c, SEG_MAX_AT, 4, SEG_MAX);
    writeLittleEndian(c, BLK_SIZE_AT, 4, SECTOR_SIZE);
    writeLittleEndian(c, NUM_QUEUES, 2, count);
    writeLittleEndian(c, MAX_DISCARD_SECTORS_AT, 4, MAX_DISCARD_SECTORS);
    writeLittleEndian(c, MAX_DISCARD_SEG_AT, 4, MAX_DISCARD_SEGMENTS);
    writeLittleEndian(c, DISCARD_ALIGNMENT_AT, 4, 1);
    writeLittleEndian(c, MAX_WRITE_ZEROES_SECTORS_AT, 4, MAX_DISCARD_SECTORS);
    writeLittleEndian(c, MAX_WRITE_ZEROES_SEG_AT, 4, MAX_DISCARD_SEGMENTS);
    const serial = Uint8Array.wrap(String.UTF8.encode(disk.serial));
    this.id.set(serial.subarray(0, min(serial.length, ID_BYTES)));
    this.resume = new BlockResume(this);
    vmDisk.attach(this.resume, commands, rdtsc(), tscPerMillisecond());
  }

  private get disk(): DiskBacking {
    return this.vmDisk.backing;
  }

  get features(): u64 {
    const writes = this.disk.readOnly ? F_RO : F_DISCARD | F_WRITE_ZEROES;
    return F_SEG_MAX | F_BLK_SIZE | F_FLUSH | writes | (this.queueCount > 1 ? F_MQ : 0);
  }
  get configSize(): u32 {
    return CONFIG_SIZE;
  }
  readConfig(offset: u32, size: u8): u32 {
    let v: u32 = 0;
    for (let i: u32 = 0; i < <u32>size && offset + i < CONFIG_SIZE; i++) v |= <u32>this.config[offset + i] << (i * 8);
    return v;
  }

  start(features: u64, queues: Virtqueue[]): void {
    this.usable = (features & F_MQ) != 0 ? this.queueCount : 1;
    for (let i: u32 = 0; i < this.usable; i++) this.queues[i] = queues[i];
    this.waiting = (<u32>1 << this.usable) - 1;
    this.notified(0);
  }

  // The requests taken are dropped, after the disk has ended those at it:
  // the guest's buffers are the disk's no longer once the driver has reset
  // the device (2.1.1).
  reset(): void {
    for (let i = 0; i < this.queues.length; i++) this.queues[i] = null;
    this.usable = 0;
    if (this.heldQueue >= 0 || this.atDisk != 0) this.vmDisk.release(rdtsc(), tscPerMillisecond());
    for (let i = 0; i < this.batches.length; i++) {
      this.batches[i].clear();
      this.batches[i].looks.dropped();
    }
    this.atDisk = 0;
    this.heldQueue = -1;
    this.waiting = 0;
  }

  // Serves queue `index`, unless a request of another queue is held back
  // (then it waits behind that one) or its batch is at the disk (then it
  // waits for that to come back). Then every queue that waited and may go
  // is served in turn.
  notified(index: u32): void {
    if (index >= this.usable) return;
    this.waiting |= 1 << index;
    // The arbiter may wake the request held back while a batch ends
    // (finishBatch()): the loop in serve() takes it then.
    if (this.serving) {
      this.woken = true;
      return;
    }
    let next = this.heldQueue >= 0 ? this.heldQueue : <i32>index;
    while (next >= 0 && (this.waiting & ~this.atDisk & (1 << next)) != 0) {
      this.waiting &= ~(1 << next);
      this.serve(<u32>next);
      const ready = this.waiting & ~this.atDisk;
      next = this.heldQueue >= 0 || ready == 0 ? -1 : ctz(ready);
    }
  }

  // Serves every request waiting in queue `index`, then asks for the next
  // kick (2.7.10). The reads and writes among them go to the disk
  // together, up to a batch's worth (blockbatch.ts); a batch the disk has
  // not ended at once stays there while the guest runs on, and the queue
  // waits for it to come back (pollDisk()). A request the budget or the
  // share held back stays in hand (`heldQueue`) until its time comes
  // (resume, run by the platform's clock or by the host disk's arbiter);
  // the queue waits behind it, and its notifications stay off meanwhile.
  private serve(index: u32): void {
    const q = this.queues[index];
    if (q === null || q.error !== null) return;
    this.serving = true;
    const batch = this.batches[index];
    let held = this.heldQueue == <i32>index, again = false;
    q.suppressNotifications();
    do {
      this.woken = false;
      while (!batch.full && (held || q.pop(this.chain))) {
        const bytes = this.chain.readableBytes + this.chain.writableBytes;
        held = !this.vmDisk.admit(bytes, rdtsc(), tscPerMillisecond());
        this.heldQueue = held ? <i32>index : -1;
        if (held) break;
        if (!this.take(q, index)) {
          this.finishBatch(q, index);
          this.vmDisk.finished(rdtsc(), tscPerMillisecond());
          this.serving = false;
          this.waiting = 0; // the device needs a reset: no queue is served
          return;
        }
      }
      const full = batch.full;
      if (!this.settle(q, index)) {
        if (q.error === null) this.waiting |= 1 << index; // served again once the batch is back
        return this.served(q);
      }
      again = held ? this.woken : full || q.armNotification();
    } while (again);
    if (held) this.resume.movedEarlier();
    this.served(q);
  }

  // serve()'s end: a queue that broke the rules needs the device reset.
  private served(q: Virtqueue): void {
    this.serving = false;
    if (q.error !== null) this.signals!.needsReset("requestq: " + q.error!);
  }

  // Whether queue `index`'s batch is given back: it has no reads or
  // writes at the disk, or the disk has ended them. Otherwise the batch
  // stays at the disk, and the clock looks at it soon.
  private settle(q: Virtqueue, index: u32): bool {
    const batch = this.batches[index];
    if (!batch.commands.done) this.disk.poll();
    if (batch.commands.done) {
      this.finishBatch(q, index);
      return true;
    }
    this.atDisk |= 1 << index;
    batch.looks.started(rdtsc(), tscPerMillisecond());
    this.resume.movedEarlier();
    return false;
  }

  // When the clock should run resume: the next look at a batch at the
  // disk, or when the request held back may go (once its queue's batch is
  // back); NOT_DUE for neither.
  get resumeAt(): u64 {
    const held = this.heldQueue;
    let at = held >= 0 && (this.atDisk & (1 << held)) == 0 ? this.vmDisk.resumeAt(tscPerMillisecond()) : NOT_DUE;
    for (let left = this.atDisk; left != 0; left &= left - 1) at = min(at, this.batches[ctz(left)].looks.next);
    return at;
  }

  // The clock's or the arbiter's call: a look at the batches at the disk
  // whose time has come, then the queues that may go, the held request's
  // first. A call from within serve() (the arbiter's, as a batch ends)
  // only tells it to try the held request again.
  resumeNow(): void {
    if (this.atDisk != 0 && !this.serving) this.pollDisk();
    const ready = this.waiting & ~this.atDisk;
    if (this.heldQueue >= 0) this.notified(<u32>this.heldQueue);
    else if (ready != 0) this.notified(ctz(ready));
  }

  // Gives back the batches the disk has ended, and sets the next look at
  // those still there whose look this was.
  private pollDisk(): void {
    this.disk.poll();
    const now = rdtsc(), tscPerMs = tscPerMillisecond();
    this.serving = true;
    for (let left = this.atDisk; left != 0; left &= left - 1) {
      const index = ctz(left), batch = this.batches[index];
      if (!batch.commands.done) {
        if (now >= batch.looks.next) batch.looks.stillThere(now, tscPerMs);
        continue;
      }
      this.atDisk &= ~(1 << index);
      batch.looks.ended(now);
      this.finishBatch(this.queues[index]!, index);
    }
    this.serving = false;
  }

  // The chain in hand as a request of the batch: a read or write begun on
  // the disk, anything else served at once, after the batch so far. False
  // if the chain cannot even hold its header and status (the device then
  // needs a reset).
  private take(q: Virtqueue, index: u32): bool {
    const chain = this.chain;
    if (chain.readableBytes < HEADER_SIZE || chain.writableBytes < 1) {
      this.signals!.needsReset("requestq: a request without its header or status byte");
      return false;
    }
    const h = this.bytes;
    chain.readBytes(0, h, 0, <i32>HEADER_SIZE);
    const type = <u32>readLittleEndian(h, 0, 4), sector = readLittleEndian(h, 8, 8);
    const moves = type == T_IN || type == T_OUT;
    // A flush covers the writes completed before it (5.2.6.2): the batch's first.
    if (!moves) this.finishBatch(q, index);
    const batch = this.batches[index], r = batch.take(), tag = batch.count - 1;
    r.head = chain.head;
    r.statusAt = statusByte(chain);
    r.type = type;
    // Data is what lies between the header and the status byte.
    r.data = type == T_IN || type == T_GET_ID ? chain.writableBytes - 1 : chain.readableBytes - HEADER_SIZE;
    r.written = 0;
    if (moves) {
      r.status = type == T_OUT && this.disk.readOnly ? S_IOERR : this.begin(sector, r.data, type == T_IN, batch, tag);
    } else if (type == T_FLUSH) r.status = this.disk.flush() ? S_OK : S_IOERR;
    else if (type == T_GET_ID) {
      r.status = S_OK;
      r.written = this.writeId(r.data);
    } else if (type == T_DISCARD || type == T_WRITE_ZEROES) r.status = this.discard(r.data, type == T_WRITE_ZEROES);
    else r.status = S_UNSUPP;
    return true;
  }

  // Waits for the disk to end the batch's reads and writes, if it has
  // not, then gives every request of the batch back on queue `index` with
  // its status, and interrupts if the driver wants to hear (2.7.7).
  private finishBatch(q: Virtqueue, index: u32): void {
    const batch = this.batches[index], taken = batch.count;
    if (taken == 0) return;
    const failed = this.disk.finish(batch.commands);
    for (let tag = 0; tag < taken; tag++) {
      const r = batch.at(tag);
      if (r.status == PENDING) {
        r.status = ((failed >> <u64>tag) & 1) != 0 ? S_IOERR : S_OK;
        if (r.status == S_OK && r.type == T_IN) r.written = r.data;
      }
      this.count(r.type, r.data, r.status);
      q.memory.store(r.statusAt, 1, r.status);
      q.push(r.head, <u32>(r.written + 1));
    }
    batch.clear();
    if (q.needsInterrupt()) this.signals!.usedBuffers(index);
    // Only now may the arbiter let other VMs' requests go (diskarbiter.ts):
    // this disk's controller is done with everything of this batch.
    const now = rdtsc(), tscPerMs = tscPerMillisecond();
    for (let tag = 0; tag < taken; tag++) this.vmDisk.finished(now, tscPerMs);
  }

  // A request of `type` moving `bytes` ended with `status`, for the disk's counters.
  private count(type: u64, bytes: u64, status: u8): void {
    const d = this.vmDisk;
    if (status != S_OK) d.failures++;
    else if (type == T_IN) {
      d.reads++;
      d.readBytes += bytes;
    } else if (type == T_OUT) {
      d.writes++;
      d.writtenBytes += bytes;
    } else if (type == T_FLUSH) d.flushes++;
    else if (type == T_DISCARD || type == T_WRITE_ZEROES) d.trims++;
  }

  // Begins moving `length` bytes between the disk at `sector` and the
  // chain's data buffers, as request `tag`: all of them at once, as host
  // memory the backing's controller reaches (storage/segments.ts), so that
  // it can name several in one command (pop() found where each buffer
  // lies). PENDING, or an I/O error found at once.
  private begin(sector: u64, length: u64, toGuest: bool, batch: BlockBatch, tag: i32): u8 {
    if (!this.within(sector, length) || length % SECTOR_SIZE != 0) return S_IOERR;
    const chain = this.chain, data = this.data;
    let skip = toGuest ? 0 : HEADER_SIZE, left = length;
    const first = toGuest ? chain.readableCount : 0, end = toGuest ? chain.count : chain.readableCount;
    data.clear();
    // Within the chain's buffers: 0 <= first and end <= chain.count.
    for (let i = first; i < end && left > 0; i++) {
      const len = <u64>chain.lenOf(i);
      if (skip >= len) {
        skip -= len;
        continue;
      }
      const n = min(len - skip, left);
      data.add(chain.hostOf(i) + skip, n);
      left -= n;
      skip = 0;
    }
    return this.disk.begin(sector * SECTOR_SIZE, data, !toGuest, batch.commands, tag) ? PENDING : S_IOERR;
  }

  // Each 16-byte segment is checked before any is applied. A flag the
  // command does not know makes it unsupported (5.2.6.2).
  private discard(length: u64, writeZeroes: bool): u8 {
    const segments = length / SEGMENT_SIZE;
    if (this.disk.readOnly || length % SEGMENT_SIZE != 0 || segments == 0 || segments > MAX_DISCARD_SEGMENTS) {
      return S_IOERR;
    }
    const b = this.bytes;
    for (let pass = 0; pass < 2; pass++) {
      for (let s: u64 = 0; s < segments; s++) {
        this.chain.readBytes(HEADER_SIZE + s * SEGMENT_SIZE, b, 0, <i32>SEGMENT_SIZE);
        const sector = readLittleEndian(b, 0, 8), count = readLittleEndian(b, 8, 4), flags = readLittleEndian(b, 12, 4);
        if (pass == 0 && (flags & ~(writeZeroes ? SEGMENT_UNMAP : 0)) != 0) return S_UNSUPP;
        if (pass == 0 && (count > MAX_DISCARD_SECTORS || !this.within(sector, count * SECTOR_SIZE))) return S_IOERR;
        if (pass == 1 && !this.disk.discard(sector * SECTOR_SIZE, count * SECTOR_SIZE)) return S_IOERR;
      }
    }
    return S_OK;
  }

  private writeId(room: u64): u64 {
    return <u64>this.chain.writeBytes(0, this.id, 0, <i32>min(<u64>ID_BYTES, room));
  }

  private within(sector: u64, length: u64): bool {
    const sectors = this.disk.sectors, count = (length + SECTOR_SIZE - 1) / SECTOR_SIZE;
    return sector <= sectors && count <= sectors - sector;
  }
}

class BlockResume extends Deferred {
  constructor(private block: VirtioBlock) {
    super();
  }
  get dueAt(): u64 {
    return this.block.resumeAt;
  }
  run(): void {
    this.block.resumeNow();
  }
  // Early is harmless: a batch still at the disk keeps its next look
  // (pollDisk() moves only one whose time has come), and a request held
  // back stays held until its budget or share lets it go.
  lookOnHalt(): void {
    this.block.resumeNow();
  }
}

// Where a request's status byte lies: its chain's last device-writable
// byte (5.2.6). The chain has one: its writable part is at least a byte.
function statusByte(chain: Chain): u64 {
  for (let i = chain.count - 1; i >= 0; i--) {
    if (chain.len(i) > 0) return chain.addr(i) + <u64>chain.len(i) - 1;
  }
  return 0;
}
