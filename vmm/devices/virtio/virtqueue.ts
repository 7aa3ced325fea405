// The split virtqueue of virtio 1.2 (section 2.7), as the device sees it.
//
// A virtio device and its driver talk through queues in guest RAM. The driver
// writes three areas: a descriptor table of buffers (2.7.5), an available
// ring of the chains it offers (2.7.6), and it reads a used ring the device
// writes back (2.7.8). Every virtio device model (console, block, rng, net)
// uses this one class: pop() takes the next offered chain into a Chain,
// push() returns it with the number of bytes written, needsInterrupt() says
// whether the driver wants to hear about it, and suppressNotifications() /
// armNotification() tell the driver when to kick the device.
//
// Everything in those areas is written by the guest, so every value read is
// checked before use. A chain that breaks the spec's rules makes pop() fail
// with `error` naming the problem; the queue then takes no more work until it
// is reset, and the device sets DEVICE_NEEDS_RESET (2.1.2).
//
// How a device drains a queue without losing a kick (2.7.10, 2.7.14):
//
//   q.suppressNotifications();            // busy: no kicks needed meanwhile
//   do {
//     while (q.pop(chain)) { ...serve chain...; q.push(chain.head, written); }
//   } while (q.armNotification());        // chains came in meanwhile: again
//   if (q.needsInterrupt()) raise the queue's interrupt;
//   if (q.error !== null) set DEVICE_NEEDS_RESET;
//
// armNotification() asks for the next kick and then looks again, so a chain
// offered just before the request took effect is not left waiting for a kick
// the driver will never send. Every drain must end with it: with EVENT_IDX,
// a driver whose idx has passed avail_event kicks no more. The driver, on
// another vCPU, stores its idx and then loads the device's request, while
// the device stores its request and then loads idx: x86 may let each load
// pass the store before it, so both sides fence between the two (virtio
// 1.2, 2.7.10 and 2.7.13.3.1), here in armNotification() and in
// needsInterrupt() after push()'s stores.
//
// State is plain fields besides the GuestMemory, so a queue can be saved.
// The three areas' host addresses are found once, when the queue is
// enabled (the driver may not move them until a reset, 4.1.4.3.2): each
// area lies in one RAM region, so it is host-contiguous, and made ready
// then, so every later access is a plain load or store, not a look-up.

import { memoryFence, physRead16, physRead64, physWrite16, physWrite64 } from "../../../kernel/arch/shim";
import { GuestMemory } from "../../core/guestmemory";
import { Chain, Runs } from "./chain";
import { AVAIL_F_NO_INTERRUPT, DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_WRITE, USED_F_NO_NOTIFY } from "../virtiospec";
export { Chain } from "./chain";

export const QUEUE_SIZE_LIMIT: u32 = 32768; // 2.7: the largest Queue Size
const CHAIN_BYTES_LIMIT: u64 = 1 << 32; // 2.7.5.2

export class Virtqueue {
  // The driver's configuration (virtio-pci's queue_size, queue_desc,
  // queue_driver and queue_device), checked by enable().
  size: u16;
  descAddr: u64 = 0; // descriptor table: size entries of 16 bytes
  driverAddr: u64 = 0; // available ring: flags, idx, ring[size], used_event
  deviceAddr: u64 = 0; // used ring: flags, idx, ring[size] of 8 bytes, avail_event
  // Negotiated features, set by the transport before enable().
  eventIdx: bool = false; // VIRTIO_F_EVENT_IDX
  indirectDesc: bool = false; // VIRTIO_F_INDIRECT_DESC
  ready: bool = false;
  error: string | null = null;
  // The device's side of the rings: the next available entry it will take,
  // the used idx it has published, and that idx when last asked to interrupt.
  lastAvail: u16 = 0;
  // How many chains past lastAvail the driver had offered when its idx was
  // last read: those are taken without reading it again (nextHead()). 0,
  // as after a reset, only means that idx is read at the next take; more
  // only while the queue runs (ready, no error), which needs no check then.
  private knownAvail: u16 = 0;
  usedIdx: u16 = 0;
  signalledUsed: u16 = 0;
  // The chain takeBuffer() took last: its head and its buffer's length.
  takenHead: u16 = 0;
  takenLen: u32 = 0;
  // The chains fillBuffers() filled last.
  filledCount: u32 = 0;
  // The areas' host-physical addresses, once enabled.
  private descHost: u64 = 0;
  private driverHost: u64 = 0;
  private deviceHost: u64 = 0;

