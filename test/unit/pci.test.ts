// A VM's PCI bus (vmm/devices/pci/), driven as a guest drives it: bus scans
// through mechanism #1 and ECAM, BAR sizing and placement, the
// capabilities list, MSI-X and shared INTx lines. PCI Local Bus
// Specification 3.0 (6.1 header, 6.2.5 BARs, 6.7 capabilities, 6.8.2
// MSI-X), PCI Express Base 4.0 7.2.2 (ECAM).
import { beforeEach, describe, expect, it } from "vitest";
import { load, type Exports } from "./harness";

interface PciExports {
  ioRead(port: number, size: number): number;
  ioWrite(port: number, size: number, value: number): void;
  mmioRead(address: bigint, size: number): bigint;
  mmioWrite(address: bigint, size: number, value: bigint): void;
  attachAgain(device: number): number;
  assign(memoryBase: bigint, memoryEnd: bigint, ioBase: number, ioEnd: number): void;
  lastMemoryWrite(): bigint;
  lastIoWrite(): bigint;
  raiseIntx(which: number, asserted: number): void;
  lineLevel(line: number): number;
  raiseVector(vector: number): void;
  messageCount(): number;
  messageAddress(i: number): bigint;
  messageData(i: number): number;
}

const ECAM = 0xe000_0000n;
const MEMORY_BASE = 0xc000_0000n, MEMORY_END = 0xe000_0000n, IO_BASE = 0xc000, IO_END = 0x1_0000;
const TEST = 3, OTHER = 7;
const COMMAND = 0x04, STATUS = 0x06, BAR0 = 0x10, CAPABILITIES = 0x34;
const IO_SPACE = 1, MEMORY_SPACE = 2, BUS_MASTER = 4, INTX_DISABLE = 0x400;

let e: Exports<PciExports>;
beforeEach(async () => {
  e = (await load<PciExports>("pci.ts")).exports;
});

const address = (dev: number, fn: number, reg: number, bus = 0) =>
  (0x8000_0000 | (bus << 16) | (dev << 11) | (fn << 8) | reg) >>> 0;
// Mechanism #1: select, then CONFIG_DATA at the register's byte lane.
const cf8Read = (dev: number, reg: number, size = 4, fn = 0, bus = 0) => {
  e.ioWrite(0xcf8, 4, address(dev, fn, reg & ~3, bus));
  return e.ioRead(0xcfc + (reg & 3), size) >>> 0;
};
const cf8Write = (dev: number, reg: number, size: number, value: number) => {
  e.ioWrite(0xcf8, 4, address(dev, 0, reg & ~3));
  e.ioWrite(0xcfc + (reg & 3), size, value);
};
const ecamAt = (dev: number, reg: number, fn = 0, bus = 0) =>
  ECAM + BigInt((bus << 20) | (dev << 15) | (fn << 12) | reg);
const ecamRead = (dev: number, reg: number, size = 4, fn = 0, bus = 0) =>
  Number(e.mmioRead(ecamAt(dev, reg, fn, bus), size));
const ecamWrite = (dev: number, reg: number, size: number, value: number) =>
  e.mmioWrite(ecamAt(dev, reg), size, BigInt(value));
const barAddress = (dev: number, bar: number) => BigInt((ecamRead(dev, BAR0 + 4 * bar) & ~0xf) >>> 0);

describe("a bus scan", () => {
  it("finds the host bridge and the two functions, the same way through both mechanisms", () => {
    const found = (read: (dev: number, fn: number, bus: number) => number) => {
      const list: string[] = [];
      for (let bus = 0; bus < 2; bus++) {
        for (let dev = 0; dev < 32; dev++) {
          for (let fn = 0; fn < 8; fn++) {
            const id = read(dev, fn, bus) >>> 0;
            if ((id & 0xffff) !== 0xffff) list.push(`${bus}:${dev}.${fn} ${id.toString(16)}`);
          }
        }
      }
      return list;
    };
    const expected = ["0:0.0 12378086", "0:3.0 10421af4", "0:7.0 100e8086"];
    expect(found((dev, fn, bus) => cf8Read(dev, 0, 4, fn, bus))).toEqual(expected);
    expect(found((dev, fn, bus) => ecamRead(dev, 0, 4, fn, bus))).toEqual(expected);
  });

  it("reads ECAM registers at any size and lane, and the extended space above 256 bytes as zero", () => {
    expect(ecamRead(TEST, 0x02, 2)).toBe(0x1042);
    expect(ecamRead(TEST, 0x0b, 1)).toBe(0x01); // base class: mass storage
    expect(ecamRead(TEST, 0x100)).toBe(0);
    expect(ecamRead(TEST, 0xffc)).toBe(0);
    expect(ecamRead(5, 0x100)).toBe(0xffff_ffff);
  });

  it("takes a place only once", () => {
    expect(e.attachAgain(TEST)).toBe(0);
    expect(e.attachAgain(9)).toBe(1);
    expect(cf8Read(9, 0)).toBe(0x0002_0001);
  });
});

