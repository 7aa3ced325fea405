// The HPET model (vmm/devices/timers/hpet.ts, hpettimer.ts), driven through its
// registers as a guest drives them and given time in nanoseconds as the VMM
// gives it, its interrupts recorded on the ISA lines and the I/O APIC
// inputs (as/hpet.ts); and on the TSC through PcInterrupts, which says when
// its next interrupt is due. Register and field names are those of the
// IA-PC HPET Specification 1.0a.
import { beforeEach, describe, expect, it } from "vitest";
import { load, type Exports } from "./harness";

interface HpetExports {
  read(offset: bigint, size: number): bigint;
  write(offset: bigint, size: number, value: bigint): number;
  advance(ns: bigint): void;
  nsUntilInterrupt(): bigint;
  isaRises(line: number): number;
  isaLevel(line: number): number;
  ioapicRises(pin: number): number;
  ioapicLevel(pin: number): number;
  deviceLevel(line: number, high: number): void;
  pitWrite(offset: number, value: number): void;
  tscCatchUp(nowTsc: bigint, tscPerMs: bigint): void;
  tscHpetAt(tscPerMs: bigint): bigint;
  tscNextEventAt(tscPerMs: bigint): bigint;
}

let e: Exports<HpetExports>;
beforeEach(async () => {
  e = (await load<HpetExports>("hpet.ts")).exports;
});

const CAPABILITIES = 0x000n, CONFIGURATION = 0x010n, STATUS = 0x020n, COUNTER = 0x0f0n;
const config = (n: number) => 0x100n + 0x20n * BigInt(n);
const comparator = (n: number) => 0x108n + 0x20n * BigInt(n);
const ENABLE_CNF = 1n, LEG_RT_CNF = 2n;
const LEVEL = 1n << 1n, INT_ENB = 1n << 2n, PERIODIC = 1n << 3n, PER_INT_CAP = 1n << 4n, SIZE_CAP = 1n << 5n;
const VAL_SET = 1n << 6n, MODE_32 = 1n << 8n;
const route = (input: number) => BigInt(input) << 9n;
const ALL_ONES = 0xffff_ffff_ffff_ffffn;
const TICK_NS = 100n; // 10 MHz

const rd = (offset: bigint, size = 8) => e.read(offset, size);
const wr = (offset: bigint, value: bigint, size = 8) => {
  e.write(offset, size, value);
};
const ticks = (n: bigint) => e.advance(n * TICK_NS);
const enable = (extra = 0n) => wr(CONFIGURATION, ENABLE_CNF | extra);

describe("registers after reset", () => {
  it("announce a 64-bit, legacy-route capable Intel block of three timers at 10 MHz", () => {
    // REV_ID 1, NUM_TIM_CAP 2, COUNT_SIZE_CAP, LEG_RT_CAP, VENDOR_ID 8086h; 100,000,000 fs.
    expect(rd(CAPABILITIES)).toBe(0x05f5_e100_8086_a201n);
    expect(rd(CAPABILITIES, 4)).toBe(0x8086_a201n);
    expect(rd(CAPABILITIES + 4n, 4)).toBe(0x05f5_e100n);
    wr(CAPABILITIES, 0n);
    expect(rd(CAPABILITIES)).toBe(0x05f5_e100_8086_a201n);
    expect([rd(CONFIGURATION), rd(STATUS), rd(COUNTER)]).toEqual([0n, 0n, 0n]);
  });

  it(
    "have every timer off, edge, one-shot, 64-bit, periodic-capable, routable to inputs 20-23, its "
      + "comparator all ones",
    () => {
      for (let n = 0; n < 3; n++) {
        expect(rd(config(n))).toBe((0x00f0_0000n << 32n) | SIZE_CAP | PER_INT_CAP);
        expect(rd(comparator(n))).toBe(ALL_ONES);
      }
    },
  );

  it("read reserved registers, the FSB route, absent timers and odd accesses as 0, and ignore writes there", () => {
    for (const offset of [0x008n, 0x018n, 0x028n, 0x0e8n, 0x0f8n, 0x110n, 0x118n, 0x160n, 0x168n, 0x3f8n]) {
      wr(offset, ALL_ONES);
      expect(rd(offset)).toBe(0n);
    }
    expect(e.read(CAPABILITIES, 2)).toBe(0n); // 8- and 16-bit accesses are not defined
    expect(e.read(CAPABILITIES + 4n, 8)).toBe(0n); // nor a 64-bit one across two registers
    wr(CONFIGURATION, ENABLE_CNF, 2);
    wr(CONFIGURATION + 2n, ENABLE_CNF, 4);
    expect(rd(CONFIGURATION)).toBe(0n);
    expect(e.read(0x400n, 4)).toBe(0xffff_ffffn); // past the 1 KiB block: nobody's
  });
});

