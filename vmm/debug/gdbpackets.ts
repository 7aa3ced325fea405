// The framing of GDB's remote serial protocol: what travels on the wire.
//
// gdb sends each command as a packet, `$payload#cc`, where cc is the sum of
// the payload's bytes modulo 256 in two hex digits; the receiver answers `+`
// (good) or `-` (send it again). Inside a payload `}` escapes the next byte,
// which is XORed with 0x20, so that `$`, `#`, `}` and `*` can travel in
// binary data. A lone 0x03 byte between packets asks to interrupt the
// target. (GDB manual, "Remote Protocol": "Overview", "Interrupts".)
// PacketReader takes the bytes one at a time, so a client that sends
// garbage, or a packet longer than it announced, costs a reply and no more;
// Cursor reads the hex numbers and bytes of a payload's arguments.

// The longest payload accepted, announced as PacketSize in qSupported.
export const MAX_PACKET: i32 = 4096;

const START: u8 = 0x24; // $
const END: u8 = 0x23; // #
const ESCAPE: u8 = 0x7d; // }
const INTERRUPT: u8 = 0x03;

// What a byte completed.
export const enum Received {
  Nothing,
  Packet, // a payload with a good checksum: acknowledge it with +, then answer it
  Corrupt, // a bad checksum or hex digit: answer -, gdb sends it again
  TooLong, // longer than MAX_PACKET: acknowledge it and answer with an error
  Interrupt, // 0x03 outside a packet
  Nak, // - from gdb: it wants our last packet again
}

const enum State {
  Idle,
  Data,
  Escaped,
  Check1,
  Check2,
}

export class PacketReader {
  // The last packet's payload, unescaped, and its length.
  readonly payload: StaticArray<u8> = new StaticArray<u8>(MAX_PACKET);
  length: i32 = 0;
  private state: State = State.Idle;
  private sum: u32 = 0;
  private check: i32 = 0;
  private overflow: bool = false;

  feed(byte: u8): Received {
    const state = this.state;
    if (state == State.Idle) {
      if (byte == START) this.begin();
      else if (byte == INTERRUPT) return Received.Interrupt;
      else if (byte == 0x2d) return Received.Nak; // -
      return Received.Nothing; // +, and noise between packets
    }
    if (state == State.Check1 || state == State.Check2) return this.checkDigit(byte);
    if (byte == START) {
      // A new packet before the end of this one: gdb gave up on it.
      this.begin();
      return Received.Nothing;
    }
    this.sum += byte;
    if (state == State.Escaped) {
      this.append(byte ^ 0x20);
      this.state = State.Data;
    } else if (byte == END) {
      this.sum -= byte;
      this.state = State.Check1;
    } else if (byte == ESCAPE) {
      this.state = State.Escaped;
    } else {
      this.append(byte);
    }
    return Received.Nothing;
  }

  // The payload as text (bytes 0-255 as characters).
  text(): string {
    const units = new ArrayBuffer(this.length * 2);
    for (let i = 0; i < this.length; i++) store<u16>(changetype<usize>(units) + (<usize>i << 1), this.payload[i]);
    return String.UTF16.decode(units);
  }

  private begin(): void {
    this.state = State.Data;
    this.length = 0;
    this.sum = 0;
    this.overflow = false;
  }

  private append(byte: u8): void {
    if (this.length >= MAX_PACKET) this.overflow = true;
    else unchecked(this.payload[this.length++] = byte);
  }

  private checkDigit(byte: u8): Received {
    const digit = hexDigit(byte);
    if (this.state == State.Check1) {
      this.check = digit;
      this.state = State.Check2;
      return Received.Nothing;
    }
    this.state = State.Idle;
    if (digit < 0 || this.check < 0 || <u32>((this.check << 4) | digit) != (this.sum & 0xff)) return Received.Corrupt;
    return this.overflow ? Received.TooLong : Received.Packet;
  }
}

// `payload` framed for the wire: $, the payload with $ # } * escaped, #, checksum.
export function framePacket(payload: string): string {
  let body = "";
  let sum: u32 = 0;
  for (let i = 0; i < payload.length; i++) {
    let c = <u32>payload.charCodeAt(i);
    if (c == START || c == END || c == ESCAPE || c == 0x2a) {
      body += "}";
      sum += ESCAPE;
      c ^= 0x20;
    }
    body += String.fromCharCode(c);
    sum += c;
  }
  return "$" + body + "#" + hexByte(sum & 0xff);
}

// The value of a hex digit, or -1.
export function hexDigit(c: u32): i32 {
  if (c >= 0x30 && c <= 0x39) return <i32>c - 0x30;
  if (c >= 0x61 && c <= 0x66) return <i32>c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return <i32>c - 0x41 + 10;
  return -1;
}

const DIGITS = "0123456789abcdef";

export function hexByte(v: u32): string {
  return DIGITS.charAt((v >> 4) & 15) + DIGITS.charAt(v & 15);
}

// `size` bytes of `v`, least significant first: how registers travel.
export function hexLittleEndian(v: u64, size: i32): string {
  let text = "";
  for (let i = 0; i < size; i++) text += i < 8 ? hexByte(<u32>(v >> (<u64>i * 8)) & 0xff) : "00";
  return text;
}

// Reads a packet's arguments; `ok` turns false at the first malformed one.
export class Cursor {
  ok: bool = true;
  constructor(private text: string, private at: i32) {}

  get atEnd(): bool {
    return this.at >= this.text.length;
  }

  next(): i32 {
    if (this.atEnd) {
      this.ok = false;
      return -1;
    }
    return this.text.charCodeAt(this.at++);
  }

  take(c: i32): bool {
    if (this.atEnd || this.text.charCodeAt(this.at) != c) return false;
    this.at++;
    return true;
  }

  // A hex number of 1 to 16 digits.
  hex(): u64 {
    let v: u64 = 0, digits = 0;
    while (!this.atEnd) {
      const d = hexDigit(this.text.charCodeAt(this.at));
      if (d < 0) break;
      v = (v << 4) | <u64>d;
      digits++;
      this.at++;
    }
    if (digits == 0 || digits > 16) this.ok = false;
    return v;
  }

  // `size` bytes as pairs of hex digits, least significant first (bytes
  // beyond the eighth are read and dropped).
  littleEndian(size: i32): u64 {
    let v: u64 = 0;
    for (let i = 0; i < size; i++) {
      const high = hexDigit(<u32>this.next()), low = hexDigit(<u32>this.next());
      if (high < 0 || low < 0) {
        this.ok = false;
        return 0;
      }
      if (i < 8) v |= <u64>((high << 4) | low) << (<u64>i * 8);
    }
    return v;
  }
}
