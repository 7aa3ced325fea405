// Plain MSI (vmm/devices/pci/msi.ts) as a driver sees it through
// configuration space: the capability's two layouts, one message per
// vector with the vector in the data's low bits, masking and pending bits,
// bus mastering, and INTx# held back while MSI or MSI-X carries the
// function's interrupts. PCI Local Bus Specification 3.0, 6.8.1.
import { beforeEach, describe, expect, it } from "vitest";
import { load, type Exports } from "./harness";

interface MsiExports {
  ioRead(port: number, size: number): number;
  ioWrite(port: number, size: number, value: number): void;
  raise(which: number, vector: number): void;
  raiseIntx(which: number, asserted: number): void;
  lineLevel(line: number): number;
  messageCount(): number;
  messageAddress(i: number): bigint;
  messageData(i: number): number;
}

// 00:04.0: 32-bit, masking, 8 vectors, INTA# on GSI 16; 00:05.0: MSI-X,
// then 64-bit MSI, one vector, INTA# on GSI 17.
const NARROW = 4, WIDE = 5, NARROW_LINE = 16, WIDE_LINE = 17;
const COMMAND = 0x04, STATUS = 0x06, CAPABILITIES = 0x34;
const BUS_MASTER = 4, STATUS_INTERRUPT = 8, STATUS_CAPABILITIES = 0x10;
const MSI_CAP = 0x05, MSIX_CAP = 0x11;
const ENABLE = 1, MULTIPLE_ENABLE = (m: number) => m << 4, MSIX_ENABLE = 0x8000;

let e: Exports<MsiExports>;
beforeEach(async () => {
  e = (await load<MsiExports>("msi.ts")).exports;
});

const read = (dev: number, reg: number, size = 4) => {
  e.ioWrite(0xcf8, 4, (0x8000_0000 | (dev << 11) | (reg & ~3)) >>> 0);
  return e.ioRead(0xcfc + (reg & 3), size) >>> 0;
};
const write = (dev: number, reg: number, size: number, value: number) => {
  e.ioWrite(0xcf8, 4, (0x8000_0000 | (dev << 11) | (reg & ~3)) >>> 0);
  e.ioWrite(0xcfc + (reg & 3), size, value);
};
// The capability list as a driver walks it: [offset, ID] from the pointer at 34h.
const capabilities = (dev: number) => {
  const list: Array<[number, number]> = [];
  for (let at = read(dev, CAPABILITIES, 1); at !== 0 && list.length < 48; at = read(dev, at + 1, 1) & ~3) {
    list.push([at, read(dev, at, 1)]);
  }
  return list;
};
const msiAt = (dev: number) => capabilities(dev).find(([, id]) => id === MSI_CAP)![0];
const messages = () =>
  Array.from({ length: e.messageCount() }, (_, i) => [e.messageAddress(i), e.messageData(i)] as [bigint, number]);

// The narrow function's registers: address at 4, data at 8, mask at 0Ch, pending at 10h.
const N = { control: 0x42, address: 0x44, data: 0x48, mask: 0x4c, pending: 0x50 };
// The wide one's, after MSI-X's 12 bytes at 40h: address at 4, upper at 8, data at 0Ch.
const W = { control: 0x4e, address: 0x50, upper: 0x54, data: 0x58 };

describe("the MSI capability (6.8.1)", () => {
  it("is found by walking the capability list, after MSI-X where a function has both", () => {
    expect(read(NARROW, STATUS, 2) & STATUS_CAPABILITIES).toBe(STATUS_CAPABILITIES);
    expect(capabilities(NARROW)).toEqual([[0x40, MSI_CAP]]);
    expect(capabilities(WIDE)).toEqual([[0x40, MSIX_CAP], [0x4c, MSI_CAP]]);
    expect(msiAt(WIDE)).toBe(W.control - 2);
  });

  it("says what the function can do in message control, disabled and one vector granted", () => {
    // 8 vectors asked (Multiple Message Capable 011b), per-vector masking, 32-bit.
    expect(read(NARROW, N.control, 2)).toBe(0x0106);
    // 1 vector, 64-bit, no masking.
    expect(read(WIDE, W.control, 2)).toBe(0x0080);
    // Only MSI Enable and Multiple Message Enable are the driver's.
    write(NARROW, N.control, 2, 0xffff);
    expect(read(NARROW, N.control, 2)).toBe(0x0177);
  });

  it("in 32 bits: address, 16-bit data, then mask bits for the vectors it has and read-only pending bits", () => {
    write(NARROW, N.address, 4, 0xffff_ffff);
    expect(read(NARROW, N.address)).toBe(0xffff_fffc); // dword aligned
    write(NARROW, N.data, 4, 0xffff_ffff);
    expect(read(NARROW, N.data)).toBe(0x0000_ffff); // the upper half is reserved
    write(NARROW, N.mask, 4, 0xffff_ffff);
    expect(read(NARROW, N.mask)).toBe(0xff); // 8 vectors
    write(NARROW, N.pending, 4, 0xffff_ffff);
    expect(read(NARROW, N.pending)).toBe(0);
    expect(read(NARROW, N.pending + 4)).toBe(0); // past the capability
  });

  it("in 64 bits: address, upper address, 16-bit data, and nothing after without masking", () => {
    write(WIDE, W.upper, 4, 0xffff_ffff);
    expect(read(WIDE, W.upper)).toBe(0xffff_ffff);
    write(WIDE, W.data, 4, 0xffff_ffff);
    expect(read(WIDE, W.data)).toBe(0x0000_ffff);
    write(WIDE, W.data + 4, 4, 0xffff_ffff);
    expect(read(WIDE, W.data + 4)).toBe(0);
  });
});