describe("the main counter", () => {
  it("runs only while ENABLE_CNF is set, at exactly 10 MHz however time is sliced", () => {
    e.advance(1_000_000n);
    expect(rd(COUNTER)).toBe(0n);
    enable();
    e.advance(1_000_000_000n);
    expect(rd(COUNTER)).toBe(10_000_000n);
    for (let i = 0; i < 7; i++) e.advance(30n); // 210 ns: two whole ticks
    expect(rd(COUNTER)).toBe(10_000_002n);
    wr(CONFIGURATION, 0n);
    e.advance(1_000_000n);
    expect(rd(COUNTER)).toBe(10_000_002n);
  });

  it("is written only while halted, whole or by halves", () => {
    wr(COUNTER, 0x1234_5678_9abc_def0n);
    expect(rd(COUNTER)).toBe(0x1234_5678_9abc_def0n);
    wr(COUNTER + 4n, 0xffff_ffffn, 4);
    expect(rd(COUNTER)).toBe(0xffff_ffff_9abc_def0n);
    expect(rd(COUNTER + 4n, 4)).toBe(0xffff_ffffn);
    wr(COUNTER, 5n, 4);
    expect(rd(COUNTER)).toBe(0xffff_ffff_0000_0005n);
    enable();
    wr(COUNTER, 0n);
    wr(COUNTER, 0n, 4);
    ticks(10n);
    expect(rd(COUNTER)).toBe(0xffff_ffff_0000_000fn);
  });
});

describe("a comparator match", () => {
  it(
    "on an edge-triggered timer sends one edge on its I/O APIC input when the counter reaches the "
      + "comparator, and no status",
    () => {
      wr(config(0), INT_ENB | route(20));
      wr(comparator(0), 1000n);
      enable();
      ticks(999n);
      expect(e.ioapicRises(20)).toBe(0);
      ticks(1n);
      expect(e.ioapicRises(20)).toBe(1);
      expect(e.ioapicLevel(20)).toBe(0);
      expect(rd(STATUS)).toBe(0n);
      // One-shot: the comparator stays, and 64 bits do not wrap in a lifetime.
      ticks(1_000_000n);
      expect(e.ioapicRises(20)).toBe(1);
      expect(rd(comparator(0))).toBe(1000n);
      expect(e.nsUntilInterrupt()).toBe(ALL_ONES);
    },
  );

  it("that the counter has passed before the comparator was written comes only when it gets there again", () => {
    enable();
    ticks(500n);
    wr(config(0), INT_ENB | MODE_32 | route(20));
    wr(comparator(0), 400n);
    expect(e.nsUntilInterrupt()).toBe(((1n << 32n) - 100n) * TICK_NS);
    ticks(1000n);
    expect(e.ioapicRises(20)).toBe(0);
  });

  it("on a level-triggered timer sets its status bit and holds the line until 1 is written to the bit", () => {
    wr(config(1), LEVEL | INT_ENB | route(21));
    wr(comparator(1), 10n);
    enable();
    ticks(10n);
    expect(rd(STATUS)).toBe(0b10n);
    expect(e.ioapicLevel(21)).toBe(1);
    wr(STATUS, 0b01n); // another timer's bit, and 0 for this one: no effect
    expect(rd(STATUS)).toBe(0b10n);
    expect(e.ioapicLevel(21)).toBe(1);
    wr(STATUS, 0b10n);
    expect(rd(STATUS)).toBe(0n);
    expect(e.ioapicLevel(21)).toBe(0);
    expect(e.ioapicRises(21)).toBe(1);
  });

  it("sets the status bit without Tn_INT_ENB_CNF but interrupts only once it is set; ENABLE_CNF gates the line", () => {
    wr(config(2), LEVEL | route(22));
    wr(comparator(2), 10n);
    enable();
    ticks(10n);
    expect(rd(STATUS)).toBe(0b100n);
    expect(e.ioapicRises(22)).toBe(0);
    expect(e.nsUntilInterrupt()).toBe(ALL_ONES); // nothing more that would interrupt
    wr(config(2), LEVEL | INT_ENB | route(22));
    expect(e.ioapicLevel(22)).toBe(1);
    wr(CONFIGURATION, 0n);
    expect(e.ioapicLevel(22)).toBe(0);
    expect(rd(STATUS)).toBe(0b100n);
    enable();
    expect(e.ioapicLevel(22)).toBe(1);
    expect(e.ioapicRises(22)).toBe(2);
  });

  it("goes nowhere through a route the capability does not list; such a route is not taken", () => {
    wr(config(0), INT_ENB); // the reset route, input 0, is not among 20-23
    wr(comparator(0), 5n);
    enable();
    ticks(5n);
    for (let pin = 0; pin < 32; pin++) expect(e.ioapicRises(pin)).toBe(0);
    wr(config(0), INT_ENB | route(23));
    wr(config(0), INT_ENB | route(2));
    expect(rd(config(0)) & route(31)).toBe(route(23));
  });

  it("of level-triggered timers sharing an input holds it while either is asserted", () => {
    wr(config(0), LEVEL | INT_ENB | route(20));
    wr(config(1), LEVEL | INT_ENB | route(20));
    wr(comparator(0), 10n);
    wr(comparator(1), 20n);
    enable();
    ticks(20n);
    expect(rd(STATUS)).toBe(0b11n);
    wr(STATUS, 0b01n);
    expect(e.ioapicLevel(20)).toBe(1);
    wr(STATUS, 0b10n);
    expect(e.ioapicLevel(20)).toBe(0);
    expect(e.ioapicRises(20)).toBe(1);
  });
});

