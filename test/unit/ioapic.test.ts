// The I/O APIC model (vmm/devices/apic/ioapic.ts), driven through its MMIO page as
// a guest drives it and through its input pins as devices will. as/ioapic.ts
// holds one I/O APIC (reset ID 2) whose sink records every message as
// "destination physical|logical mode vector edge|level"; each test loads a
// fresh one. Register and field names are those of the 82093AA datasheet;
// the EOI register is that of the ICH's version-20h I/O APIC.
import { beforeEach, describe, expect, it } from "vitest";
import { load, type Exports } from "./harness";

interface IoApicExports {
  read(offset: bigint, size: number): bigint;
  write(offset: bigint, size: number, value: bigint): number;
  setLevel(pin: number, high: number): void;
  pulse(pin: number): void;
  endOfInterrupt(vector: number): void;
  reset(): void;
  messageCount(): number;
  message(n: number): number;
}

let e: Exports<IoApicExports>;
beforeEach(async () => {
  e = (await load<IoApicExports>("ioapic.ts")).exports;
});

const IOREGSEL = 0x00n, IOWIN = 0x10n, EOI = 0x40n;
const ID = 0x00, VER = 0x01, ARB = 0x02;
const low = (pin: number) => 0x10 + 2 * pin;
const high = (pin: number) => 0x11 + 2 * pin;

// Redirection entry fields.
const FIXED = 0 << 8, LOWEST = 1 << 8, SMI = 2 << 8, NMI = 4 << 8, INIT = 5 << 8, EXTINT = 7 << 8;
const LOGICAL = 1 << 11, DELIVERY_STATUS = 1 << 12, ACTIVE_LOW = 1 << 13, REMOTE_IRR = 1 << 14;
const LEVEL = 1 << 15, MASKED = 1 << 16;

const select = (index: number) => e.write(IOREGSEL, 4, BigInt(index));
const rd = (index: number) => {
  select(index);
  return Number(e.read(IOWIN, 4));
};
const wr = (index: number, value: number) => {
  select(index);
  e.write(IOWIN, 4, BigInt(value >>> 0));
};
// Programs pin's entry: the low dword `entry`, destination `destination`.
const route = (pin: number, entry: number, destination = 0) => {
  wr(high(pin), destination << 24);
  wr(low(pin), entry);
};
const set = (pin: number, level: boolean) => e.setLevel(pin, level ? 1 : 0);
const eoi = (vector: number) => e.write(EOI, 4, BigInt(vector));
const messages = () => Array.from({ length: e.messageCount() }, (_, n) => e.__getString(e.message(n) >>> 0));
const remoteIrr = (pin: number) => (rd(low(pin)) & REMOTE_IRR) != 0;