  // `maxSize`: the largest queue the device offers, a power of two.
  constructor(public memory: GuestMemory, public maxSize: u16) {
    if (maxSize == 0 || <u32>maxSize > QUEUE_SIZE_LIMIT || (maxSize & (maxSize - 1)) != 0) {
      throw new Error("virtqueue: bad maximum size " + maxSize.toString());
    }
    this.size = maxSize;
  }

  // Back to the state after a device reset: the size reads as the maximum
  // again (virtio-pci, 4.1.4.3), and no features are negotiated.
  reset(): void {
    this.size = this.maxSize;
    this.descAddr = this.driverAddr = this.deviceAddr = 0;
    this.eventIdx = this.indirectDesc = this.ready = false;
    this.error = null;
    this.lastAvail = this.knownAvail = 0;
    this.usedIdx = this.signalledUsed = 0;
  }

  // The driver enables the queue: null, or why its configuration is unusable.
  enable(): string | null {
    const n = <u64>this.size;
    if (n == 0 || n > <u64>this.maxSize || (n & (n - 1)) != 0) {
      return "queue size " + n.toString() + " is not a power of two up to " + this.maxSize.toString();
    }
    // 2.7 (and its driver requirements 2.7.1): alignment and size of each area.
    let why = area(this.memory, "descriptor table", this.descAddr, 16, 16 * n);
    if (why === null) why = area(this.memory, "available ring", this.driverAddr, 2, 6 + 2 * n);
    if (why === null) why = area(this.memory, "used ring", this.deviceAddr, 4, 6 + 8 * n);
    if (why !== null) return why;
    const memory = this.memory;
    this.descHost = <u64>memory.translate(this.descAddr, 16 * n);
    this.driverHost = <u64>memory.translate(this.driverAddr, 6 + 2 * n);
    this.deviceHost = <u64>memory.translate(this.deviceAddr, 6 + 8 * n);
    // 2.7.6, 2.7.8: both idx start at 0
    this.lastAvail = this.knownAvail = 0;
    this.usedIdx = this.signalledUsed = 0;
    this.error = null;
    this.ready = true;
    return null;
  }

  // Takes the next available chain into `chain`: true if there was one.
  // False with `error` null means the ring is empty; false with `error` set
  // means the driver broke the rules, and the queue is stopped.
  pop(chain: Chain): bool {
    chain.clear();
    if (this.take(chain)) return true;
    chain.clear(); // none of a broken chain is to be used
    return false;
  }

