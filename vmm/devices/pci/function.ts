// One PCI function as its driver sees it: who it is, the address ranges
// it decodes (its BARs), its capabilities and its INTx pin.
//
// A device model extends PciFunction, says what it is in the constructor
// and adds its BARs and capabilities; each BAR's registers are a Device of
// their own, which the bus maps wherever the guest puts the BAR. The guest
// learns a BAR's size the standard way: it writes all ones and reads back
// which bits stuck (PCI 3.0, 6.2.5.1), which the writable masks give here
// for free. Changes to the command register or a BAR go to the bus, which
// maps the function's registers again (pcibus.ts).

import { Device } from "../bus";
import {
  BAR0,
  CACHE_LINE_SIZE,
  CAPABILITIES_POINTER,
  CLASS_CODE,
  COMMAND,
  COMMAND_BUS_MASTER,
  COMMAND_INTX_DISABLE,
  COMMAND_IO_SPACE,
  COMMAND_MEMORY_SPACE,
  COMMAND_WRITABLE,
  ConfigSpace,
  DEVICE_ID,
  FIRST_CAPABILITY,
  INTERRUPT_LINE,
  INTERRUPT_PIN,
  LATENCY_TIMER,
  REVISION_ID,
  STATUS,
  STATUS_CAPABILITIES_LIST,
  STATUS_INTERRUPT,
  VENDOR_ID,
} from "./configspace";

export const BARS: i32 = 6;
const BAR_BYTES: u32 = <u32>BARS * 4;

// BAR bits 3:0 (6.2.5.1): bit 0 says I/O; for memory, bits 2:1 give the
// width and bit 3 says prefetchable.
const BAR_IO: u32 = 1 << 0;
const BAR_MEMORY_64: u32 = 2 << 1;
const BAR_MEMORY_FLAGS: u32 = 0xf;
const BAR_IO_FLAGS: u32 = 0x3;
// The PC's I/O space is 64 KiB, so an I/O BAR's upper 16 bits stay zero.
const IO_SPACE_MASK: u32 = 0xffff;

export const enum BarKind {
  Io,
  Memory32,
  Memory64,
}

export class Bar {
  constructor(public kind: BarKind, public size: u64, public registers: Device) {}
}

// A capability's registers that act on a write (MSI's and MSI-X's).
export abstract class ConfigWatcher {
  abstract configWritten(offset: u32, size: u8): void;
  // Whether the capability now carries the function's interrupts, which
  // then may not use INTx# (PCI 3.0, 6.8.1.3 and 6.8.2.3: MSI Enable,
  // MSI-X Enable).
  replacesIntx(): bool {
    return false;
  }
}

// Whether a write of `size` bytes at `offset` touches the `length` bytes of a register at `at`.
export function touches(offset: u32, size: u8, at: u32, length: u32): bool {
  return offset < at + length && offset + <u32>size > at;
}

// Who a function tells when what it decodes or its INTx pin changes: the bus.
export abstract class FunctionHost {
  abstract decodeChanged(fn: PciFunction): void;
  abstract intxChanged(fn: PciFunction, asserted: bool): void;
}

export class PciFunction {
  readonly config: ConfigSpace = new ConfigSpace();
  readonly bars: StaticArray<Bar | null> = new StaticArray<Bar | null>(BARS);
  // Where the function sits, once a bus took it (PciBus.attach()).
  host: FunctionHost | null = null;
  // Device number << 3 | function number, on bus 0.
  location: u32 = 0;
  private lastCapability: u32 = 0;
  private capabilityEnd: u32 = FIRST_CAPABILITY;
  private intxAsserted: bool = false;
  private watchers: ConfigWatcher[] = [];

  // `classCode`: base class, subclass and programming interface, as in
  // the register (bits 23:16, 15:8, 7:0; PCI 3.0 appendix D).
  constructor(public name: string, vendor: u16, device: u16, classCode: u32, revision: u8) {
    const c = this.config;
    c.set(VENDOR_ID, 2, vendor);
    c.set(DEVICE_ID, 2, device);
    c.set(REVISION_ID, 1, revision);
    c.set(CLASS_CODE, 3, classCode);
    c.allowWrites(COMMAND, 2, COMMAND_WRITABLE);
    c.allowWrites(CACHE_LINE_SIZE, 1, 0xff);
    c.allowWrites(LATENCY_TIMER, 1, 0xff);
    c.allowWrites(INTERRUPT_LINE, 1, 0xff);
  }

  // A memory BAR of `size` bytes (a power of two) at BAR `index`; a wide
  // one (64-bit) also takes BAR index + 1 for the upper half.
  addMemoryBar(index: i32, size: u64, wide: bool, registers: Device): void {
    this.bars[index] = new Bar(wide ? BarKind.Memory64 : BarKind.Memory32, size, registers);
    const at = BAR0 + <u32>index * 4;
    this.config.set(at, 4, wide ? BAR_MEMORY_64 : 0);
    this.config.allowWrites(at, 4, <u32>~(size - 1) & ~BAR_MEMORY_FLAGS);
    if (wide) this.config.allowWrites(at + 4, 4, <u32>(~(size - 1) >> 32));
  }