describe("registers through IOREGSEL and IOWIN", () => {
  it("answers on the MMIO address space at FEC00000h, 4 KiB wide", () => {
    expect(e.read(0x1000n, 4)).toBe(0xffff_ffffn); // past the page: nobody's
    expect(e.write(0xffcn, 4, 0n)).toBe(1);
  });

  it("IOREGSEL keeps an 8-bit index and reads it back", () => {
    select(0x1234_5621);
    expect(e.read(IOREGSEL, 4)).toBe(0x21n);
  });

  it("version 20h with 24 entries; ID and ARB read the reset ID in bits 27:24", () => {
    expect(rd(VER)).toBe(0x0017_0020);
    expect(rd(ID)).toBe(0x0200_0000);
    expect(rd(ARB)).toBe(0x0200_0000);
  });

  it("only ID bits 27:24 are writable; ARB follows the ID; VER and ARB ignore writes", () => {
    wr(ID, 0xffff_ffff);
    expect(rd(ID)).toBe(0x0f00_0000);
    expect(rd(ARB)).toBe(0x0f00_0000);
    wr(ID, 0x0500_0000);
    wr(ARB, 0x0900_0000);
    wr(VER, 0);
    expect(rd(ID)).toBe(0x0500_0000);
    expect(rd(ARB)).toBe(0x0500_0000);
    expect(rd(VER)).toBe(0x0017_0020);
  });

  it("an entry keeps vector, delivery mode, destination mode, polarity, trigger, mask and destination", () => {
    wr(low(5), 0xffff_ffff);
    wr(high(5), 0xffff_ffff);
    expect(rd(low(5)) >>> 0).toBe(0x0001_afff); // not 12 (delivery status), 14 (Remote IRR), 31:17
    expect(rd(high(5)) >>> 0).toBe(0xff00_0000); // destination only
    wr(low(23), 0x0001_a931); // masked: active low with the wire low would send
    wr(high(23), 0x0300_0000);
    expect(rd(low(23))).toBe(0x0001_a931);
    expect(rd(high(23))).toBe(0x0300_0000);
    expect(rd(low(22))).toBe(MASKED); // neighbours untouched
    expect(rd(high(22))).toBe(0);
  });

  it("delivery status and Remote IRR cannot be written", () => {
    wr(low(3), DELIVERY_STATUS | REMOTE_IRR | LEVEL | 0x40);
    expect(rd(low(3))).toBe(LEVEL | 0x40);
  });

  it("indices with no register read 0 and ignore writes", () => {
    for (const index of [0x03, 0x0f, 0x40, 0x41, 0xff]) {
      wr(index, 0xffff_ffff);
      expect(rd(index)).toBe(0);
    }
    for (let pin = 0; pin < 24; pin++) expect([rd(low(pin)), rd(high(pin))]).toEqual([MASKED, 0]);
    expect(rd(ID)).toBe(0x0200_0000);
  });

  it("other sizes and offsets read 0 and ignore writes", () => {
    select(VER);
    expect(e.read(IOWIN, 1)).toBe(0n);
    expect(e.read(IOWIN, 2)).toBe(0n);
    expect(e.read(IOWIN + 4n, 4)).toBe(0n);
    expect(e.read(0x20n, 4)).toBe(0n);
    expect(e.read(EOI, 4)).toBe(0n); // the EOI register is write-only
    e.write(IOREGSEL, 1, BigInt(ID));
    expect(e.read(IOREGSEL, 4)).toBe(BigInt(VER));
    select(ID);
    e.write(IOWIN, 2, 0x0700_0000n);
    e.write(IOWIN, 8, 0x0700_0000n);
    e.write(IOWIN + 4n, 4, 0x0700_0000n);
    expect(rd(ID)).toBe(0x0200_0000);
  });
});

describe("reset", () => {
  it("powers up with every entry masked, IOREGSEL 0 and the reset ID", () => {
    expect(e.read(IOREGSEL, 4)).toBe(0n);
    expect(e.read(IOWIN, 4)).toBe(0x0200_0000n);
    for (let pin = 0; pin < 24; pin++) expect([rd(low(pin)), rd(high(pin))]).toEqual([MASKED, 0]);
  });

  it("reset() restores that state, Remote IRR included, and sends nothing", () => {
    wr(ID, 0x0800_0000);
    route(4, LEVEL | 0x44, 1);
    set(4, true);
    expect(remoteIrr(4)).toBe(true);
    e.reset();
    expect(e.read(IOREGSEL, 4)).toBe(0n);
    expect(rd(ID)).toBe(0x0200_0000);
    expect([rd(low(4)), rd(high(4))]).toEqual([MASKED, 0]);
    expect(messages()).toEqual(["1 physical 0 68 level"]);
  });

  it("the pins keep their levels across a reset: an asserted level pin sends once unmasked", () => {
    route(4, LEVEL | 0x44);
    set(4, true);
    e.reset();
    route(4, LEVEL | 0x45);
    expect(messages()).toEqual(["0 physical 0 68 level", "0 physical 0 69 level"]);
  });
});