describe("periodic mode", () => {
  it(
    "sets the accumulator with Tn_VAL_SET_CNF and the period with later writes, and adds the period "
      + "at each match",
    () => {
      // As Linux starts a periodic tick: the first match, then the period.
      wr(config(0), PERIODIC | VAL_SET | INT_ENB | route(20));
      expect(rd(config(0)) & VAL_SET).toBe(VAL_SET);
      wr(comparator(0), 1000n);
      expect(rd(config(0)) & VAL_SET).toBe(0n); // cleared by the write it enabled
      wr(comparator(0), 500n);
      expect(rd(comparator(0))).toBe(1000n);
      enable();
      ticks(1000n);
      expect(e.ioapicRises(20)).toBe(1);
      expect(rd(comparator(0))).toBe(1500n);
      ticks(500n);
      expect(e.ioapicRises(20)).toBe(2);
      expect(rd(comparator(0))).toBe(2000n);
      // Five periods in one step (matches at 2000 ... 4000) make one edge,
      // and the accumulator is past the counter by less than a period.
      ticks(2499n);
      expect(e.ioapicRises(20)).toBe(3);
      expect(rd(COUNTER)).toBe(3999n);
      expect(rd(comparator(0))).toBe(4000n);
      ticks(1n);
      expect(e.ioapicRises(20)).toBe(4);
      expect(e.nsUntilInterrupt()).toBe(500n * TICK_NS);
    },
  );

  it("wraps a 32-bit comparator through 0 (the specification's FFFF0000h + 20000h)", () => {
    wr(config(0), PERIODIC | VAL_SET | INT_ENB | MODE_32 | route(20));
    wr(comparator(0), 0xffff_0000n);
    wr(comparator(0), 0x2_0000n);
    wr(COUNTER, 0x7_ffff_0000n - 1n);
    enable();
    ticks(1n);
    expect(e.ioapicRises(20)).toBe(1);
    expect(rd(comparator(0))).toBe(0x0001_0000n);
    ticks(0x2_0000n);
    expect(e.ioapicRises(20)).toBe(2);
  });
});

describe("32-bit mode", () => {
  it("cuts the comparator to 32 bits and compares it with the counter's low 32 bits", () => {
    wr(config(0), INT_ENB | MODE_32 | route(20));
    expect(rd(comparator(0))).toBe(0xffff_ffffn);
    wr(comparator(0), 0xabcd_0000_0000_0010n);
    expect(rd(comparator(0))).toBe(0x10n);
    wr(comparator(0) + 4n, 0xffff_ffffn, 4);
    expect(rd(comparator(0))).toBe(0x10n);
    wr(config(1), INT_ENB | route(21)); // 64-bit, the same low 32 bits
    wr(comparator(1), 0x10n);
    wr(COUNTER, 0x1_ffff_fff0n);
    enable();
    ticks(0x1fn);
    expect(e.ioapicRises(20)).toBe(0);
    ticks(1n);
    expect(e.ioapicRises(20)).toBe(1);
    expect(e.ioapicRises(21)).toBe(0);
  });
});

