// MSI: a function's interrupts as messages, all of them in a few
// registers of its configuration space (PCI Local Bus Specification 3.0,
// 6.8.1).
//
// The driver writes one message address and one data value; the function
// asks for 2^n vectors (Multiple Message Capable), the driver grants
// 2^m of them (Multiple Message Enable), and the function picks vector v
// by putting v in the m low bits of the data (6.8.1.6). A function may
// have 64-bit addresses (an upper address dword after the lower one) and
// per-vector masking (mask and pending bits after the data), which moves
// the data and gives four layouts, 10 to 24 bytes long (figure 6-9).
// A vector raised while masked, or while the function may not master the
// bus, sets its pending bit and is sent once that ends (6.8.3.4).
// Messages go where MSI-X's go (MessageSink).

import { COMMAND } from "./configspace";
import { ConfigWatcher, PciFunction, touches } from "./function";
import { MessageSink } from "./msix";

export const MSI_CAPABILITY_ID: u8 = 0x05;
// Offsets in the capability (6.8.1.1-6.8.1.8); the data and what follows
// it sit 4 bytes further in a 64-bit capability.
const MESSAGE_CONTROL: u32 = 2;
const MESSAGE_ADDRESS: u32 = 4;
const MESSAGE_UPPER_ADDRESS: u32 = 8;
const DATA_32: u32 = 8, DATA_64: u32 = 12;
// The mask bits start 4 bytes after the data (whose upper half is
// reserved), the pending bits 4 bytes after them.
const MASK_AFTER_DATA: u32 = 4, PENDING_AFTER_MASK: u32 = 4;

// Message control (6.8.1.3).
const ENABLE: u32 = 1 << 0;
const MULTIPLE_CAPABLE_SHIFT: u32 = 1;
const MULTIPLE_ENABLE_SHIFT: u32 = 4;
const MULTIPLE_FIELD: u32 = 7;
const ADDRESS_64_CAPABLE: u32 = 1 << 7;
const PER_VECTOR_MASKING_CAPABLE: u32 = 1 << 8;
// The address is dword aligned: bits 1:0 are reserved and read as 0 (6.8.1.4).
const ADDRESS_WRITABLE: u32 = 0xffff_fffc;
const DATA_WRITABLE: u32 = 0xffff;

export class Msi extends ConfigWatcher {
  readonly vectors: u32;
  private capability: u32;
  private data: u32;
  // Where the mask bits are, 0 without per-vector masking.
  private maskBits: u32 = 0;
  // Vectors raised while they could not be sent, bit v for vector v.
  private pending: u32 = 0;

  // The function asks for 2^`log2Vectors` vectors (0 to 5: at most 32, 6.8.1.3);
  // `wide`: 64-bit message addresses; `masking`: per-vector mask and pending bits.
  constructor(private fn: PciFunction, private sink: MessageSink, log2Vectors: u32, private wide: bool, masking: bool) {
    super();
    this.vectors = <u32>1 << log2Vectors;
    const data = wide ? DATA_64 : DATA_32;
    const length = masking ? data + MASK_AFTER_DATA + PENDING_AFTER_MASK + 4 : data + 2;
    const at = fn.addCapability(MSI_CAPABILITY_ID, length), c = fn.config;
    let control = log2Vectors << MULTIPLE_CAPABLE_SHIFT;
    if (wide) control |= ADDRESS_64_CAPABLE;
    if (masking) control |= PER_VECTOR_MASKING_CAPABLE;
    c.set(at + MESSAGE_CONTROL, 2, control);
    c.allowWrites(at + MESSAGE_CONTROL, 2, ENABLE | (MULTIPLE_FIELD << MULTIPLE_ENABLE_SHIFT));
    c.allowWrites(at + MESSAGE_ADDRESS, 4, ADDRESS_WRITABLE);
    if (wide) c.allowWrites(at + MESSAGE_UPPER_ADDRESS, 4, 0xffff_ffff);
    c.allowWrites(at + data, 2, DATA_WRITABLE);
    // Mask bits of vectors the function does not have are reserved (6.8.1.7).
    if (masking) {
      this.maskBits = at + data + MASK_AFTER_DATA;
      c.allowWrites(this.maskBits, 4, <u32>((<u64>1 << this.vectors) - 1));
    }
    this.capability = at;
    this.data = at + data;
    fn.watch(this);
  }

  get enabled(): bool {
    return (this.control() & ENABLE) != 0;
  }

  replacesIntx(): bool {
    return this.enabled;
  }

  // The vectors the driver granted: 2^(Multiple Message Enable), no more
  // than the function asked for (software must not grant more, 6.8.1.3).
  get enabledVectors(): u32 {
    const granted = (this.control() >> MULTIPLE_ENABLE_SHIFT) & MULTIPLE_FIELD;
    return min(<u32>1 << granted, this.vectors);
  }

  // The function raises `vector`: sent now, or held pending while masked
  // or while it may not master the bus; nothing while MSI is disabled or
  // for a vector not granted.
  raise(vector: u32): void {
    if (!this.enabled || vector >= this.enabledVectors) return;
    if (this.masked(vector)) this.setPending(this.pending | (<u32>1 << vector));
    else this.send(vector);
  }

  // What raised `vector` is over (software dealt with it) while the vector
  // waited: its pending bit is cleared, so that unmasking sends nothing
  // stale (6.8.3.4).
  withdraw(vector: u32): void {
    if (vector < this.vectors) this.setPending(this.pending & ~(<u32>1 << vector));
  }

  // Enabling, unmasking or mastering may release pending vectors.
  configWritten(offset: u32, size: u8): void {
    const mask = this.maskBits;
    if (
      touches(offset, size, this.capability + MESSAGE_CONTROL, 2) || touches(offset, size, COMMAND, 2)
      || (mask != 0 && touches(offset, size, mask, 4))
    ) {
      this.sendPending();
    }
  }

  private control(): u32 {
    return this.fn.config.read(this.capability + MESSAGE_CONTROL, 2);
  }

  private masked(vector: u32): bool {
    const mask = this.maskBits;
    return !this.fn.mastering || (mask != 0 && ((this.fn.config.read(mask, 4) >> vector) & 1) != 0);
  }

  // The pending bits as the function keeps them and, with per-vector
  // masking, as software reads them (read-only, 6.8.1.8).
  private setPending(bits: u32): void {
    this.pending = bits;
    if (this.maskBits != 0) this.fn.config.set(this.maskBits + PENDING_AFTER_MASK, 4, bits);
  }

  private sendPending(): void {
    if (!this.enabled) return;
    const granted = this.enabledVectors;
    for (let v: u32 = 0; v < granted; v++) {
      const bit = <u32>1 << v;
      if ((this.pending & bit) != 0 && !this.masked(v)) {
        this.setPending(this.pending & ~bit);
        this.send(v);
      }
    }
  }

  // Vector v of 2^m granted ones: the driver's data with v in its m low bits (6.8.1.6).
  private send(vector: u32): void {
    const c = this.fn.config, at = this.capability;
    const high = this.wide ? c.read(at + MESSAGE_UPPER_ADDRESS, 4) : 0;
    const address = (<u64>high << 32) | <u64>c.read(at + MESSAGE_ADDRESS, 4);
    const low = this.enabledVectors - 1;
    this.sink.send(address, (c.read(this.data, 2) & ~low) | vector);
  }
}
