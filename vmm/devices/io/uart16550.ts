// A National Semiconductor PC16550D UART: the PC's serial port (COM1 at
// 0x3F8, IRQ4), a Linux guest's console.
//
// Eight registers, three of them behind the divisor latch access bit.
// Transmission is instantaneous: each byte written to THR goes straight to a
// ByteSink the VMM provides (the VM's console), so THR and the transmitter
// are empty whenever the sink is ready; while it is not (the console makes
// the VM wait), they show busy, and the VMM calls transmitterReady() when
// it is ready again. Received bytes come from the VMM through feedInput()
// into a 16-byte FIFO. The baud rate and line format are stored and read
// back but shape nothing. Section and table names below are those of the
// PC16550D datasheet.

import { DECLINED, Device } from "../bus";
import { InterruptLines } from "../irq";

export const COM1_PORT: u16 = 0x3f8;
export const COM1_IRQ: u32 = 4;

export abstract class ByteSink {
  // Can it take a byte now? While it cannot, THR and the transmitter are
  // busy. Asking may make it flush what it holds, or note a waiter.
  abstract get ready(): bool;
  abstract put(byte: u8): void;
}

const LCR_DLAB: u8 = 0x80;
const IER_RDA: u8 = 0x01, IER_THRE: u8 = 0x02, IER_RLS: u8 = 0x04, IER_MS: u8 = 0x08;
const FCR_ENABLE: u8 = 0x01, FCR_RX_RESET: u8 = 0x02;
const MCR_DTR: u8 = 0x01, MCR_RTS: u8 = 0x02, MCR_OUT1: u8 = 0x04, MCR_OUT2: u8 = 0x08, MCR_LOOP: u8 = 0x10;
const LSR_DR: u8 = 0x01, LSR_OE: u8 = 0x02, LSR_THRE: u8 = 0x20, LSR_TEMT: u8 = 0x40;
const MSR_DELTAS: u8 = 0x0f, MSR_CTS: u8 = 0x10, MSR_DSR: u8 = 0x20, MSR_RI: u8 = 0x40, MSR_DCD: u8 = 0x80;
// Table V (Interrupt Control Functions): IIR bits 3-1 by priority; bit 0 set means none.
const IIR_RLS: u8 = 0x06, IIR_RDA: u8 = 0x04, IIR_TIMEOUT: u8 = 0x0c, IIR_THRE: u8 = 0x02, IIR_MS: u8 = 0x00;
const IIR_NONE: u8 = 0x01;
const IIR_FIFOS: u8 = 0xc0;
const FIFO_SIZE: i32 = 16;
const TRIGGER_LEVELS: StaticArray<i32> = [1, 4, 8, 14]; // FCR bits 7-6
// The far end when not in loopback: a terminal that is present and ready.
const REMOTE_MODEM: u8 = MSR_CTS | MSR_DSR | MSR_DCD;

export class Uart16550 extends Device {
  private rx: StaticArray<u8> = new StaticArray<u8>(FIFO_SIZE);
  private rxHead: i32 = 0;
  private rxCount: i32 = 0;
  private fifos: bool = false;
  private trigger: i32 = 1;
  private overrun: bool = false;
  private thrEmptyPending: bool = false;
  // Register values at master reset (Table IV): everything zero but LSR and
  // the MSR's input bits.
  private ier: u8 = 0;
  private lcr: u8 = 0;
  private mcr: u8 = 0;
  private msr: u8 = REMOTE_MODEM;
  private scr: u8 = 0;
  private dll: u8 = 0;
  private dlm: u8 = 0;
  private irqHigh: bool = false;

  constructor(private lines: InterruptLines, private irq: u32, private sink: ByteSink) {
    super("16550A UART");
  }

  // Whether a byte fed now would be received without overrunning the FIFO
  // (the receiver's input is disconnected in loopback mode).
  get canReceive(): bool {
    return !(this.mcr & MCR_LOOP) && this.rxCount < this.capacity();
  }

  // A byte from the far end.
  feedInput(byte: u8): void {
    if (this.mcr & MCR_LOOP) return;
    this.receive(byte);
    this.update();
  }

