// virtio-console (virtio 1.2, 5.3): a console port without multiport
// support, so one port with one receive and one transmit queue. Linux
// makes it /dev/hvc0.
//
// What the driver puts in the transmit queue goes to the VM's console, as
// the UART's output does; while the console makes the VM wait, the chain
// in hand stays unfinished and the queue waits with it, until the console
// takes bytes again (flush()). Typed input waits in a small buffer until
// the driver has offered receive buffers, and goes into them in order.

import { ByteSink } from "../io/uart16550";
import { Chain, Virtqueue } from "./virtqueue";
import { VirtioDevice } from "./device";

const CONSOLE_ID: u16 = 3;
const RECEIVE: u32 = 0, TRANSMIT: u32 = 1;
const QUEUE_SIZE: u16 = 256;
// Configuration (5.3.4): cols, rows, max_nr_ports, emerg_wr; without
// VIRTIO_CONSOLE_F_SIZE and F_MULTIPORT only emerg_wr would mean
// anything, and without F_EMERG_WRITE not even that.
const CONFIG_SIZE: u32 = 12;
const CHAIN_BUFFERS: i32 = 64;
const COPY_SIZE: i32 = 64;
const INPUT_SIZE: i32 = 256;

export class VirtioConsole extends VirtioDevice {
  private queues: Virtqueue[] = [];
  private out: Chain = new Chain(CHAIN_BUFFERS);
  // Bytes of `out` already written to the console; -1 when there is no chain in hand.
  private outDone: i64 = -1;
  private inChain: Chain = new Chain(CHAIN_BUFFERS);
  private bytes: Uint8Array = new Uint8Array(COPY_SIZE);
  private input: Uint8Array = new Uint8Array(INPUT_SIZE);
  private inputCount: i32 = 0;

  constructor(private output: ByteSink) {
    super(CONSOLE_ID, "console", 2, QUEUE_SIZE);
  }

  get features(): u64 {
    return 0;
  }
  get configSize(): u32 {
    return CONFIG_SIZE;
  }
  readConfig(offset: u32, size: u8): u32 {
    return 0;
  }

  start(features: u64, queues: Virtqueue[]): void {
    this.queues = queues;
    this.flush();
    this.deliverInput();
  }

  notified(index: u32): void {
    if (index == TRANSMIT) this.flush();
    else this.deliverInput();
  }

  reset(): void {
    this.queues = [];
    this.outDone = -1;
    this.inputCount = 0;
  }

  // Whether typed bytes have room to wait.
  get canReceive(): bool {
    return this.inputCount < INPUT_SIZE;
  }

  receive(byte: u8): void {
    if (this.inputCount >= INPUT_SIZE) return;
    this.input[this.inputCount++] = byte;
    this.deliverInput();
  }

  // Writes the transmit queue's chains to the console while it takes
  // bytes; stops mid-chain when it does not.
  flush(): void {
    if (this.queues.length == 0) return;
    const q = this.queues[TRANSMIT];
    if (q.error !== null) return; // reported once; the driver must reset the device
    let used = false;
    do {
      while (this.output.ready) {
        if (this.outDone < 0) {
          if (!q.pop(this.out)) break;
          this.outDone = 0;
        }
        const n = this.out.readBytes(<u64>this.outDone, this.bytes, 0, COPY_SIZE);
        let i = 0;
        while (i < n && this.output.ready) this.output.put(this.bytes[i++]);
        this.outDone += i;
        if (<u64>this.outDone >= this.out.readableBytes) {
          q.push(this.out.head, 0);
          this.outDone = -1;
          used = true;
        }
      }
    } while (this.output.ready && this.outDone < 0 && q.armNotification());
    this.finish(TRANSMIT, used);
  }

  // Puts waiting input into the receive queue's buffers, a chain at a time.
  private deliverInput(): void {
    if (this.queues.length == 0 || this.inputCount == 0) return;
    const q = this.queues[RECEIVE];
    if (q.error !== null) return;
    let used = false;
    while (this.inputCount > 0 && q.pop(this.inChain)) {
      const n = this.inChain.writeBytes(0, this.input, 0, this.inputCount);
      this.input.copyWithin(0, n, this.inputCount);
      this.inputCount -= n;
      q.push(this.inChain.head, <u32>n);
      used = true;
    }
    q.armNotification();
    this.finish(RECEIVE, used);
  }

  private finish(index: u32, used: bool): void {
    const q = this.queues[index];
    if (q.error !== null) this.signals!.needsReset((index == TRANSMIT ? "transmitq: " : "receiveq: ") + q.error!);
    else if (used && q.needsInterrupt()) this.signals!.usedBuffers(index);
  }
}
