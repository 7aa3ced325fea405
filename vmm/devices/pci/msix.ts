// MSI-X: a function's interrupts as messages, memory writes whose address
// and data the driver chose, one table entry per interrupt vector (PCI
// Local Bus Specification 3.0, 6.8.2).
//
// The capability in configuration space says how many vectors there are
// and in which BARs the table and the pending bit array live; its message
// control word holds the enable and function mask bits. Each 16-byte table
// entry holds a message address, its data and a mask bit. A vector raised
// while masked sets its pending bit and is sent when unmasked (6.8.2.9,
// 6.8.2.10). On a PC the address of an interrupt message falls in the
// local APICs' range at FEE00000h; the platform decodes it (MessageSink).

import { Device } from "../bus";
import { COMMAND } from "./configspace";
import { ConfigWatcher, PciFunction, touches } from "./function";

export const MSIX_CAPABILITY_ID: u8 = 0x11;
const CAPABILITY_LENGTH: u32 = 12;
// Offsets in the capability (6.8.2.1-6.8.2.5).
const MESSAGE_CONTROL: u32 = 2;
const TABLE_LOCATION: u32 = 4;
const PBA_LOCATION: u32 = 8;
const ENABLE: u32 = 1 << 15;
const FUNCTION_MASK: u32 = 1 << 14;

// A table entry (6.8.2.6-6.8.2.9): address low, address high, data, vector control.
export const MSIX_ENTRY_SIZE: u32 = 16;
const ADDRESS_LOW: u32 = 0, ADDRESS_HIGH: u32 = 1, DATA: u32 = 2, VECTOR_CONTROL: u32 = 3;
const VECTOR_MASKED: u32 = 1 << 0;

// Where interrupt messages go: the memory write a function masters.
export abstract class MessageSink {
  abstract send(address: u64, data: u32): void;
}

export class MsiX extends ConfigWatcher {
  readonly table!: Device;
  readonly pendingBits!: Device;
  // Four dwords per vector, as in the table.
  private entries: StaticArray<u32>;
  private pending: StaticArray<bool>;
  private capability: u32;

  // `vectors` entries; the table at `tableOffset` in BAR `tableBar`, the
  // pending bits at `pbaOffset` in BAR `pbaBar` (both 8-byte aligned).
  constructor(
    private fn: PciFunction,
    private sink: MessageSink,
    readonly vectors: u32,
    tableBar: u32,
    tableOffset: u32,
    pbaBar: u32,
    pbaOffset: u32,
  ) {
    super();
    const entries = new StaticArray<u32>(<i32>(vectors * 4));
    // Every vector starts masked (6.8.2.9).
    for (let v: u32 = 0; v < vectors; v++) entries[<i32>(v * 4 + VECTOR_CONTROL)] = VECTOR_MASKED;
    this.entries = entries;
    this.pending = new StaticArray<bool>(<i32>vectors);
    const at = fn.addCapability(MSIX_CAPABILITY_ID, CAPABILITY_LENGTH);
    fn.config.set(at + MESSAGE_CONTROL, 2, vectors - 1); // the table size is encoded as N - 1
    fn.config.allowWrites(at + MESSAGE_CONTROL, 2, ENABLE | FUNCTION_MASK);
    fn.config.set(at + TABLE_LOCATION, 4, tableOffset | tableBar);
    fn.config.set(at + PBA_LOCATION, 4, pbaOffset | pbaBar);
    this.capability = at;
    this.table = new MsixTable(this);
    this.pendingBits = new MsixPendingBits(this);
    fn.watch(this);
  }

  get enabled(): bool {
    return (this.control() & ENABLE) != 0;
  }

  replacesIntx(): bool {
    return this.enabled;
  }

