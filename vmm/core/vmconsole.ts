// A VM's console line: what its guest writes (the UART's transmitter, the
// console hypercall), printed on the hypervisor's console a line at a time
// with the VM's name in front.
//
// Lines, so that VMs that run in turn (and are preempted mid-line) never
// interleave. Each VM has at most one line in the console's queue
// (kernel/console/console.ts): its next line enters once the last one has
// gone out to the UART, and only while the queue keeps room for the
// hypervisor's own messages. A VM that writes faster than the serial line
// carries them therefore waits for it, and VMs that all write at full speed
// take turns, a line each. The guest is told to wait, as a real PC's would
// be: the UART shows its transmitter busy (ready false), the hypercall
// writes fewer bytes. What it writes regardless is dropped and counted.

import * as log from "../../kernel/console/log";
import { consoleQueued, consoleRoom, consoleSent, drainConsole, print, putChar } from "../../kernel/console/console";

const LINE_MAX = 256;
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

// Who waits for the console to take bytes again (the UART's transmitter).
export abstract class ConsoleWaiter {
  abstract wakeUp(): void;
}

export class VmConsole {
  waiter: ConsoleWaiter | null = null;
  private line: StaticArray<u8> = new StaticArray<u8>(LINE_MAX);
  private length: i32 = 0;
  // The line is complete (a newline, or LINE_MAX bytes) and waits for its turn.
  private complete: bool = false;
  // The queue position after this VM's last line: it is out when the
  // console has sent that far.
  private lastLineEnd: u64 = 0;
  private dropped: u64 = 0;

  constructor(private name: string) {}

  // Can the guest write a byte now without it being dropped?
  get ready(): bool {
    if (this.complete) this.tryPrint();
    return !this.complete;
  }

  // A byte from the guest; false if it was dropped (the line waits).
  write(c: u8): bool {
    if (!this.ready) {
      this.dropped++;
      return false;
    }
    if (c == 13) return true;
    if (c == 10) {
      this.complete = true;
    } else {
      this.line[this.length++] = c;
      if (this.length == LINE_MAX) this.complete = true;
    }
    if (this.complete) this.tryPrint();
    return true;
  }

  // Prints the line if its turn has come: the VM's last line is out and
  // the queue has room. drainConsole() first, so that a guest that polls
  // its UART moves the queue along.
  private tryPrint(): void {
    drainConsole();
    const bytes = <u64>(this.name.length + this.length) + 8;
    if (consoleSent() < this.lastLineEnd || consoleRoom() < bytes + HYPERVISOR_RESERVE) return;
    this.print();
  }

  // The scheduler's look, every millisecond while the console has bytes
  // queued: a line that waited for its turn goes out, and the guest hears
  // that it may write again.
  poll(): void {
    if (!this.complete) return;
    this.tryPrint();
    if (!this.complete && this.waiter !== null) this.waiter!.wakeUp();
  }

  // Prints what the line holds now, whatever the queue: when the VM stops
  // or restarts, so that its last words come before the hypervisor's.
  flush(): void {
    if (this.length > 0 || this.complete) this.print();
    this.reportDropped();
  }

  private print(): void {
    print("[");
    print(this.name);
    print("] ");
    for (let i = 0; i < this.length; i++) putVisible(this.line[i]);
    putChar(10);
    this.length = 0;
    this.complete = false;
    this.lastLineEnd = consoleQueued();
    if (this.dropped > 0 && consoleRoom() > HYPERVISOR_RESERVE) this.reportDropped();
  }

  private reportDropped(): void {
    if (this.dropped == 0) return;
    log.warn("vm " + this.name + ": " + this.dropped.toString() + " bytes of console output dropped while it waited");
    this.dropped = 0;
  }
}