  private take(chain: Chain): bool {
    const n = <u32>this.size, found = this.nextHead();
    if (found < 0) return false;
    const head = <u32>found;
    chain.head = <u16>head;
    // The usual chain (a receive buffer, a console's write) is one buffer
    // in the queue's own table: then the one rule it could break is to lie
    // outside RAM, and the walk below says how if it does.
    const first = this.descHost + 16 * <u64>head, firstWord = physRead64(first + 8);
    if ((<u32>(firstWord >> 32) & (DESC_F_NEXT | DESC_F_INDIRECT)) == 0) {
      const addr = physRead64(first), len = <u32>firstWord, host = this.memory.translate(addr, len);
      if (host >= 0 && chain.add(addr, <u64>host, len, (<u32>(firstWord >> 32) & DESC_F_WRITE) != 0)) {
        this.taken();
        return true;
      }
    }
    // The walk: the queue's table, then at most one indirect table, by
    // their host addresses.
    let table = this.descHost, entries = n, index = head, steps: u32 = 0, indirect = false;
    // The most buffers the chain may have: the queue size (2.7.5.3.1) and
    // the device's Chain; and its bytes so far.
    const most = min(n, <u32>chain.capacity);
    let bytes: u64 = 0;
    while (true) {
      // 2.7.5.2: no loops. A chain visiting more descriptors than its table
      // holds has visited one twice.
      if (++steps > entries) return this.bad(head, indirect, index, "closes a loop");
      const d = table + 16 * <u64>index;
      const addr = physRead64(d);
      const word = physRead64(d + 8); // len, flags, next
      const len = <u32>word, flags = (word >> 32) & 0xffff, next = <u32>(word >> 48);
      if (flags & DESC_F_INDIRECT) {
        // 2.7.5.3.1: the driver sets INDIRECT only if negotiated, never with
        // NEXT, never inside an indirect table; the table holds whole
        // descriptors (2.7.5.3), len / 16 of them.
        let why: string | null = null, host: i64 = -1;
        if (!this.indirectDesc) why = "is INDIRECT, which was not negotiated";
        else if (indirect) why = "is INDIRECT inside an indirect table";
        else if (flags & DESC_F_NEXT) why = "has both INDIRECT and NEXT";
        else if (len == 0 || len % 16 != 0) {
          why = "has an indirect table of " + len.toString() + " bytes, not 16 per entry";
        } else if ((host = this.memory.translate(addr, len)) < 0) {
          why = "has an indirect table at 0x" + addr.toString(16) + " outside RAM";
        }
        if (why !== null) return this.bad(head, indirect, index, why);
        // WRITE on this descriptor is ignored (2.7.5.3.2).
        table = <u64>host;
        entries = len / 16;
        index = steps = 0;
        indirect = true;
        continue;
      }
      const writable = (flags & DESC_F_WRITE) != 0, host = this.memory.translate(addr, len);
      let why: string | null = null;
      if (host < 0) {
        why = "has a buffer of " + len.toString() + " bytes at 0x" + addr.toString(16) + ", outside RAM";
      } else if (!writable && chain.count > chain.readableCount) {
        why = "is device-readable after a device-writable one"; // 2.7.4.2
      } else if (<u32>chain.count >= most) {
        why = <u32>chain.count >= n
          ? "makes the chain longer than the queue size " + n.toString() // 2.7.5.3.1
          : "makes the chain longer than the device takes, " + chain.capacity.toString() + " buffers"; // 2.7.4.1
      } else if ((bytes += <u64>len) > CHAIN_BYTES_LIMIT) {
        why = "makes the chain longer than 2^32 bytes"; // 2.7.5.2
      } else if ((flags & DESC_F_NEXT) != 0 && next >= entries) {
        why = "has next " + next.toString() + ", past the table's " + entries.toString() + " entries";
      }
      if (why !== null) return this.bad(head, indirect, index, why);
      chain.add(addr, <u64>host, len, writable);
      if ((flags & DESC_F_NEXT) == 0) break;
      index = next;
    }
    this.taken();
    return true;
  }

  // The head of the next available chain, checked, not taken; -1 if the
  // ring is empty or the queue stopped, or if the driver broke a rule,
  // which sets `error` and stops it.
  // Inline: every chain taken starts here (pop(), takeBuffer()).
  @inline
  private nextHead(): i32 {
    const n = <u32>this.size, last = <u32>this.lastAvail;
    if (this.knownAvail == 0) {
      // All known chains taken: has the driver offered more?
      if (!this.ready || this.error !== null) return -1;
      const availIdx = <u32>physRead16(this.driverHost + 2);
      const pending = (availIdx - last) & 0xffff;
      if (pending == 0) return -1;
      // The ring holds at most `size` chains the device has not taken (2.7.13).
      if (pending > n) return this.idxJumped(availIdx);
      this.knownAvail = <u16>pending;
    }
    // x86 does not reorder loads, and the shim's are volatile: this entry is
    // read after idx, as the driver's barrier before idx expects (2.7.13.3).
    const slot = last & (n - 1);
    const head = <u32>physRead16(this.driverHost + 4 + 2 * <u64>slot);
    if (head >= n) return this.headPastSize(slot, head);
    return <i32>head;
  }