describe("edge-triggered pins", () => {
  it("a rising edge sends one message; staying high and falling send none", () => {
    route(1, FIXED | 0x31, 3);
    set(1, true);
    set(1, true);
    set(1, false);
    expect(messages()).toEqual(["3 physical 0 49 edge"]);
    e.pulse(1);
    expect(messages()).toEqual(["3 physical 0 49 edge", "3 physical 0 49 edge"]);
  });

  it("a masked edge is lost, not held until the unmask", () => {
    route(1, MASKED | 0x31);
    e.pulse(1);
    set(1, true);
    route(1, 0x31);
    expect(messages()).toEqual([]);
    set(1, false);
    set(1, true);
    expect(messages()).toEqual(["0 physical 0 49 edge"]);
  });

  it("edge messages neither set Remote IRR nor wait for an EOI", () => {
    route(2, 0x32);
    e.pulse(2);
    expect(remoteIrr(2)).toBe(false);
    e.pulse(2);
    expect(messages()).toHaveLength(2);
  });

  it("active low: the falling edge is the one that sends", () => {
    route(6, ACTIVE_LOW | 0x36);
    set(6, true);
    expect(messages()).toEqual([]);
    set(6, false);
    expect(messages()).toEqual(["0 physical 0 54 edge"]);
  });

  it("pins past 23 are not there", () => {
    for (let pin = 0; pin < 24; pin++) route(pin, 0x40 + pin);
    e.pulse(24);
    e.pulse(255);
    expect(messages()).toEqual([]);
    e.pulse(23);
    expect(messages()).toEqual(["0 physical 0 87 edge"]);
  });
});

describe("level-triggered pins, Remote IRR and EOI", () => {
  it("an asserted pin sends once and sets Remote IRR until the EOI", () => {
    route(10, LEVEL | 0x5a, 1);
    set(10, true);
    expect(remoteIrr(10)).toBe(true);
    set(10, false);
    set(10, true);
    expect(messages()).toEqual(["1 physical 0 90 level"]);
  });

  // The guest's write to the EOI register, and the VMM's call when a local APIC ends a level-triggered vector.
  const eoiPaths: [string, (vector: number) => void][] = [
    ["the EOI register", (vector) => eoi(vector)],
    ["endOfInterrupt()", (vector) => e.endOfInterrupt(vector)],
  ];
  it.each(eoiPaths)("%s clears Remote IRR; a pin still asserted sends again", (_, end) => {
    route(10, LEVEL | 0x5a);
    set(10, true);
    end(0x5a);
    expect(messages()).toEqual(["0 physical 0 90 level", "0 physical 0 90 level"]);
    expect(remoteIrr(10)).toBe(true);
    set(10, false);
    end(0x5a);
    expect(remoteIrr(10)).toBe(false);
    expect(messages()).toHaveLength(2);
    set(10, true);
    expect(messages()).toHaveLength(3);
  });

  it("an EOI for another vector leaves Remote IRR set; one vector ends every entry it is on", () => {
    route(12, LEVEL | 0x60);
    route(13, LEVEL | 0x60);
    route(14, LEVEL | 0x61);
    set(12, true);
    set(13, true);
    set(14, true);
    for (const pin of [12, 13]) set(pin, false);
    eoi(0x62);
    expect([remoteIrr(12), remoteIrr(13), remoteIrr(14)]).toEqual([true, true, true]);
    eoi(0x160); // only bits 7:0 are the vector
    expect([remoteIrr(12), remoteIrr(13), remoteIrr(14)]).toEqual([false, false, true]);
    expect(messages()).toHaveLength(3);
  });

  it("a masked asserted pin waits; the unmask sends it", () => {
    route(15, MASKED | LEVEL | 0x70);
    set(15, true);
    expect(messages()).toEqual([]);
    route(15, LEVEL | 0x70);
    expect(messages()).toEqual(["0 physical 0 112 level"]);
  });

  it("a pin that drops before the unmask sends nothing", () => {
    route(15, MASKED | LEVEL | 0x70);
    set(15, true);
    set(15, false);
    route(15, LEVEL | 0x70);
    expect(messages()).toEqual([]);
  });

  it("an EOI on a masked entry clears Remote IRR and sends nothing until the unmask", () => {
    route(16, LEVEL | 0x71);
    set(16, true);
    route(16, MASKED | LEVEL | 0x71);
    expect(remoteIrr(16)).toBe(true); // masking keeps it
    eoi(0x71);
    expect(remoteIrr(16)).toBe(false);
    expect(messages()).toHaveLength(1);
    route(16, LEVEL | 0x71);
    expect(messages()).toHaveLength(2);
  });

  it("unmasking while Remote IRR is set waits for the EOI", () => {
    route(16, LEVEL | 0x71);
    set(16, true);
    route(16, MASKED | LEVEL | 0x71);
    route(16, LEVEL | 0x71);
    expect(messages()).toHaveLength(1);
    eoi(0x71);
    expect(messages()).toHaveLength(2);
  });

  it("active low: asserted while the wire is low", () => {
    route(17, MASKED | ACTIVE_LOW | LEVEL | 0x72);
    route(17, ACTIVE_LOW | LEVEL | 0x72); // wire low from the start: asserted
    expect(messages()).toHaveLength(1);
    set(17, true);
    eoi(0x72);
    expect(messages()).toHaveLength(1);
    set(17, false);
    expect(messages()).toHaveLength(2);
  });

  it("writing the entry as edge-triggered clears Remote IRR (the pre-20h way to end it)", () => {
    route(18, LEVEL | 0x73);
    set(18, true);
    route(18, MASKED | 0x73);
    expect(remoteIrr(18)).toBe(false);
    route(18, MASKED | LEVEL | 0x73);
    route(18, LEVEL | 0x73);
    expect(messages()).toEqual(["0 physical 0 115 level", "0 physical 0 115 level"]);
  });
});

