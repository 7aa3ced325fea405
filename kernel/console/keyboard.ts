// The PC's own keyboard, through the i8042 keyboard controller, polled: a
// second source of console input next to COM1, with a US layout.
//
// The controller translates the keyboard's codes to scan code set 1 (as the
// BIOS and UEFI firmware leave it): one byte per key press, the same with
// bit 7 set when the key is let go, 0xE0 before the extended keys (IBM PC
// AT Technical Reference, "Keyboard Scan Codes"). Keys become the bytes a
// serial terminal sends for them: Enter CR, Backspace DEL, Ctrl with a
// letter its control code (so Ctrl-T switches consoles as on COM1).
// Extended keys (the arrows, the right Ctrl aside) and Alt type nothing.

import { inb } from "../arch/shim";

const DATA: u16 = 0x60;
const STATUS: u16 = 0x64;
const STATUS_OUTPUT_FULL: u8 = 0x01;
const STATUS_FROM_MOUSE: u8 = 0x20;
// What the port reads where no controller answers.
const ABSENT: u8 = 0xff;

const RELEASE: u8 = 0x80;
const EXTENDED: u8 = 0xe0;
const LEFT_SHIFT: u8 = 0x2a;
const RIGHT_SHIFT: u8 = 0x36;
const CTRL: u8 = 0x1d;
const CAPS_LOCK: u8 = 0x3a;
// Scan codes 0x00-0x39 as characters, unshifted and shifted ("\0": none).
const PLAIN = "\0\x1b1234567890-=\x7f\tqwertyuiop[]\r\0asdfghjkl;'`\0\\zxcvbnm,./\0*\0 ";
const SHIFTED = "\0\x1b!@#$%^&*()_+\x7f\tQWERTYUIOP{}\r\0ASDFGHJKL:\"~\0|ZXCVBNM<>?\0*\0 ";

let shift = false;
let ctrl = false;
let capsLock = false;
let extended = false;

// The next character typed on the keyboard, or -1 if none is waiting.
export function keyboardRead(): i32 {
  let status = inb(STATUS);
  while (status != ABSENT && (status & STATUS_OUTPUT_FULL) != 0) {
    const code = inb(DATA);
    const c = (status & STATUS_FROM_MOUSE) != 0 ? -1 : decode(code);
    if (c >= 0) return c;
    status = inb(STATUS);
  }
  return -1;
}

function decode(code: u8): i32 {
  if (code == EXTENDED) {
    extended = true;
    return -1;
  }
  const wasExtended = extended;
  extended = false;
  const key = code & ~RELEASE, pressed = (code & RELEASE) == 0;
  if (key == LEFT_SHIFT || key == RIGHT_SHIFT) shift = pressed;
  else if (key == CTRL) ctrl = pressed;
  else if (key == CAPS_LOCK && pressed) capsLock = !capsLock;
  if (!pressed || wasExtended || <i32>key >= PLAIN.length) return -1;
  let c = (shift ? SHIFTED : PLAIN).charCodeAt(key);
  if (capsLock && isLetter(c)) c ^= 0x20;
  if (ctrl && isLetter(c)) c &= 0x1f;
  return c != 0 ? c : -1;
}

function isLetter(c: i32): bool {
  return (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
}
