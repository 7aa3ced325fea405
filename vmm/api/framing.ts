// The management API's framing on a serial line (docs/api.md): one JSON
// object per line, ended by LF (a CR before it is JSON white space).
//
// Both directions are bounded. A request longer than MAX_REQUEST_BYTES is
// answered with an error as soon as it is too long, and its bytes are
// dropped up to the next LF; nothing grows with what a client sends. The
// replies and events wait in an OutputQueue that the serial port drains a
// FIFO's worth at a time, so no CPU waits for a slow line.

export const MAX_REQUEST_BYTES: i32 = 4096;
const LF: u8 = 0x0a;

export const enum Framed {
  // Nothing complete yet.
  Pending,
  // A whole line is in `line`.
  Line,
  // The line outgrew MAX_REQUEST_BYTES; the rest of it is dropped.
  TooLong,
}

export class LineReader {
  private readonly buffer: StaticArray<u8> = new StaticArray<u8>(MAX_REQUEST_BYTES);
  private length: i32 = 0;
  private discarding: bool = false;
  // After Framed.Line: the line, decoded from UTF-8, without its LF.
  line: string = "";

  feed(byte: u8): Framed {
    if (byte == LF) {
      const whole = !this.discarding;
      this.discarding = false;
      if (!whole) return Framed.Pending;
      this.line = String.UTF8.decodeUnsafe(changetype<usize>(this.buffer), <usize>this.length);
      this.length = 0;
      return Framed.Line;
    }
    if (this.discarding) return Framed.Pending;
    if (this.length == MAX_REQUEST_BYTES) {
      this.discarding = true;
      this.length = 0;
      return Framed.TooLong;
    }
    unchecked(this.buffer[this.length++] = byte);
    return Framed.Pending;
  }
}

// Bytes waiting for the serial line, in a ring of fixed size.
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
