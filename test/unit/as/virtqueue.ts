// Unit-test entry: the split virtqueue (vmm/devices/virtio/virtqueue.ts).
// The test plays the driver, writing rings into fake guest RAM from JS; this
// file keeps one queue and one reusable Chain and exports the device's side.

import { GuestMemory } from "../../../vmm/core/guestmemory";
import { Chain, Virtqueue } from "../../../vmm/devices/virtio/virtqueue";

let ram = new GuestMemory();
let queue = new Virtqueue(ram, 256);
let chain = new Chain(16);
let scratch = new Uint8Array(4096);

export function setup(gpa: u64, hpa: u64, size: u64, maxSize: u16, capacity: i32): void {
  ram = new GuestMemory();
  ram.add(gpa, hpa, size);
  queue = new Virtqueue(ram, maxSize);
  chain = new Chain(capacity);
}
export function configure(size: u16, desc: u64, driver: u64, device: u64): void {
  queue.size = size;
  queue.descAddr = desc;
  queue.driverAddr = driver;
  queue.deviceAddr = device;
}
export function setFeatures(eventIdx: bool, indirectDesc: bool): void {
  queue.eventIdx = eventIdx;
  queue.indirectDesc = indirectDesc;
}
// Bit 0: VIRTIO_F_EVENT_IDX, bit 1: VIRTIO_F_INDIRECT_DESC, as negotiated.
export function features(): i32 {
  return (queue.eventIdx ? 1 : 0) | (queue.indirectDesc ? 2 : 0);
}
export function enable(): string | null {
  return queue.enable();
}
export function reset(): void {
  queue.reset();
}
export function size(): u16 {
  return queue.size;
}
export function ready(): bool {
  return queue.ready;
}
export function lastAvail(): u16 {
  return queue.lastAvail;
}

export function pop(): bool {
  return queue.pop(chain);
}
export function unpop(count: u16): void {
  queue.unpop(count);
}
export function error(): string | null {
  return queue.error;
}
export function push(head: u16, written: u32): void {
  queue.push(head, written);
}
export function needsInterrupt(): bool {
  return queue.needsInterrupt();
}
export function suppressNotifications(): void {
  queue.suppressNotifications();
}
export function armNotification(): bool {
  return queue.armNotification();
}

export function head(): u16 {
  return chain.head;
}
export function count(): i32 {
  return chain.count;
}
export function readableCount(): i32 {
  return chain.readableCount;
}
export function readableBytes(): u64 {
  return chain.readableBytes;
}
export function writableBytes(): u64 {
  return chain.writableBytes;
}
export function bufferAddr(i: i32): u64 {
  return chain.addr(i);
}
export function bufferLen(i: i32): u32 {
  return chain.len(i);
}
export function bufferWritable(i: i32): bool {
  return chain.writable(i);
}

// The copy helpers, through a scratch buffer the test fills and reads.
export function readBytes(offset: u64, start: i32, count: i32): i32 {
  return chain.readBytes(offset, scratch, start, count);
}
export function writeBytes(offset: u64, start: i32, count: i32): i32 {
  return chain.writeBytes(offset, scratch, start, count);
}
export function scratchGet(i: i32): u8 {
  return scratch[i];
}
export function scratchSet(i: i32, v: u8): void {
  scratch[i] = v;
}

// The linear memory's size in 64 KiB pages, which grows with the heap.
export function memoryPages(): i32 {
  return memory.size();
}

// `rounds` requests through a ready queue whose descriptor 0 (readable) and
// 1 (writable) the test has set up: this file offers head 0 as a driver
// would, and the device pops it, copies both ways, pushes it and asks about
// interrupts and kicks. Returns how many rounds went through.
export function churn(rounds: i32): i32 {
  const avail = queue.driverAddr, n = <u32>queue.size;
  let done = 0;
  for (let i = 0; i < rounds; i++) {
    const idx = <u32>ram.load(avail + 2, 2);
    ram.store(avail + 4 + 2 * <u64>(idx & (n - 1)), 2, 0);
    ram.store(avail + 2, 2, (idx + 1) & 0xffff);
    if (!queue.pop(chain)) break;
    chain.readBytes(0, scratch, 0, 64);
    chain.writeBytes(0, scratch, 0, 64);
    queue.push(chain.head, 64);
    queue.needsInterrupt();
    queue.armNotification();
    done++;
  }
  return done;
}