  // An I/O BAR of `size` ports (a power of two, at least 4).
  addIoBar(index: i32, size: u32, registers: Device): void {
    this.bars[index] = new Bar(BarKind.Io, size, registers);
    const at = BAR0 + <u32>index * 4;
    this.config.set(at, 4, BAR_IO);
    this.config.allowWrites(at, 4, ~(size - 1) & IO_SPACE_MASK & ~BAR_IO_FLAGS);
  }

  // Appends a capability of `length` bytes with ID `id` to the list the
  // capabilities pointer starts (6.7); returns its offset in the space.
  addCapability(id: u8, length: u32): u32 {
    const at = this.capabilityEnd, c = this.config;
    c.set(at, 1, id);
    c.set(this.lastCapability == 0 ? CAPABILITIES_POINTER : this.lastCapability + 1, 1, at);
    c.set(STATUS, 2, c.read(STATUS, 2) | STATUS_CAPABILITIES_LIST);
    this.lastCapability = at;
    this.capabilityEnd = (at + length + 3) & ~3;
    return at;
  }

  // INTA# (1) to INTD# (4), the pin the function interrupts on (6.2.4).
  useInterruptPin(pin: u8): void {
    this.config.set(INTERRUPT_PIN, 1, pin);
  }

  get interruptPin(): u8 {
    return <u8>this.config.read(INTERRUPT_PIN, 1);
  }

  readConfig(offset: u32, size: u8): u32 {
    return this.config.read(offset, size);
  }

  writeConfig(offset: u32, size: u8, value: u32): void {
    this.config.write(offset, size, value);
    const host = this.host;
    if (host !== null && (touches(offset, size, COMMAND, 2) || touches(offset, size, BAR0, BAR_BYTES))) {
      host.decodeChanged(this);
    }
    for (let i = 0; i < this.watchers.length; i++) this.watchers[i].configWritten(offset, size);
    // Interrupt disable, MSI Enable or MSI-X Enable may have changed.
    this.driveIntx();
  }

  // `watcher` hears of every configuration write from now on.
  watch(watcher: ConfigWatcher): void {
    this.watchers.push(watcher);
  }

  // Where BAR `index` is now (whether or not it decodes).
  barAddress(index: i32): u64 {
    const bar = this.bars[index]!, low = this.config.read(BAR0 + <u32>index * 4, 4);
    if (bar.kind == BarKind.Io) return <u64>(low & ~BAR_IO_FLAGS);
    const high = bar.kind == BarKind.Memory64 ? this.config.read(BAR0 + <u32>index * 4 + 4, 4) : 0;
    return (<u64>high << 32) | <u64>(low & ~BAR_MEMORY_FLAGS);
  }

  // Puts BAR `index` at `address`, as firmware does before the OS runs.
  placeBar(index: i32, address: u64): void {
    const at = BAR0 + <u32>index * 4, flags = this.config.read(at, 4) & BAR_MEMORY_FLAGS;
    this.config.set(at, 4, <u32>address | flags);
    if (this.bars[index]!.kind == BarKind.Memory64) this.config.set(at + 4, 4, <u32>(address >> 32));
  }

  // Turns on the decoding of every kind of BAR the function has, as
  // firmware does once it placed them.
  enableDecoding(): void {
    let command = this.config.read(COMMAND, 2);
    for (let i = 0; i < BARS; i++) {
      const bar = this.bars[i];
      if (bar !== null) command |= bar.kind == BarKind.Io ? COMMAND_IO_SPACE : COMMAND_MEMORY_SPACE;
    }
    this.config.set(COMMAND, 2, command);
    if (this.host !== null) this.host!.decodeChanged(this);
  }

  // Whether the function may master the bus, as a message needs (6.2.2).
  get mastering(): bool {
    return (this.config.read(COMMAND, 2) & COMMAND_BUS_MASTER) != 0;
  }

  // Whether the command register lets BAR `index` decode.
  decodes(index: i32): bool {
    const command = this.config.read(COMMAND, 2);
    const bit = this.bars[index]!.kind == BarKind.Io ? COMMAND_IO_SPACE : COMMAND_MEMORY_SPACE;
    return (command & bit) != 0;
  }

  // The device asserts (or releases) INTx#; the status register shows it
  // either way, the pin only while interrupt disable is clear (6.2.2,
  // 6.2.3) and no message capability is enabled (6.8.1.3, 6.8.2.3).
  setIntx(asserted: bool): void {
    this.intxAsserted = asserted;
    const status = this.config.read(STATUS, 2);
    this.config.set(STATUS, 2, asserted ? status | STATUS_INTERRUPT : status & ~STATUS_INTERRUPT);
    this.driveIntx();
  }

  private driveIntx(): void {
    const host = this.host;
    if (host === null || this.interruptPin == 0) return;
    let disabled = (this.config.read(COMMAND, 2) & COMMAND_INTX_DISABLE) != 0;
    for (let i = 0; i < this.watchers.length; i++) disabled = disabled || this.watchers[i].replacesIntx();
    host.intxChanged(this, this.intxAsserted && !disabled);
  }
}
