// One descriptor chain taken from a virtqueue, as the device sees it.
//
// A virtio request is a list of guest buffers: zero or more the device may
// only read, then zero or more it may only write (virtio 1.2, 2.7.4). The
// virtqueue (virtqueue.ts) fills a Chain when it takes a request from the
// driver; the device then reads its input and writes its answer through the
// copy helpers here, which treat each part as one run of bytes and never
// stray outside the buffers the driver offered: to and from the
// hypervisor's memory, or, for a frame from one VM to another
// (net.ts), from one chain's buffers straight into another's. A device owns one Chain per
// request it keeps in flight and reuses it: the buffer list is allocated once,
// with room for `capacity` buffers, so taking work allocates nothing. Each
// buffer comes with its host-physical address, which the virtqueue found
// when it checked the buffer lies in RAM (a buffer lies in one RAM
// region, so it is host-contiguous): the copies look nothing up again.

import { physCopy } from "../../../kernel/arch/shim";
import { copyHostLinear } from "../../core/guestmemory";

export class Chain {
  // The index of the chain's first descriptor: what the used ring returns.
  head: u16 = 0;
  // Buffers in the chain; the first `readableCount` are device-readable.
  count: i32 = 0;
  readableCount: i32 = 0;
  readableBytes: u64 = 0;
  writableBytes: u64 = 0;
  private addrs: StaticArray<u64>;
  private hosts: StaticArray<u64>;
  private lens: StaticArray<u32>;

  constructor(public capacity: i32) {
    this.addrs = new StaticArray<u64>(capacity);
    this.hosts = new StaticArray<u64>(capacity);
    this.lens = new StaticArray<u32>(capacity);
  }

  // Buffer `i` (0 <= i < count): guest-physical and host-physical address,
  // length, direction.
  addr(i: i32): u64 {
    return this.addrs[i];
  }
  host(i: i32): u64 {
    return this.hosts[i];
  }
  len(i: i32): u32 {
    return this.lens[i];
  }
  writable(i: i32): bool {
    return i >= this.readableCount;
  }
  // The same for a walk that keeps 0 <= i < count itself (Runs, a disk
  // request's data), unchecked.
  @inline
  hostOf(i: i32): u64 {
    return unchecked(this.hosts[i]);
  }
  @inline
  lenOf(i: i32): u32 {
    return unchecked(this.lens[i]);
  }

  // Copies up to `count` bytes of the device-readable part, from `offset`
  // bytes into it, to dest[start...]; returns how many were copied (fewer
  // if the part or `dest` ends first).
  readBytes(offset: u64, dest: Uint8Array, start: i32, count: i32): i32 {
    return this.copy(0, this.readableCount, offset, dest, start, count, false);
  }

  // Copies up to `count` bytes from src[start...] into the device-writable
  // part, from `offset` bytes into it; returns how many were copied.
  writeBytes(offset: u64, src: Uint8Array, start: i32, count: i32): i32 {
    return this.copy(this.readableCount, this.count, offset, src, start, count, true);
  }

  // Empties the chain (Virtqueue.pop() does this first).
  clear(): void {
    this.head = 0;
    this.count = this.readableCount = 0;
    this.readableBytes = this.writableBytes = 0;
  }

  // Appends a buffer at guest-physical `addr`, host-physical `host`;
  // false if the chain is full. Virtqueue.pop() has checked that it lies
  // in RAM, made it ready, and keeps the readable ones first.
  add(addr: u64, host: u64, len: u32, writable: bool): bool {
    const i = this.count;
    if (i >= this.capacity) return false;
    unchecked(this.addrs[i] = addr);
    unchecked(this.hosts[i] = host);
    unchecked(this.lens[i] = len);
    this.count = i + 1;
    if (writable) this.writableBytes += len;
    else {
      this.readableCount = i + 1;
      this.readableBytes += len;
    }
    return true;
  }

  // Moves bytes between buffers [first, end) of the chain, from `offset`
  // bytes into them, and bytes[start, start + count).
  private copy(first: i32, end: i32, offset: u64, bytes: Uint8Array, start: i32, count: i32, toGuest: bool): i32 {
    if (start < 0 || count <= 0 || start >= bytes.length) return 0;
    const want = min(count, bytes.length - start);
    let done = 0, skip = offset;
    for (let i = first; i < end && done < want; i++) {
      const len = <u64>unchecked(this.lens[i]);
      if (skip >= len) {
        skip -= len; // the offset lies past this buffer
        continue;
      }
      const n = <i32>min(<u64>(want - done), len - skip);
      copyHostLinear(unchecked(this.hosts[i]) + skip, bytes.dataStart + <usize>(start + done), <u64>n, toGuest);
      done += n;
      skip = 0;
    }
    return done;
  }
}

// A walk over buffers [first, end) of a chain, from `skip` bytes into
// them, one buffer's run of host-physical bytes at a time: a frame from
// one VM's transmit chain copied into another's receive buffers
// (net.ts), the walk standing where the last copy ended. Each user keeps
// its own, so that copying allocates nothing.
export class Runs {
  // The current run: where it is in host memory, and its bytes left.
  at: u64 = 0;
  left: u64 = 0;
  private chain: Chain | null = null;
  private i: i32 = 0;
  private end: i32 = 0;
  private skip: u64 = 0;

  start(chain: Chain, first: i32, end: i32, skip: u64): Runs {
    this.chain = chain;
    // Within the chain's buffers, which nextBuffer() reads unchecked.
    this.i = max(first, 0);
    this.end = min(end, chain.count);
    this.skip = skip;
    this.left = 0;
    return this;
  }

  // The device-readable part of `chain`, from `skip` bytes into it.
  readable(chain: Chain, skip: u64): Runs {
    return this.start(chain, 0, chain.readableCount, skip);
  }

  // Whether a run has bytes left, moving to the next buffer if need be;
  // false at the end of the buffers. Inline: a copy asks at every step.
  @inline
  next(): bool {
    return this.left != 0 || this.nextBuffer();
  }

  private nextBuffer(): bool {
    const chain = this.chain!;
    while (this.left == 0) {
      if (this.i >= this.end) return false;
      const len = <u64>chain.lenOf(this.i), host = chain.hostOf(this.i);
      this.i++;
      if (this.skip >= len) {
        this.skip -= len; // the offset lies past this buffer
        continue;
      }
      this.at = host + this.skip;
      this.left = len - this.skip;
      this.skip = 0;
    }
    return true;
  }

  advance(n: u64): void {
    this.at += n;
    this.left -= n;
  }

  // Copies up to `count` bytes from the walk, on from where it stands, to
  // host-physical `to`: guest RAM to guest RAM (another VM's, maybe), each
  // buffer looked up once. Returns how many were copied (fewer if the
  // walk's buffers end first); the walk stands after them.
  copyTo(to: u64, count: u64): u64 {
    let done: u64 = 0;
    while (done < count && this.next()) {
      const n = min(count - done, this.left);
      physCopy(to + done, this.at, n);
      this.advance(n);
      done += n;
    }
    return done;
  }
}
