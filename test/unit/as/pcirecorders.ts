// What the PCI unit-test entries (pci.ts, virtio.ts, virtionet.ts) put around a bus:
// interrupt lines that keep their levels, the PC's INTx routing
// (vmm/platform/pc/pcimap.ts), and a sink that records MSI-X messages.

import { InterruptLines } from "../../../vmm/devices/irq";
import { MessageSink } from "../../../vmm/devices/pci/msix";
import { IntxRouting } from "../../../vmm/devices/pci/pcibus";
import { intxGsi } from "../../../vmm/platform/pc/pcimap";

export class Lines extends InterruptLines {
  levels: StaticArray<i8> = new StaticArray<i8>(32); // -1: never driven
  constructor() {
    super();
    this.levels.fill(-1);
  }
  setLevel(line: u32, high: bool): void {
    this.levels[line] = high ? 1 : 0;
  }
}

export class Routing extends IntxRouting {
  lineOf(device: u32, pin: u32): u32 {
    return intxGsi(device, pin);
  }
}

export class Messages extends MessageSink {
  addresses: u64[] = [];
  data: u32[] = [];
  send(address: u64, data: u32): void {
    this.addresses.push(address);
    this.data.push(data);
  }
}

// The entry's one sink, and what the tests read of it (re-exported by each entry).
export const messages = new Messages();
export function messageCount(): i32 {
  return messages.data.length;
}
export function messageAddress(i: i32): u64 {
  return messages.addresses[i];
}
export function messageData(i: i32): u32 {
  return messages.data[i];
}
