// The management API's framing on a serial line (docs/api.md): one JSON
// object per line, ended by LF (a CR before it is JSON white space).
//
// A request longer than MAX_REQUEST_BYTES is answered with an error as
// soon as it is too long, and its bytes are dropped up to the next LF;
// nothing grows with what a client sends. (The other direction is bounded
// by outputqueue.ts.)

export const MAX_REQUEST_BYTES: i32 = 4096;
export const LF: u8 = 0x0a;

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
