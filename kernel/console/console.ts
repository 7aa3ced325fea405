// The console: text output to the serial port, without allocating.
//
// Everything here writes characters straight to the UART, so it is safe on
// paths that must not allocate: the VM-exit path, trap handlers, and a panic
// that happens inside the allocator itself. Non-ASCII characters print as '?'.

import { serialInit, serialRead, serialWrite, COM1 } from "./serial";

// A plain constant, not an object: this file is reachable from the abort
// handler, whose module must not need global initializers of its own.
const PORT: u16 = COM1;

export function initConsole(): void {
  serialInit(PORT);
}

// A byte typed on the console, or -1.
export function readChar(): i32 {
  return serialRead(PORT);
}

export function putChar(c: u32): void {
  if (c == 10) serialWrite(PORT, 13); // the terminal wants CR LF
  serialWrite(PORT, c < 128 ? <u8>c : 0x3f);
}

export function print(s: string): void {
  for (let i = 0; i < s.length; i++) putChar(s.charCodeAt(i));
}

export function println(s: string): void {
  print(s);
  putChar(10);
}

// Hexadecimal with at least `digits` digits (no prefix).
export function printHex(v: u64, digits: i32 = 1): void {
  let started = false;
  for (let shift = 60; shift >= 0; shift -= 4) {
    const nibble = <u32>((v >> <u64>shift) & 0xf);
    if (nibble != 0 || started || shift < digits * 4) {
      started = true;
      putChar(nibble < 10 ? 48 + nibble : 87 + nibble);
    }
  }
}

export function printDec(v: u64): void {
  if (v >= 10) printDec(v / 10);
  putChar(48 + <u32>(v % 10));
}