describe("what reaches the sink", () => {
  it("physical and logical destinations, bits 63:56", () => {
    route(0, 0x30, 0x0f);
    route(1, LOGICAL | 0x31, 0xa5);
    route(2, LOGICAL | 0x32, 0xff);
    for (const pin of [0, 1, 2]) e.pulse(pin);
    expect(messages()).toEqual(["15 physical 0 48 edge", "165 logical 0 49 edge", "255 logical 0 50 edge"]);
  });

  it("each delivery mode; lowest priority may be level-triggered", () => {
    route(0, FIXED | 0x40, 1);
    route(1, LOWEST | LEVEL | 0x41, 1);
    route(2, SMI, 1);
    route(3, NMI | 0x43, 1);
    route(4, INIT, 1);
    route(5, EXTINT | LOGICAL, 1);
    for (const pin of [0, 1, 2, 3, 4, 5]) set(pin, true);
    expect(messages()).toEqual([
      "1 physical 0 64 edge",
      "1 physical 1 65 level",
      "1 physical 2 0 edge",
      "1 physical 4 67 edge",
      "1 physical 5 0 edge",
      "1 logical 7 0 edge",
    ]);
  });

  it("SMI, NMI, INIT and ExtINT are edge-triggered even when the entry says level", () => {
    route(0, SMI | LEVEL, 0);
    route(1, NMI | LEVEL, 0);
    route(2, INIT | LEVEL, 0);
    route(3, EXTINT | LEVEL, 0);
    for (const pin of [0, 1, 2, 3]) set(pin, true);
    for (const pin of [0, 1, 2, 3]) expect(remoteIrr(pin)).toBe(false);
    for (const pin of [0, 1, 2, 3]) {
      set(pin, false);
      set(pin, true);
    }
    expect(messages()).toEqual([
      "0 physical 2 0 edge",
      "0 physical 4 0 edge",
      "0 physical 5 0 edge",
      "0 physical 7 0 edge",
      "0 physical 2 0 edge",
      "0 physical 4 0 edge",
      "0 physical 5 0 edge",
      "0 physical 7 0 edge",
    ]);
  });

  it("the reserved delivery modes 3 and 6 send nothing", () => {
    route(0, (3 << 8) | 0x40);
    route(1, (6 << 8) | LEVEL | 0x41);
    set(0, true);
    set(1, true);
    expect(messages()).toEqual([]);
    expect(remoteIrr(1)).toBe(false);
  });

  it("a destination change applies to the next message", () => {
    route(9, LEVEL | 0x59, 2);
    set(9, true);
    wr(high(9), 0x0300_0000);
    eoi(0x59);
    expect(messages()).toEqual(["2 physical 0 89 level", "3 physical 0 89 level"]);
  });
});