describe("BARs", () => {
  it("tell their size and kind by the bits a write of all ones leaves (6.2.5.1)", () => {
    for (let bar = 0; bar < 6; bar++) cf8Write(TEST, BAR0 + 4 * bar, 4, 0xffff_ffff);
    expect(cf8Read(TEST, BAR0)).toBe(0xffff_f000); // 4 KiB, 32-bit memory
    expect(cf8Read(TEST, BAR0 + 4)).toBe(0x0000_ffe1); // 32 I/O ports
    expect(cf8Read(TEST, BAR0 + 8)).toBe(0xffff_c004); // 16 KiB, 64-bit memory...
    expect(cf8Read(TEST, BAR0 + 12)).toBe(0xffff_ffff); // ...whose upper half is all address
    expect(cf8Read(TEST, BAR0 + 16)).toBe(0);
    expect(cf8Read(TEST, BAR0 + 20)).toBe(0);
  });

  it("are placed by the firmware in the windows, naturally aligned, with decoding on", () => {
    e.assign(MEMORY_BASE, MEMORY_END, IO_BASE, IO_END);
    const memory = barAddress(TEST, 0), msix = barAddress(TEST, 2), io = cf8Read(TEST, BAR0 + 4) & ~3;
    expect(memory).toBe(MEMORY_BASE);
    expect(msix).toBe(MEMORY_BASE + 0x4000n);
    expect(cf8Read(TEST, BAR0 + 12)).toBe(0);
    expect(io).toBe(IO_BASE);
    expect(cf8Read(TEST, COMMAND, 2) & (IO_SPACE | MEMORY_SPACE)).toBe(IO_SPACE | MEMORY_SPACE);
    expect(e.mmioRead(memory + 0x10n, 4)).toBe(0x11n);
    e.mmioWrite(memory + 0x20n, 4, 0xabcdn);
    expect(e.lastMemoryWrite()).toBe((0x20n << 32n) | 0xabcdn);
    expect(e.ioRead(io + 4, 2)).toBe(5);
    e.ioWrite(io + 2, 1, 0x7f);
    expect(e.lastIoWrite()).toBe((2n << 32n) | 0x7fn);
  });

  it("decode nothing while the command register says so, and follow the guest when it moves them", () => {
    e.assign(MEMORY_BASE, MEMORY_END, IO_BASE, IO_END);
    const old = barAddress(TEST, 0);
    cf8Write(TEST, COMMAND, 2, 0);
    expect(e.mmioRead(old, 4)).toBe(0xffff_ffffn);
    expect(e.ioRead(IO_BASE, 2)).toBe(0xffff);
    cf8Write(TEST, BAR0, 4, 0xd000_0000);
    cf8Write(TEST, COMMAND, 2, MEMORY_SPACE);
    expect(e.mmioRead(0xd000_0000n, 4)).toBe(1n);
    expect(e.mmioRead(old, 4)).toBe(0xffff_ffffn);
    expect(e.ioRead(IO_BASE, 2)).toBe(0xffff); // I/O decoding still off
    // A 64-bit BAR above 4 GiB.
    ecamWrite(TEST, BAR0 + 12, 4, 0x2);
    ecamWrite(TEST, BAR0 + 8, 4, 0x8000_0000);
    expect(barAddress(TEST, 2) | (BigInt(ecamRead(TEST, BAR0 + 12)) << 32n)).toBe(0x2_8000_0000n);
  });

  it("that do not fit in the window are left for the OS", () => {
    e.assign(MEMORY_BASE, MEMORY_BASE + 0x2000n, IO_BASE, IO_BASE + 16);
    expect(barAddress(TEST, 0)).toBe(MEMORY_BASE);
    expect(barAddress(TEST, 2)).toBe(0n);
    expect(cf8Read(TEST, BAR0 + 4) & ~3).toBe(0);
  });
});

describe("the capabilities list", () => {
  it("starts at the capabilities pointer, with the status bit set, and ends in a null pointer", () => {
    expect(cf8Read(TEST, STATUS, 2) & 0x10).toBe(0x10);
    const at = cf8Read(TEST, CAPABILITIES, 1);
    expect(at).toBe(0x40);
    expect(cf8Read(TEST, at, 1)).toBe(0x11); // MSI-X
    expect(cf8Read(TEST, at + 1, 1)).toBe(0);
    expect(cf8Read(TEST, at + 2, 2)).toBe(3); // table size N - 1, disabled, unmasked
    expect(cf8Read(TEST, at + 4)).toBe(0x0000_0002); // table at offset 0 of BAR 2
    expect(cf8Read(TEST, at + 8)).toBe(0x0000_2002); // pending bits at 0x2000 of BAR 2
    expect(cf8Read(0, STATUS, 2) & 0x10).toBe(0); // the host bridge has none
  });
});