  read(offset: u64, size: u8): u64 {
    const register = <i32>offset, v = this.peek(register, register == 5 && this.transmitterEmpty());
    if (this.readEffects(register, true)) this.update();
    return v;
  }

  // Quick (devices/bus.ts): a read without effects, and a write to a
  // register that only holds what it is given.
  // Not LSR: its THRE asks the sink, and a guest's polling of it is what
  // moves the host console along (VmConsole.ready drains it; a fast path
  // that skipped that once left console-bound guests waiting, docs/vm-exit.md).
  get quickReads(): u32 {
    return 0xff & ~(1 << 5);
  }
  // LCR and the scratch register (the divisor latch's writes too, but they
  // are rare, and its offsets are THR's and IER's).
  get quickWrites(): u32 {
    return (1 << 3) | (1 << 7);
  }
  quickRead(offset: u64, size: u8): u64 {
    const register = <i32>offset;
    if (register == 5 || this.readEffects(register, false)) return DECLINED;
    return this.peek(register, false);
  }
  quickWrite(offset: u64, size: u8, value: u64): bool {
    const dlab = (this.lcr & LCR_DLAB) != 0, v = <u8>value;
    if (offset == 7) this.scr = v;
    else if (offset == 3) this.lcr = v;
    else if (offset == 0 && dlab) this.dll = v;
    else if (offset == 1 && dlab) this.dlm = v;
    else return false;
    return true;
  }

  write(offset: u64, size: u8, value: u64): void {
    if (this.quickWrite(offset, size, value)) return;
    const v = <u8>value;
    switch (<i32>offset) {
      case 0:
        this.transmit(v);
        break;
      case 1:
        this.setIer(v & 0x0f);
        break;
      case 2:
        this.setFcr(v);
        break;
      case 4:
        this.setMcr(v & 0x1f);
        break;
      default:
        break; // LSR and MSR are read-only here
    }
    this.update();
  }

  // The register at `register` as a read returns it, without the read's
  // effects; for LSR, with the transmitter empty or not.
  private peek(register: i32, transmitterEmpty: bool): u8 {
    const dlab = (this.lcr & LCR_DLAB) != 0;
    switch (register) {
      case 0:
        return dlab ? this.dll : this.rxCount > 0 ? this.rx[this.rxHead] : 0;
      case 1:
        return dlab ? this.dlm : this.ier;
      case 2:
        return this.identify() | (this.fifos ? IIR_FIFOS : 0);
      case 3:
        return this.lcr;
      case 4:
        return this.mcr;
      case 5:
        return (this.rxCount > 0 ? LSR_DR : 0) | (this.overrun ? LSR_OE : 0)
          | (transmitterEmpty ? LSR_THRE | LSR_TEMT : 0);
      case 6:
        return this.msr;
      default:
        return this.scr;
    }
  }

  // Whether reading the register at `register` changes the UART (Table
  // IV): it takes a received byte, or clears the THRE interrupt it
  // reports, an overrun, or the modem deltas. The change happens if `apply`.
  private readEffects(register: i32, apply: bool): bool {
    const dlab = (this.lcr & LCR_DLAB) != 0;
    if (register == 0 && !dlab && this.rxCount > 0) {
      if (apply) this.takeByte();
    } else if (register == 2 && this.identify() == IIR_THRE) {
      if (apply) this.thrEmptyPending = false;
    } else if (register == 5 && this.overrun) {
      if (apply) this.overrun = false;
    } else if (register == 6 && (this.msr & MSR_DELTAS) != 0) {
      if (apply) this.msr &= ~MSR_DELTAS;
    } else return false;
    return true;
  }

  // The sink took what the transmitter held: THR is empty again, which
  // raises the THRE interrupt (Table IV).
  transmitterReady(): void {
    this.thrEmptyPending = true;
    this.update();
  }

  // MCR bit 4: in loopback the transmitter's output feeds the receiver,
  // which is always ready for it.
  private transmitterEmpty(): bool {
    return (this.mcr & MCR_LOOP) != 0 || this.sink.ready;
  }

  private transmit(v: u8): void {
    if (this.mcr & MCR_LOOP) this.receive(v);
    else this.sink.put(v);
    // Writing THR clears the THRE interrupt (Table IV); with the byte sent
    // at once, THR is empty again, which raises it anew, unless the sink
    // makes it wait (then transmitterReady() raises it).
    this.thrEmptyPending = this.transmitterEmpty();
  }

