// A VM's console: what its guest writes (the UART's transmitter, the
// console hypercall), printed on the hypervisor's console a line at a time
// with the VM's name in front.
//
// Lines, so that VMs that run in turn (and are preempted mid-line) never
// interleave. Each VM has at most one line in the console's queue
// (kernel/console/console.ts): its next line enters once the last one has
// gone out to the UART, and only while the queue keeps room for the
// hypervisor's own messages. Until then the guest's bytes wait here, in a
// queue of four lines. A VM that writes faster than the serial line carries
// them therefore waits for it, and VMs that all write at full speed take
// turns, a line each. The guest is told to wait, as a real PC's would be:
// the UART shows its transmitter busy (ready false), the hypercall writes
// fewer bytes. What it writes regardless is dropped and counted.

import * as log from "../../kernel/console/log";
import { consoleQueued, consoleRoom, consoleSent, drainConsole, print, putChar } from "../../kernel/console/console";
import { ConsoleHistory } from "./consolehistory";

const LINE_MAX = 256;
const QUEUE_SIZE = 4 * LINE_MAX;
// A 16550's transmitter FIFO: after THRE a driver writes this many bytes
// without looking at LSR again (Linux's 8250 driver does), so the UART is
// ready only while the queue has room for all of them.
const TRANSMIT_FIFO = 16;
// Room in the console's queue that guests' lines leave to the hypervisor.
const HYPERVISOR_RESERVE: u64 = 8192;

// A guest's byte as the operator's terminal may safely see it: a control
// character other than TAB (ESC would start an escape sequence that moves
// the cursor, rewrites other VMs' lines or retitles the window; BS or CR
// would overwrite the VM's name) is shown in caret notation, ESC as "^[".
function putVisible(c: u8): void {
  if (c == 9 || (c >= 0x20 && c != 0x7f)) {
    putChar(c);
    return;
  }
  putChar(0x5e); // '^'
  putChar(c ^ 0x40);
}

// Who waits for the console to take bytes again (the UART's transmitter,
// virtio-console's transmit queue).
export abstract class ConsoleWaiter {
  abstract wakeUp(): void;
}

export class VmConsole {
  // The VM's console devices, which a restart replaces.
  waiters: ConsoleWaiter[] = [];
  // The lines printed last, for the management API.
  readonly history: ConsoleHistory = new ConsoleHistory();
  private queue: StaticArray<u8> = new StaticArray<u8>(QUEUE_SIZE);
  private head: i32 = 0;
  private count: i32 = 0;
  // Where the first newline is, from the head; -1 if none is queued.
  private firstNewline: i32 = -1;
  // The console's queue position after this VM's last line: that line is
  // out when the console has sent that far.
  private lastLineEnd: u64 = 0;
  private dropped: u64 = 0;
  // A device was told to wait, and hears when it may go on.
  private owesWakeUp: bool = false;

  constructor(private name: string) {}

  // Bytes the guest may write now without any being dropped.
  get room(): i32 {
    this.printLines();
    return QUEUE_SIZE - this.count;
  }

  // The UART's transmitter is empty: a FIFO's worth of bytes fits.
  get ready(): bool {
    const ready = this.room >= TRANSMIT_FIFO;
    if (!ready) this.owesWakeUp = true;
    return ready;
  }

  // A byte from the guest; dropped (and counted) when the queue is full.
  write(c: u8): void {
    if (c == 13) return;
    if (this.count == QUEUE_SIZE) {
      this.dropped++;
      return;
    }
    this.queue[(this.head + this.count) % QUEUE_SIZE] = c;
    if (c == 10 && this.firstNewline < 0) this.firstNewline = this.count;
    this.count++;
    if (c == 10 || this.count % LINE_MAX == 0) this.printLines();
  }

  // The scheduler's look, every millisecond while the console has bytes
  // queued: lines that waited for their turn go out, and the UART hears
  // that the guest may write again.
  poll(): void {
    if (this.count > 0) this.printLines();
    if (this.owesWakeUp && QUEUE_SIZE - this.count >= TRANSMIT_FIFO) {
      this.owesWakeUp = false;
      for (let i = 0; i < this.waiters.length; i++) this.waiters[i].wakeUp();
    }
  }

  // Prints everything now, whatever the console's queue holds: when the VM
  // stops or restarts, so that its last words come before the hypervisor's.
  flush(): void {
    while (this.count > 0) this.printLine(this.completeLine() >= 0 ? this.completeLine() : this.count);
    this.reportDropped();
  }

  // Prints the complete lines whose turn has come: the VM's last line is
  // out and the console's queue has room. drainConsole() first, so that a
  // guest that polls its UART moves the queue along.
  private printLines(): void {
    let length = this.completeLine();
    if (length < 0) return;
    drainConsole();
    while (length >= 0 && consoleSent() >= this.lastLineEnd) {
      if (consoleRoom() < <u64>(this.name.length + length) * 2 + 8 + HYPERVISOR_RESERVE) return;
      this.printLine(length);
      length = this.completeLine();
    }
  }

  // The length of the first line if it is complete (ends in a newline, or
  // fills LINE_MAX), without the newline; -1 if it is not.
  private completeLine(): i32 {
    if (this.firstNewline >= 0) return min(this.firstNewline, LINE_MAX);
    return this.count >= LINE_MAX ? LINE_MAX : -1;
  }

  // Prints the first `length` bytes as a line, and takes its newline too.
  private printLine(length: i32): void {
    print("[");
    print(this.name);
    print("] ");
    const history = this.history;
    for (let i = 0; i < length; i++) {
      const c = this.queue[(this.head + i) % QUEUE_SIZE];
      putVisible(c);
      history.add(c);
    }
    putChar(10);
    history.add(10);
    const taken = length == this.firstNewline ? length + 1 : length;
    this.head = (this.head + taken) % QUEUE_SIZE;
    this.count -= taken;
    this.firstNewline = this.firstNewline > length ? this.firstNewline - taken : this.findNewline();
    this.lastLineEnd = consoleQueued();
    if (this.dropped > 0 && consoleRoom() > HYPERVISOR_RESERVE) this.reportDropped();
  }

  private findNewline(): i32 {
    for (let i = 0; i < this.count; i++) if (this.queue[(this.head + i) % QUEUE_SIZE] == 10) return i;
    return -1;
  }

  private reportDropped(): void {
    if (this.dropped == 0) return;
    log.warn("vm " + this.name + ": " + this.dropped.toString() + " bytes of console output dropped while it waited");
    this.dropped = 0;
  }
}