  // nextHead()'s two failures, apart: the strings stay out of its inline copies.
  private idxJumped(availIdx: u32): i32 {
    this.fail(
      "available idx jumped from " + this.lastAvail.toString() + " to " + availIdx.toString()
        + ", more than the queue size " + this.size.toString(),
    );
    return -1;
  }

  private headPastSize(slot: u32, head: u32): i32 {
    this.fail(
      "available ring entry " + slot.toString() + " holds head " + head.toString() + ", past the queue size "
        + this.size.toString(),
    );
    return -1;
  }

  // The next available chain if it is one device-writable buffer in the
  // queue's table, lying in RAM (what Linux offers a receive queue, for
  // one): taken, its host address returned, its head and length in
  // `takenHead` and `takenLen`. -1, nothing taken, for any other chain
  // (pop() takes it, and says what is wrong with it if anything is), an
  // empty ring or a stopped queue (`error` says why, if the ring broke a
  // rule: nextHead()).
  // Inline: fillBuffers() takes one buffer after another.
  @inline
  takeBuffer(): i64 {
    const found = this.nextHead();
    if (found < 0) return -1;
    const head = <u32>found;
    const d = this.descHost + 16 * <u64>head, word = physRead64(d + 8), len = <u32>word;
    if ((<u32>(word >> 32) & (DESC_F_NEXT | DESC_F_INDIRECT | DESC_F_WRITE)) != DESC_F_WRITE || len == 0) return -1;
    const host = this.memory.translate(physRead64(d), len);
    if (host < 0) return -1;
    this.takenHead = <u16>head;
    this.takenLen = len;
    this.taken();
    return host;
  }

  // Takes lone buffers (takeBuffer()'s kind) while there are and fills them
  // from `source`, `want` bytes at most over at most `most` chains, each
  // placed in the used ring with the bytes it got. Buffers that follow each
  // other in host memory take one copy: Linux carves a receive queue's
  // buffers in order from one page. Returns the bytes; `filledCount` says
  // how many chains. It stops early before a chain of another kind, at an
  // empty ring or a stopped queue.
  fillBuffers(source: Runs, want: u64, most: u32): u64 {
    let bytes: u64 = 0, count: u32 = 0, runAt: u64 = 0, runBytes: u64 = 0;
    while (bytes < want && count < most) {
      const host = this.takeBuffer();
      if (host < 0) break;
      const n = min(<u64>this.takenLen, want - bytes);
      if (<u64>host != runAt + runBytes) {
        source.copyTo(runAt, runBytes);
        runAt = <u64>host;
        runBytes = 0;
      }
      runBytes += n;
      this.place(this.takenHead, <u32>n);
      bytes += n;
      count++;
    }
    source.copyTo(runAt, runBytes);
    this.filledCount = count;
    return bytes;
  }

  // Gives back the last `count` chains taken, none of them pushed, which the
  // device could not use after all (a received frame too big for them):
  // the next pop() takes them again, and checks them again.
  unpop(count: u16): void {
    this.lastAvail -= count;
    this.knownAvail += count;
  }

  // The chain nextHead() found is the device's now.
  @inline
  private taken(): void {
    this.lastAvail++;
    this.knownAvail--;
  }

  // Returns chain `head` to the driver with `written` bytes written into its
  // device-writable part (the device must have written at least that many).
  push(head: u16, written: u32): void {
    if (!this.ready) return;
    this.place(head, written);
    this.publish();
  }

