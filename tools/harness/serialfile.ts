// A serial port the emulator writes to a file, followed as the file grows.
//
// QEMU under -icount writes its console so (qemu.ts): a write to a regular
// file always completes, whereas on the socket
// pair Node gives a child as its stdout, a burst of one-byte writes fills
// the socket buffer, QEMU's UART then waits for the host's event loop, and
// the guest sees its transmitter busy for as many instructions as the host
// happened to take. With a file the instruction counts are the same on
// every run (make bench).

import { closeSync, openSync, readSync, statSync, writeFileSync } from "node:fs";

const POLL_MS = 100;

// Creates the file empty and passes on what is appended to it; the function
// returned reads the rest and stops.
export function followFile(path: string, feed: (chunk: string) => void): () => void {
  writeFileSync(path, "");
  const fd = openSync(path, "r");
  let offset = 0;
  const poll = () => {
    const size = statSync(path).size;
    if (size <= offset) return;
    const buffer = Buffer.alloc(size - offset);
    offset += readSync(fd, buffer, 0, buffer.length, offset);
    feed(buffer.toString("latin1"));
  };
  const timer = setInterval(poll, POLL_MS);
  return () => {
    clearInterval(timer);
    poll();
    closeSync(fd);
  };
}