  // The function raises `vector`: sent now, or held pending while masked
  // or while the function may not master the bus (6.8.2.10: without Bus
  // Master Enable, it must not send); a vector past the table is not sent.
  // False if MSI-X is off: the function signals by INTx# or MSI instead.
  raise(vector: u32): bool {
    const control = this.control();
    if ((control & ENABLE) == 0) return false;
    if (vector >= this.vectors) return true;
    if (this.masked(control, vector)) this.pending[<i32>vector] = true;
    else this.send(vector);
    return true;
  }

  // Clearing the function mask, enabling or mastering may release pending vectors.
  configWritten(offset: u32, size: u8): void {
    if (touches(offset, size, this.capability + MESSAGE_CONTROL, 2) || touches(offset, size, COMMAND, 2)) {
      this.sendPending();
    }
  }

  readTable(offset: u32, size: u8): u64 {
    const at = <i32>(offset >> 2);
    if (!aligned(offset, size) || <u32>at >= <u32>this.entries.length) return 0;
    const low = <u64>this.entries[at];
    return size == 8 ? low | (<u64>this.entries[at + 1] << 32) : low;
  }

  writeTable(offset: u32, size: u8, value: u64): void {
    const at = <i32>(offset >> 2);
    if (!aligned(offset, size) || <u32>at >= <u32>this.entries.length) return;
    this.writeDword(at, <u32>value);
    if (size == 8) this.writeDword(at + 1, <u32>(value >> 32));
    this.sendPending();
  }

  // Pending bit n is bit n of the array, read as qwords or dwords (6.8.2.10).
  readPending(offset: u32, size: u8): u64 {
    if (!aligned(offset, size)) return 0;
    let bits: u64 = 0;
    for (let i: u32 = 0; i < <u32>size * 8; i++) {
      const v = offset * 8 + i;
      if (v < this.vectors && this.pending[<i32>v]) bits |= <u64>1 << i;
    }
    return bits;
  }

  private writeDword(at: i32, value: u32): void {
    // The data register and the address are the driver's; of vector control only the mask bit.
    this.entries[at] = (at & 3) == VECTOR_CONTROL ? value & VECTOR_MASKED : value;
  }

  private control(): u32 {
    return this.fn.config.read(this.capability + MESSAGE_CONTROL, 2);
  }

  // Whether `vector` is held back, with Message Control reading `control`.
  private masked(control: u32, vector: u32): bool {
    return (control & FUNCTION_MASK) != 0 || !this.fn.mastering
      || (this.entries[<i32>(vector * 4 + VECTOR_CONTROL)] & VECTOR_MASKED) != 0;
  }

  private sendPending(): void {
    const control = this.control();
    if ((control & ENABLE) == 0) return;
    for (let v: u32 = 0; v < this.vectors; v++) {
      if (this.pending[<i32>v] && !this.masked(control, v)) {
        this.pending[<i32>v] = false;
        this.send(v);
      }
    }
  }

  private send(vector: u32): void {
    const at = <i32>(vector * 4);
    const address = (<u64>this.entries[at + ADDRESS_HIGH] << 32) | <u64>this.entries[at + ADDRESS_LOW];
    this.sink.send(address, this.entries[at + DATA]);
  }
}

// Software accesses the table and the pending bits only with aligned
// dwords or qwords (6.8.2).
function aligned(offset: u32, size: u8): bool {
  return (size == 4 || size == 8) && (offset & (<u32>size - 1)) == 0;
}

class MsixTable extends Device {
  constructor(private msix: MsiX) {
    super("MSI-X table");
  }
  read(offset: u64, size: u8): u64 {
    return this.msix.readTable(<u32>offset, size);
  }
  write(offset: u64, size: u8, value: u64): void {
    this.msix.writeTable(<u32>offset, size, value);
  }
}

// Read-only: software cannot set or clear pending bits.
class MsixPendingBits extends Device {
  constructor(private msix: MsiX) {
    super("MSI-X pending bits");
  }
  read(offset: u64, size: u8): u64 {
    return this.msix.readPending(<u32>offset, size);
  }
  write(offset: u64, size: u8, value: u64): void {}
}