  // push() for several chains: each placed in the used ring, then all
  // published by one store of the used idx; those placed since the last
  // publish() may be taken back (unplace()), as the driver has not seen them.
  place(head: u16, written: u32): void {
    const slot = <u64>(<u32>this.usedIdx & (<u32>this.size - 1));
    // One 8-byte store of id and len, before idx (publish()): x86 keeps
    // stores in order and the shim's are volatile, so the driver sees the
    // element before idx (2.7.8.2: len is set before idx is updated).
    physWrite64(this.deviceHost + 4 + 8 * slot, <u64>head | (<u64>written << 32));
    this.usedIdx++;
  }

  unplace(count: u16): void {
    this.usedIdx -= count;
  }

  publish(): void {
    if (this.ready) physWrite16(this.deviceHost + 2, this.usedIdx);
  }

  // Whether the driver asked to be interrupted for the chains pushed since
  // the last call (2.7.7): the available ring's NO_INTERRUPT flag, or with
  // VIRTIO_F_EVENT_IDX whether the used idx has just passed used_event.
  needsInterrupt(): bool {
    if (!this.ready) return false;
    const old = <u32>this.signalledUsed, now = <u32>this.usedIdx;
    this.signalledUsed = this.usedIdx;
    if (now == old) return false;
    memoryFence(); // the used idx out before used_event or the flags are read
    if (!this.eventIdx) return (physRead16(this.driverHost) & AVAIL_F_NO_INTERRUPT) == 0;
    const usedEvent = <u32>physRead16(this.driverHost + 4 + 2 * <u64>this.size);
    // Was entry used_event among those written since `old`? In 16-bit
    // arithmetic, as the indices wrap (Linux's vring_need_event()).
    return ((now - usedEvent - 1) & 0xffff) < ((now - old) & 0xffff);
  }

  // Tells the driver it need not kick while the device is busy (2.7.10).
  // With VIRTIO_F_EVENT_IDX there is nothing to write: avail_event is left
  // behind, and the driver kicks only when its idx passes it.
  suppressNotifications(): void {
    if (this.ready && !this.eventIdx) physWrite16(this.deviceHost, USED_F_NO_NOTIFY);
  }

  // Asks the driver to kick when it offers the next chain (2.7.10): clears
  // NO_NOTIFY, or with VIRTIO_F_EVENT_IDX sets avail_event to the entry the
  // device takes next. Returns true if chains are already waiting, which
  // the device must take now, as no kick will come for them (false once
  // the queue has stopped on an error).
  armNotification(): bool {
    if (!this.ready || this.error !== null) return false;
    if (this.eventIdx) physWrite16(this.deviceHost + 4 + 8 * <u64>this.size, this.lastAvail);
    else physWrite16(this.deviceHost, 0);
    memoryFence(); // the request out before idx is read again
    return physRead16(this.driverHost + 2) != this.lastAvail;
  }

  private fail(why: string): bool {
    this.error = why;
    this.knownAvail = 0;
    return false;
  }

  // Fails on descriptor `index` of chain `head`'s main or indirect table.
  private bad(head: u32, indirect: bool, index: u32, why: string): bool {
    const table = indirect ? "indirect descriptor " : "descriptor ";
    return this.fail("chain " + head.toString() + ": " + table + index.toString() + " " + why);
  }
}

// Why an area of `bytes` at `gpa` is unusable (misaligned or not all RAM), or null.
function area(memory: GuestMemory, name: string, gpa: u64, align: u64, bytes: u64): string | null {
  const at = name + " at 0x" + gpa.toString(16);
  if (gpa & (align - 1)) return at + " is not aligned to " + align.toString() + " bytes";
  if (!memory.contains(gpa, bytes)) return at + " (" + bytes.toString() + " bytes) is not all RAM";
  return null;
}
