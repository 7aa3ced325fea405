// The host's serial port: a 16550A UART driven by polling.
//
// Typervisor's console is COM1 at 115200 baud, 8 data bits, no parity, one
// stop bit: what QEMU, Bochs and a USB-serial cable on a real PC all expect.
// Register map from the PC16550D datasheet (National Semiconductor, 1995).

import { inb, outb, pause } from "../arch/shim";

export const COM1: u16 = 0x3f8;
// The second port carries the GDB stub (vmm/debug) or the management API
// (vmm/api), when the command line asks for one of them.
export const COM2: u16 = 0x2f8;

const DATA: u16 = 0; // receive/transmit buffer; divisor low when DLAB=1
const INTERRUPT_ENABLE: u16 = 1; // divisor high when DLAB=1
const FIFO_CONTROL: u16 = 2;
const LINE_CONTROL: u16 = 3;
const MODEM_CONTROL: u16 = 4;
const LINE_STATUS: u16 = 5;
const SCRATCH: u16 = 7;

const LCR_8N1: u8 = 0x03;
const LCR_DLAB: u8 = 0x80;
const LSR_DATA_READY: u8 = 0x01;
const LSR_THR_EMPTY: u8 = 0x20;
const BAUD_115200_DIVISOR: u8 = 1; // 1.8432 MHz / (16 * 115200)

export function serialInit(base: u16): void {
  outb(base + INTERRUPT_ENABLE, 0); // we poll
  outb(base + LINE_CONTROL, LCR_DLAB);
  outb(base + DATA, BAUD_115200_DIVISOR);
  outb(base + INTERRUPT_ENABLE, 0);
  outb(base + LINE_CONTROL, LCR_8N1);
  outb(base + FIFO_CONTROL, 0xc7); // enable and clear FIFOs, 14-byte threshold
  outb(base + MODEM_CONTROL, 0x03); // DTR and RTS
}

// Whether a UART answers at `base`. A PC without that port reads all ones
// there, and its line status then claims a byte ready forever: polled, it
// would feed the reader 0xFF bytes without end. The scratch register
// (datasheet 8.10) holds what is written to it; an empty bus does not.
export function serialPresent(base: u16): bool {
  return keepsScratch(base, 0x5a) && keepsScratch(base, 0xa5);
}

function keepsScratch(base: u16, pattern: u8): bool {
  outb(base + SCRATCH, pattern);
  return inb(base + SCRATCH) == pattern;
}

// The transmitter can take bytes: THRE, which with the FIFOs on means its
// FIFO is empty, so TRANSMIT_FIFO bytes may follow at once (datasheet 8.6.3).
export const TRANSMIT_FIFO: i32 = 16;
export function serialReady(base: u16): bool {
  return (inb(base + LINE_STATUS) & LSR_THR_EMPTY) != 0;
}

// Writes a byte without looking: the caller saw the transmitter ready.
export function serialPut(base: u16, byte: u8): void {
  outb(base + DATA, byte);
}

// Waits until the transmitter is ready, at most about a second of spins:
// a missing UART must not hang the hypervisor.
export function serialWait(base: u16): void {
  for (let spins = 0; spins < 100000; spins++) {
    if (serialReady(base)) return;
    pause();
  }
}

// Waits for the transmitter, then writes: for the debugger's replies on
// COM2 (vmm/debug/session.ts), which a developer waits for anyway.
export function serialWrite(base: u16, byte: u8): void {
  serialWait(base);
  serialPut(base, byte);
}

// A received byte, or -1 if none is waiting.
export function serialRead(base: u16): i32 {
  if ((inb(base + LINE_STATUS) & LSR_DATA_READY) == 0) return -1;
  return inb(base + DATA);
}
