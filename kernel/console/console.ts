// The console: text output to the serial port, without allocating.
//
// Nothing here allocates, so it is safe on paths that must not: the VM-exit
// path, trap handlers, and a panic that happens inside the allocator
// itself. Non-ASCII characters print as '?'.
//
// Output never waits for the UART while it can be helped: at 115200 baud a
// byte takes 87 microseconds, and the CPU that prints holds the hypervisor
// lock, so waiting would stall every CPU (a 4 KiB guest line, 0.36 s). A
// byte goes straight to the UART when nothing is queued and the transmitter
// is ready; otherwise into a 64 KiB ring, which drainConsole() empties as
// fast as the UART takes bytes, without waiting: the scheduler calls it
// every millisecond while bytes are queued. The hypervisor's own messages
// wait for room when the ring is full (they are few); a guest's lines enter
// only while there is room and its previous line is out (core/vmconsole.ts).
// flushConsole() sends everything, waiting, before the machine stops and
// before the C side prints for itself (linker/console.c).
//
// Every byte also goes to the screen (screen.ts), which draws it later;
// flushConsole() brings the screen up to date too.

import { keyboardRead } from "./keyboard";
import { refreshScreen, screenPut } from "./screen";
import { serialInit, serialRead, serialReady, serialPut, serialWait, COM1, TRANSMIT_FIFO } from "./serial";

// A plain constant, not an object: this file is reachable from the abort
// handler, whose module must not need global initializers of its own.
const PORT: u16 = COM1;
const RING_SIZE: u64 = 65536;
// The ring lives in static memory (not the heap), for the same reason.
const ring: usize = memory.data(<i32>RING_SIZE);
// Bytes ever queued, and ever sent from the queue: the ring holds the
// difference, at positions modulo RING_SIZE.
let queued: u64 = 0;
let sent: u64 = 0;

export function initConsole(): void {
  serialInit(PORT);
}

// A byte typed on the console (the serial line, or the PC's keyboard), or -1.
export function readChar(): i32 {
  const c = serialRead(PORT);
  return c >= 0 ? c : keyboardRead();
}

export function putChar(c: u32): void {
  if (c == 10) putByte(13); // the terminal wants CR LF
  putByte(c < 128 ? <u8>c : 0x3f);
  screenPut(c);
}

function putByte(b: u8): void {
  if (queued == sent && serialReady(PORT)) {
    serialPut(PORT, b);
    return;
  }
  if (queued - sent == RING_SIZE) sendOne();
  store<u8>(ring + <usize>(queued % RING_SIZE), b);
  queued++;
}

// Free bytes in the ring.
export function consoleRoom(): u64 {
  return RING_SIZE - (queued - sent);
}

// Whether bytes are waiting for the UART.
export function consolePending(): bool {
  return queued != sent;
}

// The position just after the last byte queued: the queue has sent
// everything before it once consoleSent() reaches it.
export function consoleQueued(): u64 {
  return queued;
}
export function consoleSent(): u64 {
  return sent;
}

// Sends what the UART takes now, without waiting.
export function drainConsole(): void {
  while (queued != sent && serialReady(PORT)) {
    for (let i = 0; i < TRANSMIT_FIFO && queued != sent; i++) sendNext();
  }
}

// Sends everything queued, waiting for the UART, and draws the screen.
export function flushConsole(): void {
  while (queued != sent) sendOne();
  refreshScreen();
}

function sendOne(): void {
  serialWait(PORT);
  sendNext();
}

function sendNext(): void {
  serialPut(PORT, load<u8>(ring + <usize>(sent % RING_SIZE)));
  sent++;
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
