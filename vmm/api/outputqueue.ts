// What the management API sends (replies and events, each a line), waiting
// for the serial line in a ring of fixed size, which the serial port
// drains a FIFO's worth at a time (service.ts): no CPU waits for a slow
// line, and a client that does not read cannot make the queue grow.

import { LF } from "./framing";

export class OutputQueue {
  private readonly ring: StaticArray<u8>;
  private head: i32 = 0;
  private count: i32 = 0;

  constructor(readonly capacity: i32) {
    this.ring = new StaticArray<u8>(capacity);
  }

  get free(): i32 {
    return this.capacity - this.count;
  }

  get empty(): bool {
    return this.count == 0;
  }

  // `text` in UTF-8 and a LF, whole or not at all: false if it does not fit.
  offer(text: string): bool {
    const bytes = Uint8Array.wrap(String.UTF8.encode(text));
    if (bytes.length + 1 > this.free) return false;
    for (let i = 0; i < bytes.length; i++) this.push(bytes[i]);
    this.push(LF);
    return true;
  }

  // The oldest byte, taken out.
  take(): u8 {
    const byte = this.ring[this.head];
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    return byte;
  }

  private push(byte: u8): void {
    this.ring[(this.head + this.count) % this.capacity] = byte;
    this.count++;
  }
}