describe("MSI messages", () => {
  const program = (dev: number, address: number, data: number, upper = 0) => {
    const r = dev === NARROW ? N : W;
    write(dev, r.address, 4, address);
    if (dev === WIDE) write(dev, W.upper, 4, upper);
    write(dev, r.data, 2, data);
  };
  beforeEach(() => {
    write(NARROW, COMMAND, 2, BUS_MASTER);
    write(WIDE, COMMAND, 2, BUS_MASTER);
  });

  it("sends nothing while disabled, then the driver's address and data", () => {
    program(NARROW, 0xfee0_1000, 0x4031);
    e.raise(0, 0);
    expect(messages()).toEqual([]);
    write(NARROW, N.control, 2, ENABLE);
    e.raise(0, 0);
    expect(messages()).toEqual([[0xfee0_1000n, 0x4031]]);
  });

  it("sends to the upper address too in the 64-bit layout", () => {
    program(WIDE, 0x2000_0000, 0x77, 0x1);
    write(WIDE, W.control, 2, ENABLE);
    e.raise(1, 0);
    expect(messages()).toEqual([[0x1_2000_0000n, 0x77]]);
  });

  it("picks vector v of 2^m granted ones by the data's m low bits, and raises none beyond them", () => {
    program(NARROW, 0xfee0_0000, 0x4043);
    write(NARROW, N.control, 2, ENABLE | MULTIPLE_ENABLE(2)); // 4 vectors
    for (const v of [0, 2, 3, 4, 7]) e.raise(0, v);
    expect(messages().map(([, data]) => data)).toEqual([0x4040, 0x4042, 0x4043]);
    // A grant above what the function asked for counts as what it asked for: 8.
    write(NARROW, N.control, 2, ENABLE | MULTIPLE_ENABLE(5));
    e.raise(0, 7);
    e.raise(0, 8);
    expect(messages().slice(3).map(([, data]) => data)).toEqual([0x4047]);
  });

  it("holds a masked vector in its pending bit and sends it when unmasked", () => {
    program(NARROW, 0xfee0_0000, 0x50);
    write(NARROW, N.control, 2, ENABLE | MULTIPLE_ENABLE(3));
    write(NARROW, N.mask, 4, 0b0110);
    e.raise(0, 1);
    e.raise(0, 2);
    e.raise(0, 3);
    expect(messages().map(([, data]) => data)).toEqual([0x53]);
    expect(read(NARROW, N.pending)).toBe(0b0110);
    write(NARROW, N.mask, 4, 0b0100);
    expect(messages().map(([, data]) => data)).toEqual([0x53, 0x51]);
    expect(read(NARROW, N.pending)).toBe(0b0100);
    write(NARROW, N.mask, 4, 0);
    expect(messages().map(([, data]) => data)).toEqual([0x53, 0x51, 0x52]);
    expect(read(NARROW, N.pending)).toBe(0);
  });

  it("sends nothing without Bus Master Enable, and what waited once it is set", () => {
    program(NARROW, 0xfee0_0000, 0x60);
    write(NARROW, N.control, 2, ENABLE);
    write(NARROW, COMMAND, 2, 0);
    e.raise(0, 0);
    expect(messages()).toEqual([]);
    expect(read(NARROW, N.pending)).toBe(1);
    write(NARROW, COMMAND, 2, BUS_MASTER);
    expect(messages()).toEqual([[0xfee0_0000n, 0x60]]);
    // The same without per-vector masking: held where the driver cannot see it.
    program(WIDE, 0xfee0_0000, 0x61);
    write(WIDE, W.control, 2, ENABLE);
    write(WIDE, COMMAND, 2, 0);
    e.raise(1, 0);
    expect(messages()).toHaveLength(1);
    write(WIDE, COMMAND, 2, BUS_MASTER);
    expect(messages()[1]).toEqual([0xfee0_0000n, 0x61]);
  });
});

describe("INTx# while messages are enabled (6.8.1.3, 6.8.2.3)", () => {
  it("lets go of the pin while MSI is enabled, the status bit staying, and drives it again after", () => {
    e.raiseIntx(0, 1);
    expect(e.lineLevel(NARROW_LINE)).toBe(0);
    write(NARROW, N.control, 2, ENABLE);
    expect(e.lineLevel(NARROW_LINE)).toBe(1);
    expect(read(NARROW, STATUS, 2) & STATUS_INTERRUPT).toBe(STATUS_INTERRUPT);
    e.raiseIntx(0, 1);
    expect(e.lineLevel(NARROW_LINE)).toBe(1);
    write(NARROW, N.control, 2, 0);
    expect(e.lineLevel(NARROW_LINE)).toBe(0);
  });

  it("does the same while MSI-X is enabled", () => {
    e.raiseIntx(1, 1);
    expect(e.lineLevel(WIDE_LINE)).toBe(0);
    write(WIDE, 0x42, 2, MSIX_ENABLE);
    expect(e.lineLevel(WIDE_LINE)).toBe(1);
    write(WIDE, 0x42, 2, 0);
    expect(e.lineLevel(WIDE_LINE)).toBe(0);
  });
});