describe("MSI-X", () => {
  const CONTROL = 0x42, ENABLE = 0x8000, FUNCTION_MASK = 0x4000;
  let table: bigint;
  const entry = (vector: number, field: number) => table + BigInt(vector * 16 + field);
  const program = (vector: number, apicId: number, data: number) => {
    e.mmioWrite(entry(vector, 0), 8, 0xfee0_0000n | BigInt(apicId << 12));
    e.mmioWrite(entry(vector, 8), 4, BigInt(data));
  };
  const unmask = (vector: number) => e.mmioWrite(entry(vector, 12), 4, 0n);
  const pendingBits = () => e.mmioRead(table + 0x2000n, 8);
  beforeEach(() => {
    e.assign(MEMORY_BASE, MEMORY_END, IO_BASE, IO_END);
    table = barAddress(TEST, 2);
    cf8Write(TEST, COMMAND, 2, MEMORY_SPACE | BUS_MASTER);
  });

  it("starts with every vector masked and sends nothing while disabled", () => {
    for (let v = 0; v < 4; v++) expect(e.mmioRead(entry(v, 12), 4)).toBe(1n);
    program(0, 1, 0x41);
    unmask(0);
    e.raiseVector(0);
    expect(e.messageCount()).toBe(0);
  });

  it("sends the message the driver wrote, once enabled and unmasked", () => {
    program(2, 3, 0x4051);
    cf8Write(TEST, CONTROL, 2, ENABLE);
    expect(cf8Read(TEST, CONTROL, 2)).toBe(ENABLE | 3);
    e.raiseVector(2);
    expect(e.messageCount()).toBe(0); // still masked: pending
    expect(pendingBits()).toBe(4n);
    unmask(2);
    expect(e.messageCount()).toBe(1);
    expect([e.messageAddress(0), e.messageData(0)]).toEqual([0xfee0_3000n, 0x4051]);
    expect(pendingBits()).toBe(0n);
    e.raiseVector(2);
    expect(e.messageCount()).toBe(2);
    expect(e.mmioRead(entry(2, 0), 8)).toBe(0xfee0_3000n);
    expect(e.mmioRead(entry(2, 8), 4)).toBe(0x4051n);
  });

  it("holds vectors pending under the function mask and without bus mastering, and sends them after", () => {
    program(1, 0, 0x30);
    unmask(1);
    cf8Write(TEST, CONTROL, 2, ENABLE | FUNCTION_MASK);
    e.raiseVector(1);
    expect([e.messageCount(), pendingBits()]).toEqual([0, 2n]);
    cf8Write(TEST, CONTROL, 2, ENABLE);
    expect([e.messageCount(), pendingBits()]).toEqual([1, 0n]);
    cf8Write(TEST, COMMAND, 2, MEMORY_SPACE);
    e.raiseVector(1);
    expect(e.messageCount()).toBe(1);
    cf8Write(TEST, COMMAND, 2, MEMORY_SPACE | BUS_MASTER);
    expect(e.messageCount()).toBe(2);
  });

  it("ignores unaligned and narrow table accesses, and vectors it does not have", () => {
    program(0, 0, 0x30);
    e.mmioWrite(entry(0, 2), 2, 0x1234n);
    e.mmioWrite(entry(0, 9), 4, 0xffffn);
    expect(e.mmioRead(entry(0, 0), 8)).toBe(0xfee0_0000n);
    expect(e.mmioRead(entry(0, 8), 2)).toBe(0n);
    cf8Write(TEST, CONTROL, 2, ENABLE);
    e.raiseVector(4);
    e.raiseVector(0xffff_ffff);
    expect(e.messageCount()).toBe(0);
  });
});

describe("INTx", () => {
  const LINE = 19; // slot 3 INTA# and slot 7 INTA#: (3 + 0) & 3 = (7 + 0) & 3
  it("idles high, goes low while either function asserts it, and shows in the status register", () => {
    expect(e.lineLevel(LINE)).toBe(1);
    e.raiseIntx(0, 1);
    expect(e.lineLevel(LINE)).toBe(0);
    expect(cf8Read(TEST, STATUS, 2) & 0x8).toBe(0x8);
    e.raiseIntx(1, 1);
    e.raiseIntx(0, 0);
    expect(e.lineLevel(LINE)).toBe(0);
    expect(cf8Read(TEST, STATUS, 2) & 0x8).toBe(0);
    e.raiseIntx(1, 0);
    expect(e.lineLevel(LINE)).toBe(1);
  });

  it("lets go of the pin under interrupt disable, the status bit staying", () => {
    e.raiseIntx(0, 1);
    cf8Write(TEST, COMMAND, 2, INTX_DISABLE);
    expect(e.lineLevel(LINE)).toBe(1);
    expect(cf8Read(TEST, STATUS, 2) & 0x8).toBe(0x8);
    cf8Write(TEST, COMMAND, 2, 0);
    expect(e.lineLevel(LINE)).toBe(0);
  });

  it("reports the pin the function uses", () => {
    expect(cf8Read(TEST, 0x3d, 1)).toBe(1);
    expect(cf8Read(0, 0x3d, 1)).toBe(0);
  });
});