describe("legacy replacement", () => {
  // Linux's init of counter 0: mode 2, a 1 ms period.
  const startPit = () => {
    e.pitWrite(3, 0x34);
    e.pitWrite(0, 1193 & 0xff);
    e.pitWrite(0, 1193 >> 8);
  };
  const GHZ = 1_000_000n;

  it("routes timer 0 to IRQ 0 and timer 1 to IRQ 8 whatever their routes say; timer 2 keeps its own", () => {
    for (let n = 0; n < 3; n++) {
      wr(config(n), INT_ENB | route(20 + n));
      wr(comparator(n), 10n);
    }
    enable(LEG_RT_CNF);
    ticks(10n);
    expect([e.isaRises(0), e.isaRises(8), e.ioapicRises(20), e.ioapicRises(21), e.ioapicRises(22)]).toEqual([
      1,
      1,
      0,
      0,
      1,
    ]);
  });

  it("blocks the PIT's IRQ 0 and the RTC's IRQ 8 while on, and passes them again once off", () => {
    e.tscCatchUp(1_000_000n, GHZ);
    startPit();
    e.tscCatchUp(2_000_000n, GHZ);
    e.tscCatchUp(3_000_000n, GHZ);
    expect(e.isaRises(0)).toBe(2); // one tick a millisecond
    enable(LEG_RT_CNF);
    for (let t = 4n; t <= 10n; t++) e.tscCatchUp(t * 1_000_000n, GHZ);
    e.deviceLevel(8, 1);
    expect([e.isaRises(0), e.isaLevel(8)]).toEqual([2, 0]);
    enable();
    expect(e.isaLevel(8)).toBe(1); // the RTC's level, now that its line is its own again
    e.tscCatchUp(11_000_000n, GHZ);
    expect(e.isaRises(0)).toBe(3);
  });

  it("moves a level-triggered timer's asserted line between IRQ 0 and its own route as the mode changes", () => {
    wr(config(0), LEVEL | INT_ENB | route(20));
    wr(comparator(0), 10n);
    enable(LEG_RT_CNF);
    ticks(10n);
    expect([e.isaLevel(0), e.ioapicLevel(20)]).toEqual([1, 0]);
    enable();
    expect([e.isaLevel(0), e.ioapicLevel(20)]).toEqual([0, 1]);
    enable(LEG_RT_CNF);
    expect([e.isaLevel(0), e.ioapicLevel(20)]).toEqual([1, 0]);
  });
});

describe("on the TSC", () => {
  const START = 5_000_000n;

  it("says at which TSC the next match interrupts, exactly, for a TSC rate that is no multiple of 10 MHz", () => {
    const tscPerMs = 2_637_679n; // as measured under QEMU
    e.tscCatchUp(START, tscPerMs);
    expect(e.tscHpetAt(tscPerMs)).toBe(0xffff_ffff_ffff_ffffn); // halted
    wr(config(0), INT_ENB | route(20));
    wr(comparator(0), 12_345n);
    enable();
    e.tscCatchUp(START + 777n, tscPerMs); // leave carries behind
    const at = e.tscHpetAt(tscPerMs);
    // 12345 ticks are 1.2345 ms: 3256214.7 TSC ticks.
    expect(at).toBe(START + 3_256_215n);
    e.tscCatchUp(at - 1n, tscPerMs);
    expect(e.ioapicRises(20)).toBe(0);
    expect(rd(COUNTER)).toBe(12_344n);
    e.tscCatchUp(at, tscPerMs);
    expect(e.ioapicRises(20)).toBe(1);
    expect(e.tscHpetAt(tscPerMs)).toBe(0xffff_ffff_ffff_ffffn); // a 64-bit one-shot
  });

  it("makes the earlier of a timer's match and the PIT's IRQ0 the next event", () => {
    const GHZ = 1_000_000n;
    e.tscCatchUp(START, GHZ);
    wr(config(1), INT_ENB | route(21));
    wr(comparator(1), 50n);
    enable();
    expect(e.tscNextEventAt(GHZ)).toBe(START + 5_000n);
    e.pitWrite(3, 0x30);
    e.pitWrite(0, 1);
    e.pitWrite(0, 0); // mode 0, 1 clock: 838.1 ns
    expect(e.tscNextEventAt(GHZ)).toBe(START + 839n);
    e.tscCatchUp(START + 839n, GHZ);
    expect(e.isaRises(0)).toBe(1);
    expect(e.tscNextEventAt(GHZ)).toBe(START + 5_000n);
  });
});