  private setIer(v: u8): void {
    // Enabling the THRE interrupt while THR is empty raises it at once;
    // Linux's 8250 driver checks for this at start-up.
    if ((v & IER_THRE) && !(this.ier & IER_THRE) && this.transmitterEmpty()) this.thrEmptyPending = true;
    this.ier = v;
  }

  // FCR: bit 0 enables the FIFOs, and changing it empties them; bit 1 resets
  // the receiver FIFO (the transmitter one is always empty); bits 7-6 pick
  // the receiver trigger level. Other bits are taken only with bit 0 set.
  private setFcr(v: u8): void {
    const enable = (v & FCR_ENABLE) != 0;
    if (enable != this.fifos || (enable && (v & FCR_RX_RESET))) this.rxCount = 0;
    this.fifos = enable;
    this.trigger = enable ? TRIGGER_LEVELS[v >> 6] : 1;
  }

  private setMcr(v: u8): void {
    const before = this.modemInputs();
    this.mcr = v;
    const after = this.modemInputs();
    // MSR bits 0, 1, 3 record changes of CTS, DSR, DCD; bit 2 (TERI) the
    // trailing edge of RI, when it goes from on to off.
    const deltas = (((before ^ after) >> 4) & 0x0b) | (((before & ~after) & MSR_RI) >> 4);
    this.msr = after | (this.msr & MSR_DELTAS) | deltas;
  }

  // MCR bit 4: in loopback RTS, DTR, OUT1 and OUT2 drive CTS, DSR, RI and DCD.
  private modemInputs(): u8 {
    const m = this.mcr;
    if (!(m & MCR_LOOP)) return REMOTE_MODEM;
    return ((m & MCR_RTS) ? MSR_CTS : 0) | ((m & MCR_DTR) ? MSR_DSR : 0)
      | ((m & MCR_OUT1) ? MSR_RI : 0) | ((m & MCR_OUT2) ? MSR_DCD : 0);
  }

  private capacity(): i32 {
    return this.fifos ? FIFO_SIZE : 1;
  }

  private receive(byte: u8): void {
    if (this.rxCount < this.capacity()) {
      this.rx[(this.rxHead + this.rxCount) % FIFO_SIZE] = byte;
      this.rxCount++;
      return;
    }
    // LSR bit 1: without FIFOs the new character overwrites the unread one;
    // with a full FIFO it is lost in the shift register.
    this.overrun = true;
    if (!this.fifos) this.rx[this.rxHead] = byte;
  }

  // A read of RBR took the oldest byte received.
  private takeByte(): void {
    this.rxHead = (this.rxHead + 1) % FIFO_SIZE;
    this.rxCount--;
  }

  // The highest-priority pending interrupt that IER enables (Table V). With
  // FIFOs on and fewer bytes than the trigger level, the character timeout
  // interrupt is reported at once: input arrives from the VMM in bursts, and
  // nothing more is on its way.
  private identify(): u8 {
    const ier = this.ier;
    if ((ier & IER_RLS) && this.overrun) return IIR_RLS;
    if ((ier & IER_RDA) && this.rxCount >= this.trigger) return IIR_RDA;
    if ((ier & IER_RDA) && this.rxCount > 0) return IIR_TIMEOUT;
    if ((ier & IER_THRE) && this.thrEmptyPending) return IIR_THRE;
    if ((ier & IER_MS) && (this.msr & MSR_DELTAS)) return IIR_MS;
    return IIR_NONE;
  }

  // On the PC, OUT2 gates the UART's interrupt onto the bus (IBM PC AT
  // Technical Reference, serial/parallel adapter); in loopback the 16550
  // holds its OUT pins inactive, which disconnects it as well (MCR bit 4).
  private update(): void {
    const high = this.identify() != IIR_NONE && (this.mcr & (MCR_OUT2 | MCR_LOOP)) == MCR_OUT2;
    if (high == this.irqHigh) return;
    this.irqHigh = high;
    this.lines.setLevel(this.irq, high);
  }
}
