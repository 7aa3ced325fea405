// The device bus of one VM: port ranges and MMIO ranges mapped to devices.
//
// Devices are plain AssemblyScript objects with no hardware access, so unit
// tests can drive them exactly as a guest would. A guest access that no
// device claims reads as all ones and ignores writes, like an empty ISA bus.
//
// A device may also answer some port accesses *quickly*: in the guest's exit
// itself (the backends' fast path, core/fastports.ts), under the hypervisor
// lock but with the guest's FPU state still in the registers. Such an access
// must have no effect outside the device (no interrupt line, no timer, no
// output, no allocation) and use no floating point; the device declines any
// other, which then takes the generic handler.

// What quickRead() returns for an access it declines: no port reads it (a
// port access is at most four bytes).
export const DECLINED: u64 = u64.MAX_VALUE;
// Below this address a space keeps a bit per address and direction that
// says whether a quick access may be tried there (mayBeQuick()): the ISA
// and PC platform ports.
export const QUICK_HINT_LIMIT: u64 = 0x1000;

export abstract class Device {
  constructor(public name: string) {}
  // `offset` is relative to the start of the range the device was mapped at.
  abstract read(offset: u64, size: u8): u64;
  abstract write(offset: u64, size: u8, value: u64): void;
  // read() or write(), if they can be done quickly (above); else DECLINED and false.
  quickRead(offset: u64, size: u8): u64 {
    return DECLINED;
  }
  quickWrite(offset: u64, size: u8, value: u64): bool {
    return false;
  }
  // The offsets (bit n: offset n, the first 32) whose reads, and whose
  // writes, quickRead() and quickWrite() may take: elsewhere the fast path
  // does not try.
  get quickReads(): u32 {
    return 0;
  }
  get quickWrites(): u32 {
    return 0;
  }
}

class Mapping {
  constructor(public start: u64, public length: u64, public device: Device) {}
}

export class AddressSpace {
  private mappings: Mapping[] = [];
  private lastFound: Mapping | null = null;
  // Below QUICK_HINT_LIMIT, two bits per address (read, write): a quick
  // access may be tried there. Made when a device that has any is mapped there.
  private quickHints: StaticArray<u32> | null = null;

  map(start: u64, length: u64, device: Device): void {
    this.mappings.push(new Mapping(start, length, device));
    if (start < QUICK_HINT_LIMIT && (device.quickReads | device.quickWrites) != 0) this.hintQuick();
  }

  // Takes every range of `device` off this space (a PCI BAR that moves).
  unmap(device: Device): void {
    for (let i = this.mappings.length - 1; i >= 0; i--) {
      if (this.mappings[i].device === device) this.mappings.splice(i, 1);
    }
    this.lastFound = null;
    if (this.quickHints !== null) this.hintQuick();
  }

  // Whether a quick access to `address` may be done: cheaper to ask than
  // to try, for the exit fast path, which does not try elsewhere.
  @inline
  mayBeQuick(address: u64, isRead: bool): bool {
    const hints = this.quickHints;
    if (hints === null || address >= QUICK_HINT_LIMIT) return false;
    const bit = (<u32>address << 1) | (isRead ? 0 : 1);
    return ((unchecked(hints[<i32>(bit >> 5)]) >> (bit & 31)) & 1) != 0;
  }

  // The hints again, from the mappings below QUICK_HINT_LIMIT.
  private hintQuick(): void {
    const hints = new StaticArray<u32>(<i32>(QUICK_HINT_LIMIT * 2 / 32));
    for (let i = 0; i < this.mappings.length; i++) {
      const m = this.mappings[i], reads = m.device.quickReads, writes = m.device.quickWrites;
      for (let offset: u64 = 0; offset < min<u64>(m.length, 32) && m.start + offset < QUICK_HINT_LIMIT; offset++) {
        const bit = <u32>(m.start + offset) << 1;
        if ((reads >> <u32>offset) & 1) hints[<i32>(bit >> 5)] |= 1 << (bit & 31);
        if ((writes >> <u32>offset) & 1) hints[<i32>((bit + 1) >> 5)] |= 1 << ((bit + 1) & 31);
      }
    }
    this.quickHints = hints;
  }

  // An unclaimed address reads as all ones.
  read(address: u64, size: u8): u64 {
    const m = this.lookup(address);
    if (m === null) return allOnes(size);
    return m.device.read(address - m.start, size) & allOnes(size);
  }

  // Returns false if no device claims the address (the write is dropped).
  write(address: u64, size: u8, value: u64): bool {
    const m = this.lookup(address);
    if (m === null) return false;
    m.device.write(address - m.start, size, value & allOnes(size));
    return true;
  }

  // The same, for the quick accesses (above): an unclaimed one is quick too.
  quickRead(address: u64, size: u8): u64 {
    const m = this.lookup(address);
    if (m === null) return allOnes(size);
    const value = m.device.quickRead(address - m.start, size);
    return value == DECLINED ? DECLINED : value & allOnes(size);
  }
  quickWrite(address: u64, size: u8, value: u64): bool {
    const m = this.lookup(address);
    return m === null || m.device.quickWrite(address - m.start, size, value & allOnes(size));
  }

  // True if a device is mapped at `address`.
  claims(address: u64): bool {
    return this.lookup(address) !== null;
  }

  // A guest tends to use the same device many times in a row (a UART's
  // ports, its APIC): the mapping found last is tried first.
  private lookup(address: u64): Mapping | null {
    const last = this.lastFound;
    if (last !== null && address - last.start < last.length) return last;
    for (let i = 0; i < this.mappings.length; i++) {
      const m = unchecked(this.mappings[i]);
      if (address >= m.start && address - m.start < m.length) {
        this.lastFound = m;
        return m;
      }
    }
    return null;
  }
}

export function allOnes(size: u8): u64 {
  return size >= 8 ? ~(<u64>0) : (<u64>1 << (<u64>size * 8)) - 1;
}

// A device made of other devices at offsets in its range: a PCI BAR that
// holds several blocks of registers. A hole reads as all ones.
export class RegisterBlocks extends Device {
  readonly blocks: AddressSpace = new AddressSpace();

  read(offset: u64, size: u8): u64 {
    return this.blocks.read(offset, size);
  }
  write(offset: u64, size: u8, value: u64): void {
    this.blocks.write(offset, size, value);
  }
}

export class Bus {
  readonly io: AddressSpace = new AddressSpace();
  readonly mmio: AddressSpace = new AddressSpace();
}
