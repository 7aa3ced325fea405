// The local APIC model (vmm/devices/apic/lapic.ts, lapictimer.ts), driven through
// its xAPIC MMIO window and x2APIC MSRs as a guest drives it, with accept /
// pendingVector / acknowledge and time worked as the VMM will. as/lapic.ts
// holds four APICs (IDs 0-3, 0 the BSP) on a bus that records IPIs and
// delivers fixed ones; each test loads a fresh VM. Section numbers are those
// of the Intel SDM Vol. 3A chapter 11.
import { beforeEach, describe, expect, it } from "vitest";
import { load, type Exports } from "./harness";

interface LapicExports {
  mmioRead(apic: number, offset: number, size: number): bigint;
  mmioWrite(apic: number, offset: number, size: number, value: bigint): void;
  busRead(address: bigint, size: number): bigint;
  busWrite(address: bigint, size: number, value: bigint): number;
  msrRead(apic: number, msr: number): bigint;
  msrWrite(apic: number, msr: number, value: bigint): number;
  mmioBase(apic: number): bigint;
  initReset(apic: number): void;
  accept(apic: number, vector: number, level: number): void;
  levelEois(): number;
  pendingVector(apic: number): number;
  acknowledge(apic: number, vector: number): void;
  passesExtInt(apic: number): number;
  advance(apic: number, nowTsc: bigint): void;
  nextDeadline(apic: number): bigint;
  setTscPerBusTick(apic: number, ticks: bigint): void;
  ipiCount(): number;
  ipi(n: number): number;
  matches(destination: number, logical: number, x2apic: number, apicId: number, ldr: number, dfr: number): number;
}

let e: Exports<LapicExports>;
beforeEach(async () => {
  e = (await load<LapicExports>("lapic.ts")).exports;
});

const GP = 0xffff_ffff_ffff_ffffn; // readMsr's -1, as the harness returns u64
const NEVER = 0xffff_ffff_ffff_ffffn;

// xAPIC register offsets (Table 11-1).
const ID = 0x20, VERSION = 0x30, TPR = 0x80, APR = 0x90, PPR = 0xa0, EOI = 0xb0, LDR = 0xd0, DFR = 0xe0;
const SVR = 0xf0, ISR = 0x100, TMR = 0x180, IRR = 0x200, ESR = 0x280, LVT_CMCI = 0x2f0, ICR_LOW = 0x300;
const ICR_HIGH = 0x310, LVT_TIMER = 0x320, LVT_THERMAL = 0x330, LVT_PERF = 0x340, LVT_LINT0 = 0x350;
const LVT_LINT1 = 0x360, LVT_ERROR = 0x370, TIMER_INITIAL = 0x380, TIMER_CURRENT = 0x390, TIMER_DIVIDE = 0x3e0;
const LVTS = [LVT_CMCI, LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR];

const APIC_BASE = 0x1b, TSC_DEADLINE = 0x6e0;
const x2msr = (offset: number) => 0x800 + (offset >> 4);
const ENABLE = 1n << 11n, EXTD = 1n << 10n, BSP = 1n << 8n, DEFAULT_BASE = 0xfee0_0000n;

const rd = (apic: number, offset: number) => Number(e.mmioRead(apic, offset, 4));
const wr = (apic: number, offset: number, value: number) => e.mmioWrite(apic, offset, 4, BigInt(value >>> 0));
const rdmsr = (apic: number, msr: number) => e.msrRead(apic, msr);
const wrmsr = (apic: number, msr: number, value: bigint | number) => e.msrWrite(apic, msr, BigInt(value)) !== 0;
const enable = (apic: number, spurious = 0xff) => wr(apic, SVR, 0x100 | spurious);
const toX2apic = (apic: number) => {
  expect(wrmsr(apic, APIC_BASE, rdmsr(apic, APIC_BASE) | EXTD)).toBe(true);
};
const ipis = () => Array.from({ length: e.ipiCount() }, (_, n) => e.__getString(e.ipi(n) >>> 0));
// The ISR, TMR or IRR as a set of vectors.
const bank = (apic: number, base: number) => {
  const vectors: number[] = [];
  for (let i = 0; i < 8; i++) {
    const word = rd(apic, base + i * 0x10);
    for (let b = 0; b < 32; b++) if ((word >>> b) & 1) vectors.push(i * 32 + b);
  }
  return vectors;
};

describe("registers after power-up (11.4.7.1)", () => {
  it("ID in bits 31:24, version 14h with 7 LVT entries and no EOI-broadcast suppression", () => {
    for (let apic = 0; apic < 4; apic++) expect(rd(apic, ID) >>> 0).toBe((apic << 24) >>> 0);
    expect(rd(0, VERSION)).toBe(0x0006_0014);
  });

  it("zero TPR, PPR, APR, LDR, ICR, banks, counts and divide; DFR all ones; SVR FFh; every LVT masked", () => {
    for (const r of [TPR, APR, PPR, LDR, ESR, ICR_LOW, ICR_HIGH, TIMER_INITIAL, TIMER_CURRENT, TIMER_DIVIDE]) {
      expect(rd(1, r)).toBe(0);
    }
    expect(rd(1, DFR) >>> 0).toBe(0xffff_ffff);
    expect(rd(1, SVR)).toBe(0xff);
    for (const lvt of LVTS) expect(rd(1, lvt)).toBe(0x1_0000);
    for (const b of [ISR, TMR, IRR]) expect(bank(1, b)).toEqual([]);
  });

  it("IA32_APIC_BASE: the default base, globally enabled, BSP only on APIC 0", () => {
    expect(rdmsr(0, APIC_BASE)).toBe(DEFAULT_BASE | ENABLE | BSP);
    expect(rdmsr(1, APIC_BASE)).toBe(DEFAULT_BASE | ENABLE);
    expect(e.mmioBase(0)).toBe(DEFAULT_BASE);
  });

  it("INIT restores that state but keeps the ID and the mode", () => {
    enable(1);
    wr(1, TPR, 0x40);
    wr(1, LDR, 0x0200_0000);
    wr(1, LVT_TIMER, 0x20);
    wr(1, TIMER_INITIAL, 100);
    e.accept(1, 0x50, 0);
    e.initReset(1);
    expect(rd(1, SVR)).toBe(0xff);
    expect([rd(1, TPR), rd(1, LDR), rd(1, TIMER_INITIAL), rd(1, TIMER_CURRENT)]).toEqual([0, 0, 0, 0]);
    expect(rd(1, LVT_TIMER)).toBe(0x1_0000);
    expect(bank(1, IRR)).toEqual([]);
    expect(rd(1, ID)).toBe(1 << 24);
    expect(rdmsr(1, APIC_BASE)).toBe(DEFAULT_BASE | ENABLE);
  });
});

describe("MMIO accesses (11.4.1)", () => {
  it("answers on the VM's MMIO address space at FEE00000h", () => {
    expect(e.busRead(DEFAULT_BASE + 0x30n, 4)).toBe(0x0006_0014n);
    expect(e.busWrite(DEFAULT_BASE + 0x80n, 4, 0x7fn)).toBe(1);
    expect(rd(0, TPR)).toBe(0x7f);
    expect(e.busRead(DEFAULT_BASE + 0x1000n, 4)).toBe(0xffff_ffffn); // past the window
  });

  it("writes only the writable bits; ID, version, PPR and the banks are read-only", () => {
    wr(0, TPR, 0xffff_ffff);
    expect(rd(0, TPR)).toBe(0xff);
    wr(0, LDR, 0xffff_ffff);
    expect(rd(0, LDR) >>> 0).toBe(0xff00_0000);
    wr(0, DFR, 0x0000_0000);
    expect(rd(0, DFR)).toBe(0x0fff_ffff);
    wr(0, SVR, 0xffff_ffff);
    expect(rd(0, SVR)).toBe(0x3ff);
    wr(0, ID, 0x0500_0000);
    expect(rd(0, ID)).toBe(0);
    wr(0, VERSION, 0);
    expect(rd(0, VERSION)).toBe(0x0006_0014);
    wr(0, IRR + 0x10, 0xffff_ffff);
    expect(bank(0, IRR)).toEqual([]);
    expect(rd(0, ESR)).toBe(0);
  });

  it(
    "LVT entries keep their own fields: LINT polarity and trigger, timer mode, no delivery mode on "
      + "timer and error",
    () => {
      enable(0);
      wr(0, LVT_LINT0, 0xffff_ffff);
      expect(rd(0, LVT_LINT0)).toBe(0x1_a7ff);
      wr(0, LVT_TIMER, 0xffff_ffff);
      expect(rd(0, LVT_TIMER)).toBe(0x7_00ff);
      wr(0, LVT_ERROR, 0xffff_ffff);
      expect(rd(0, LVT_ERROR)).toBe(0x1_00ff);
      wr(0, LVT_THERMAL, 0x0000_04ff);
      expect(rd(0, LVT_THERMAL)).toBe(0x4ff);
    },
  );

  it("other sizes and offsets read 0 and ignore writes; an empty slot is an illegal register address", () => {
    wr(0, TPR, 0x20);
    expect(e.mmioRead(0, TPR, 1)).toBe(0n);
    expect(e.mmioRead(0, TPR + 4, 4)).toBe(0n);
    e.mmioWrite(0, TPR, 2, 0x30n);
    e.mmioWrite(0, TPR + 8, 4, 0x30n);
    expect(rd(0, TPR)).toBe(0x20);
    expect(rd(0, ESR)).toBe(0);
    wr(0, ESR, 0);
    expect(rd(0, ESR)).toBe(0);
    expect(rd(0, 0x40)).toBe(0); // reserved slot
    wr(0, ESR, 0);
    expect(rd(0, ESR)).toBe(0x80);
    wr(0, ESR, 0);
    expect(rd(0, ESR)).toBe(0);
  });

  it("ESR: a write latches the errors since the last write and starts collecting afresh (11.5.3)", () => {
    enable(0);
    e.accept(0, 3, 0); // received illegal vector
    expect(rd(0, ESR)).toBe(0); // not yet latched
    wr(0, ESR, 0xffff);
    expect(rd(0, ESR)).toBe(0x40);
    wr(0, ICR_LOW, 0x0004_4005); // self IPI, vector 5: send illegal vector
    wr(0, ESR, 0);
    expect(rd(0, ESR)).toBe(0x20);
    wr(0, ESR, 0);
    expect(rd(0, ESR)).toBe(0);
  });

  it("an unmasked error LVT entry interrupts once per new error", () => {
    enable(0);
    wr(0, LVT_ERROR, 0xfe);
    e.accept(0, 1, 0);
    expect(e.pendingVector(0)).toBe(0xfe);
    e.acknowledge(0, 0xfe);
    e.accept(0, 2, 0); // same error again before the ESR write: nothing new
    wr(0, EOI, 0);
    expect(e.pendingVector(0)).toBe(-1);
  });

  it("an error LVT entry with an illegal vector logs a receive error and does not loop", () => {
    enable(0);
    wr(0, LVT_ERROR, 0x05);
    rd(0, 0x50); // illegal register
    wr(0, ESR, 0);
    expect(rd(0, ESR)).toBe(0xc0);
    expect(e.pendingVector(0)).toBe(-1);
  });
});

describe("IA32_APIC_BASE and the x2APIC MSRs (11.4.3, 11.12)", () => {
  it("in xAPIC mode the x2APIC MSRs raise #GP and the window answers", () => {
    expect(rdmsr(0, 0x802)).toBe(GP);
    expect(wrmsr(0, 0x808, 0x10)).toBe(false);
    expect(rd(0, VERSION)).toBe(0x0006_0014);
  });

  it("in x2APIC mode the MSRs answer, the ID is 32-bit and the window reads as nobody's", () => {
    toX2apic(2);
    expect(rdmsr(2, APIC_BASE)).toBe(DEFAULT_BASE | ENABLE | EXTD);
    expect(rdmsr(2, 0x802)).toBe(2n);
    expect(rdmsr(2, 0x803)).toBe(0x0006_0014n);
    expect(e.mmioRead(2, VERSION, 4)).toBe(0xffff_ffffn);
    wr(2, TPR, 0x30);
    expect(rdmsr(2, x2msr(TPR))).toBe(0n);
    expect(wrmsr(2, x2msr(TPR), 0x30)).toBe(true);
    expect(rdmsr(2, x2msr(TPR))).toBe(0x30n);
  });

  it("x2APIC: the register state carries over, and the LDR becomes the derived logical ID (11.12.10.2)", () => {
    enable(3);
    wr(3, TPR, 0x20);
    wr(3, LDR, 0x0800_0000);
    toX2apic(3);
    expect(rdmsr(3, x2msr(TPR))).toBe(0x20n);
    expect(rdmsr(3, x2msr(SVR))).toBe(0x1ffn);
    expect(rdmsr(3, x2msr(LDR))).toBe(0x0000_0008n); // cluster 0, bit 3
  });

  it("x2APIC: read-only, write-only and absent registers raise #GP", () => {
    toX2apic(1);
    for (const ro of [ID, VERSION, PPR, LDR, ISR, TMR + 0x70, IRR, TIMER_CURRENT]) {
      expect(wrmsr(1, x2msr(ro), 0)).toBe(false);
    }
    expect(rdmsr(1, x2msr(EOI))).toBe(GP);
    expect(rdmsr(1, 0x83f)).toBe(GP); // SELF IPI
    for (const absent of [APR, 0xc0, DFR, ICR_HIGH, 0x40, 0x3a0]) {
      expect(rdmsr(1, x2msr(absent))).toBe(GP);
      expect(wrmsr(1, x2msr(absent), 0)).toBe(false);
    }
    expect(rdmsr(1, 0x8ff)).toBe(GP);
    expect(rdmsr(1, 0x10)).toBe(GP); // not an APIC MSR at all
  });

  it("x2APIC: reserved bits raise #GP; ESR and EOI take only 0 (11.12.1.3)", () => {
    toX2apic(1);
    expect(wrmsr(1, x2msr(TPR), 0x100)).toBe(false);
    expect(wrmsr(1, x2msr(TPR), 0x1_0000_0010n)).toBe(false);
    expect(wrmsr(1, x2msr(SVR), 0x1000)).toBe(false);
    expect(wrmsr(1, x2msr(LVT_TIMER), 0x800)).toBe(false);
    // Read-only fields are not reserved: a write of them is taken, and
    // they stay as they are (Linux writes LINT0 so, disconnect_bsp_APIC()).
    expect(wrmsr(1, x2msr(LVT_TIMER), 0x1_1040)).toBe(true);
    expect(rdmsr(1, x2msr(LVT_TIMER))).toBe(0x1_0040n);
    expect(wrmsr(1, 0x835, 0x5700)).toBe(true);
    expect(rdmsr(1, 0x835)).toBe(0x1_0700n); // masked: the APIC is software-disabled
    expect(wrmsr(1, x2msr(ESR), 1)).toBe(false);
    expect(wrmsr(1, x2msr(ESR), 0)).toBe(true);
    expect(wrmsr(1, x2msr(EOI), 1)).toBe(false);
    expect(wrmsr(1, x2msr(EOI), 0)).toBe(true);
    expect(wrmsr(1, 0x830, 0x1000)).toBe(false);
    expect(wrmsr(1, 0x83f, 0x130)).toBe(false);
    expect(rdmsr(1, x2msr(TPR))).toBe(0n);
  });

  it("the legal transitions: xAPIC <-> disabled, xAPIC -> x2APIC -> disabled (11.12.5)", () => {
    const base = DEFAULT_BASE;
    expect(wrmsr(1, APIC_BASE, base | EXTD)).toBe(false); // EXTD without EN: invalid
    expect(wrmsr(1, APIC_BASE, base)).toBe(true); // xAPIC -> disabled
    expect(wrmsr(1, APIC_BASE, base | ENABLE | EXTD)).toBe(false); // disabled -> x2APIC
    expect(wrmsr(1, APIC_BASE, base | ENABLE)).toBe(true); // disabled -> xAPIC
    expect(wrmsr(1, APIC_BASE, base | ENABLE | EXTD)).toBe(true); // xAPIC -> x2APIC
    expect(wrmsr(1, APIC_BASE, base | ENABLE)).toBe(false); // x2APIC -> xAPIC
    expect(wrmsr(1, APIC_BASE, base)).toBe(true); // x2APIC -> disabled
    expect(rdmsr(1, APIC_BASE)).toBe(base);
    expect(rdmsr(1, 0x802)).toBe(GP);
    expect(e.mmioRead(1, ID, 4)).toBe(0xffff_ffffn);
  });

  it("reserved base bits raise #GP; the base moves the window; BSP is writable", () => {
    expect(wrmsr(0, APIC_BASE, DEFAULT_BASE | ENABLE | BSP | 1n)).toBe(false);
    expect(wrmsr(0, APIC_BASE, DEFAULT_BASE | ENABLE | BSP | (1n << 9n))).toBe(false);
    expect(wrmsr(0, APIC_BASE, DEFAULT_BASE | ENABLE | BSP | (1n << 52n))).toBe(false);
    expect(wrmsr(0, APIC_BASE, 0xfed0_0000n | ENABLE)).toBe(true);
    expect(e.mmioBase(0)).toBe(0xfed0_0000n);
    expect(rdmsr(0, APIC_BASE)).toBe(0xfed0_0000n | ENABLE);
  });

  it("a moved APIC keeps its registers and its timer; moved back, it is at FEE00000h again (11.4.5)", () => {
    enable(0);
    wr(0, TPR, 0x20);
    wr(0, TIMER_DIVIDE, 0xb); // divide by 1
    wr(0, TIMER_INITIAL, 1000);
    expect(wrmsr(0, APIC_BASE, 0xfef0_0000n | ENABLE | BSP)).toBe(true);
    e.advance(0, 100n);
    expect(e.mmioBase(0)).toBe(0xfef0_0000n);
    expect([rd(0, TPR), rd(0, SVR), rd(0, TIMER_CURRENT)]).toEqual([0x20, 0x1ff, 900]);
    expect(wrmsr(0, APIC_BASE, DEFAULT_BASE | ENABLE | BSP)).toBe(true);
    expect(e.mmioBase(0)).toBe(DEFAULT_BASE);
    expect(rd(0, TPR)).toBe(0x20);
  });

  it("disabling loses the state: re-enabled, the APIC is as after power-up (11.4.3)", () => {
    enable(1);
    wr(1, TPR, 0x50);
    e.accept(1, 0x40, 0);
    wrmsr(1, APIC_BASE, DEFAULT_BASE);
    expect(e.pendingVector(1)).toBe(-1);
    e.accept(1, 0x41, 0);
    wrmsr(1, APIC_BASE, DEFAULT_BASE | ENABLE);
    expect(rd(1, TPR)).toBe(0);
    expect(rd(1, SVR)).toBe(0xff);
    expect(bank(1, IRR)).toEqual([]);
  });
});

describe("priorities, acknowledge and EOI (11.8)", () => {
  const deliver = (apic: number) => {
    const v = e.pendingVector(apic);
    if (v >= 0) e.acknowledge(apic, v);
    return v;
  };

  it("a vector moves from IRR to ISR on acknowledge; the TMR records the trigger mode on acceptance", () => {
    enable(0);
    e.accept(0, 0x61, 1);
    e.accept(0, 0x62, 0);
    expect(bank(0, IRR)).toEqual([0x61, 0x62]);
    expect(bank(0, TMR)).toEqual([0x61]);
    expect(deliver(0)).toBe(0x62);
    expect(bank(0, ISR)).toEqual([0x62]);
    expect(bank(0, IRR)).toEqual([0x61]);
  });

  it("a lower-priority vector waits for the EOI of a higher one; the same class waits too", () => {
    enable(0);
    e.accept(0, 0x80, 0);
    expect(deliver(0)).toBe(0x80);
    e.accept(0, 0x41, 0);
    e.accept(0, 0x8f, 0);
    expect(rd(0, PPR)).toBe(0x80);
    expect(e.pendingVector(0)).toBe(-1);
    e.accept(0, 0x90, 0);
    expect(deliver(0)).toBe(0x90); // nests
    expect(rd(0, PPR)).toBe(0x90);
    wr(0, EOI, 0); // ends 0x90, the highest in service
    expect(bank(0, ISR)).toEqual([0x80]);
    expect(e.pendingVector(0)).toBe(-1);
    wr(0, EOI, 0);
    expect(deliver(0)).toBe(0x8f);
    wr(0, EOI, 0);
    expect(deliver(0)).toBe(0x41);
    wr(0, EOI, 0);
    expect(rd(0, PPR)).toBe(0);
    wr(0, EOI, 0); // nothing in service: harmless
    expect(deliver(0)).toBe(-1);
  });

  it("the EOI of a level-triggered vector goes on to the I/O APIC; an edge-triggered one's does not (11.8.5)", () => {
    enable(2);
    e.accept(2, 0x71, 1);
    expect(deliver(2)).toBe(0x71);
    e.accept(2, 0x92, 0);
    expect(deliver(2)).toBe(0x92); // nests: a higher class
    wr(2, EOI, 0); // ends the edge-triggered 0x92
    expect(e.__getString(e.levelEois() >>> 0)).toBe("");
    wr(2, EOI, 0); // ends the level-triggered 0x71
    expect(e.__getString(e.levelEois() >>> 0)).toBe("113");
    wr(2, EOI, 0); // nothing in service
    expect(e.__getString(e.levelEois() >>> 0)).toBe("113");
  });

  it("the TPR masks its class and those below (11.8.3.1)", () => {
    enable(1);
    wr(1, TPR, 0x5c);
    expect(rd(1, PPR)).toBe(0x5c);
    e.accept(1, 0x5f, 0);
    e.accept(1, 0x31, 0);
    expect(e.pendingVector(1)).toBe(-1);
    e.accept(1, 0x60, 0);
    expect(deliver(1)).toBe(0x60);
    expect(rd(1, PPR)).toBe(0x60); // the ISR class outranks the TPR: low bits zero
    wr(1, EOI, 0);
    wr(1, TPR, 0x40);
    expect(deliver(1)).toBe(0x5f);
  });

  it("APR: the TPR when it outranks all, else the highest class of TPR, ISR and IRR (11.6.2.4)", () => {
    enable(0);
    wr(0, TPR, 0x35);
    expect(rd(0, APR)).toBe(0x35);
    e.accept(0, 0x47, 0);
    expect(rd(0, APR)).toBe(0x40);
    wr(0, TPR, 0x55);
    expect(rd(0, APR)).toBe(0x55);
    e.acknowledge(0, 0x47);
    wr(0, TPR, 0x45);
    expect(rd(0, APR)).toBe(0x40); // the TPR's class must be above the ISR's
  });

  it("vectors 0-15 never enter the IRR", () => {
    enable(0);
    e.accept(0, 15, 0);
    expect(bank(0, IRR)).toEqual([]);
    expect(e.pendingVector(0)).toBe(-1);
  });

  it(
    "software-disabled: no fixed interrupt accepted or delivered, IRR held, LVT entries forced "
      + "masked (11.4.7.2)",
    () => {
      e.accept(0, 0x40, 0);
      expect(bank(0, IRR)).toEqual([]);
      enable(0);
      wr(0, LVT_TIMER, 0x30);
      e.accept(0, 0x40, 0);
      wr(0, SVR, 0xff); // disable
      expect(rd(0, LVT_TIMER)).toBe(0x1_0030);
      wr(0, LVT_TIMER, 0x30);
      expect(rd(0, LVT_TIMER)).toBe(0x1_0030);
      e.accept(0, 0x50, 0);
      expect(bank(0, IRR)).toEqual([0x40]);
      expect(e.pendingVector(0)).toBe(-1);
      enable(0);
      expect(e.pendingVector(0)).toBe(0x40);
      expect(rd(0, LVT_TIMER)).toBe(0x1_0030); // re-enabling does not unmask
    },
  );

  it("x2APIC: the banks, PPR and EOI through MSRs", () => {
    toX2apic(0);
    wrmsr(0, x2msr(SVR), 0x1ff);
    e.accept(0, 0xa3, 1);
    expect(rdmsr(0, x2msr(IRR) + 5)).toBe(8n);
    expect(rdmsr(0, x2msr(TMR) + 5)).toBe(8n);
    e.acknowledge(0, 0xa3);
    expect(rdmsr(0, x2msr(ISR) + 5)).toBe(8n);
    expect(rdmsr(0, x2msr(PPR))).toBe(0xa0n);
    wrmsr(0, x2msr(EOI), 0);
    expect(rdmsr(0, x2msr(ISR) + 5)).toBe(0n);
  });
});

describe("LINT0 and the 8259's INTR (passesExtInt, 11.5.1, 11.4.3)", () => {
  const EXTINT = 7 << 8, MASKED = 1 << 16;

  it("blocks INTR at power-up: software-disabled, every LVT masked", () => {
    expect(e.passesExtInt(0)).toBe(0);
  });

  it(
    "passes it once software-enabled with LINT0 unmasked in ExtINT mode (virtual wire), not in other "
      + "modes or masked",
    () => {
      enable(0);
      wr(0, LVT_LINT0, EXTINT | MASKED);
      expect(e.passesExtInt(0)).toBe(0);
      wr(0, LVT_LINT0, EXTINT);
      expect(e.passesExtInt(0)).toBe(1);
      wr(0, LVT_LINT0, 0x30); // fixed, vector 30h
      expect(e.passesExtInt(0)).toBe(0);
    },
  );

  it("stops when software-disabled again, which masks the LVT (11.4.7.2)", () => {
    enable(0);
    wr(0, LVT_LINT0, EXTINT);
    wr(0, SVR, 0xff);
    expect(e.passesExtInt(0)).toBe(0);
    enable(0);
    expect(e.passesExtInt(0)).toBe(0);
  });

  it("passes it with the APIC hardware-disabled, as a processor without an APIC takes INTR", () => {
    expect(wrmsr(0, APIC_BASE, DEFAULT_BASE | BSP)).toBe(true);
    expect(e.passesExtInt(0)).toBe(1);
  });
});

describe("the timer (11.5.4)", () => {
  const ONE_SHOT = 0, PERIODIC = 1 << 17, DEADLINE_MODE = 2 << 17;

  it("one-shot: counts down at the TSC rate / divide (default divide by 2), fires once, then reads 0", () => {
    enable(0);
    wr(0, LVT_TIMER, ONE_SHOT | 0x40);
    wr(0, TIMER_INITIAL, 100);
    expect(e.nextDeadline(0)).toBe(200n);
    e.advance(0, 51n);
    expect(rd(0, TIMER_CURRENT)).toBe(75);
    expect(e.pendingVector(0)).toBe(-1);
    e.advance(0, 199n);
    expect(rd(0, TIMER_CURRENT)).toBe(1);
    e.advance(0, 200n);
    expect(e.pendingVector(0)).toBe(0x40);
    expect(rd(0, TIMER_CURRENT)).toBe(0);
    expect(e.nextDeadline(0)).toBe(NEVER);
    expect(rd(0, TIMER_INITIAL)).toBe(100);
  });

  it("every divide value, and the TSC-per-bus-tick ratio", () => {
    // Bits 3, 1:0: 000 /2, 001 /4, 010 /8, 011 /16, 100 /32, 101 /64, 110 /128, 111 /1.
    const divides: Array<[number, number]> = [
      [0x0, 2],
      [0x1, 4],
      [0x2, 8],
      [0x3, 16],
      [0x8, 32],
      [0x9, 64],
      [0xa, 128],
      [0xb, 1],
    ];
    let now = 0n;
    e.setTscPerBusTick(1, 3n);
    for (const [config, divide] of divides) {
      wr(1, TIMER_DIVIDE, config | 0xf4); // other bits are not stored
      expect(rd(1, TIMER_DIVIDE)).toBe(config);
      wr(1, TIMER_INITIAL, 10);
      expect(e.nextDeadline(1)).toBe(now + BigInt(10 * divide * 3));
      now += 1000n;
      e.advance(1, now);
    }
  });

  it("a new divide value takes effect from the current count", () => {
    wr(0, TIMER_DIVIDE, 0xb); // /1
    wr(0, TIMER_INITIAL, 100);
    e.advance(0, 40n);
    wr(0, TIMER_DIVIDE, 0x1); // /4
    expect(rd(0, TIMER_CURRENT)).toBe(60);
    expect(e.nextDeadline(0)).toBe(40n + 240n);
    e.advance(0, 48n);
    expect(rd(0, TIMER_CURRENT)).toBe(58);
  });

  it("periodic: reloads from the initial count, one interrupt for several missed periods, phase kept", () => {
    enable(0);
    wr(0, TIMER_DIVIDE, 0xb);
    wr(0, LVT_TIMER, PERIODIC | 0x41);
    wr(0, TIMER_INITIAL, 1000);
    e.advance(0, 1000n);
    expect(e.pendingVector(0)).toBe(0x41);
    e.acknowledge(0, 0x41);
    wr(0, EOI, 0);
    expect(rd(0, TIMER_CURRENT)).toBe(1000);
    expect(e.nextDeadline(0)).toBe(2000n);
    e.advance(0, 1250n);
    expect(rd(0, TIMER_CURRENT)).toBe(750);
    e.advance(0, 4300n); // three periods ended
    expect(bank(0, IRR)).toEqual([0x41]);
    expect(rd(0, TIMER_CURRENT)).toBe(700);
    expect(e.nextDeadline(0)).toBe(5000n);
  });

  it("one-shot to periodic and back: the count goes on, and the mode it has at 0 decides what follows", () => {
    enable(0);
    wr(0, TIMER_DIVIDE, 0xb);
    wr(0, LVT_TIMER, ONE_SHOT | 0x40);
    wr(0, TIMER_INITIAL, 1000);
    e.advance(0, 300n);
    wr(0, LVT_TIMER, PERIODIC | 0x40);
    expect(rd(0, TIMER_CURRENT)).toBe(700);
    expect(e.nextDeadline(0)).toBe(1000n);
    e.advance(0, 1000n);
    expect(e.pendingVector(0)).toBe(0x40);
    expect(rd(0, TIMER_CURRENT)).toBe(1000); // reloaded from the initial count
    e.advance(0, 1400n);
    wr(0, LVT_TIMER, ONE_SHOT | 0x40);
    expect(rd(0, TIMER_CURRENT)).toBe(600);
    expect(e.nextDeadline(0)).toBe(2000n);
    e.advance(0, 2000n);
    expect(rd(0, TIMER_CURRENT)).toBe(0);
    expect(e.nextDeadline(0)).toBe(NEVER);
  });

  it("a masked timer counts and reloads without interrupting; initial count 0 stops it", () => {
    enable(0);
    wr(0, TIMER_DIVIDE, 0xb);
    wr(0, LVT_TIMER, 0x1_0000 | PERIODIC | 0x42);
    wr(0, TIMER_INITIAL, 10);
    e.advance(0, 25n);
    expect(bank(0, IRR)).toEqual([]);
    expect(rd(0, TIMER_CURRENT)).toBe(5);
    wr(0, TIMER_INITIAL, 0);
    expect(e.nextDeadline(0)).toBe(NEVER);
    expect(rd(0, TIMER_CURRENT)).toBe(0);
  });

  it("TSC-deadline: fires at the deadline and clears the MSR; the counter registers are idle (11.5.4.1)", () => {
    enable(2);
    expect(wrmsr(2, TSC_DEADLINE, 5000)).toBe(true); // not in TSC-deadline mode: ignored
    expect(rdmsr(2, TSC_DEADLINE)).toBe(0n);
    wr(2, LVT_TIMER, DEADLINE_MODE | 0xee);
    wr(2, TIMER_INITIAL, 10); // ignored
    expect(rd(2, TIMER_INITIAL)).toBe(0);
    expect(e.nextDeadline(2)).toBe(NEVER);
    expect(wrmsr(2, TSC_DEADLINE, 5000)).toBe(true);
    expect(rdmsr(2, TSC_DEADLINE)).toBe(5000n);
    expect(e.nextDeadline(2)).toBe(5000n);
    e.advance(2, 4999n);
    expect(e.pendingVector(2)).toBe(-1);
    expect(rd(2, TIMER_CURRENT)).toBe(0);
    e.advance(2, 5003n);
    expect(e.pendingVector(2)).toBe(0xee);
    expect(rdmsr(2, TSC_DEADLINE)).toBe(0n);
    expect(e.nextDeadline(2)).toBe(NEVER);
  });

  it("TSC-deadline: a past deadline fires at the next advance, 0 disarms, a mode change disarms", () => {
    enable(2);
    wr(2, LVT_TIMER, DEADLINE_MODE | 0xe0);
    e.advance(2, 100n);
    wrmsr(2, TSC_DEADLINE, 50);
    e.advance(2, 100n);
    expect(e.pendingVector(2)).toBe(0xe0);
    wrmsr(2, TSC_DEADLINE, 300);
    wrmsr(2, TSC_DEADLINE, 0);
    expect(e.nextDeadline(2)).toBe(NEVER);
    wrmsr(2, TSC_DEADLINE, 300);
    wr(2, LVT_TIMER, ONE_SHOT | 0xe0);
    expect(e.nextDeadline(2)).toBe(NEVER);
    wr(2, LVT_TIMER, DEADLINE_MODE | 0xe0);
    expect(rdmsr(2, TSC_DEADLINE)).toBe(0n);
  });

  it("leaving TSC-deadline mode for one-shot leaves the counter stopped until a count is written", () => {
    wr(2, TIMER_INITIAL, 10);
    wr(2, LVT_TIMER, DEADLINE_MODE);
    expect(e.nextDeadline(2)).toBe(NEVER);
    wr(2, LVT_TIMER, ONE_SHOT);
    expect(rd(2, TIMER_CURRENT)).toBe(0);
    expect(e.nextDeadline(2)).toBe(NEVER);
  });

  it("a deadline of 2^64 - 1 cannot read back as #GP", () => {
    wr(2, LVT_TIMER, DEADLINE_MODE);
    expect(wrmsr(2, TSC_DEADLINE, NEVER)).toBe(true);
    expect(rdmsr(2, TSC_DEADLINE)).toBe(NEVER - 1n);
  });

  it("x2APIC: the timer registers through MSRs", () => {
    toX2apic(3);
    expect(wrmsr(3, x2msr(TIMER_DIVIDE), 0xb)).toBe(true);
    expect(wrmsr(3, x2msr(TIMER_DIVIDE), 0x4)).toBe(false);
    expect(wrmsr(3, x2msr(TIMER_INITIAL), 0xffff_ffff)).toBe(true);
    e.advance(3, 7n);
    expect(rdmsr(3, x2msr(TIMER_CURRENT))).toBe(0xffff_fff8n);
  });
});

describe("IPIs (11.6)", () => {
  const FIXED = 0 << 8, LOWEST = 1 << 8, NMI = 4 << 8, INIT = 5 << 8, STARTUP = 6 << 8;
  const LOGICAL = 1 << 11, ASSERT = 1 << 14, LEVEL = 1 << 15;
  const SELF = 1 << 18, ALL = 2 << 18, ALL_BUT_SELF = 3 << 18;
  const send = (apic: number, destination: number, low: number) => {
    wr(apic, ICR_HIGH, destination << 24);
    wr(apic, ICR_LOW, low);
  };
  const enableAll = () => {
    for (let i = 0; i < 4; i++) enable(i);
  };

  it("fixed, physical: to the APIC with that ID, delivery status idle", () => {
    enableAll();
    send(0, 2, ASSERT | FIXED | 0x31);
    expect(ipis()).toEqual(["0 0 49: 2"]);
    expect(e.pendingVector(2)).toBe(0x31);
    expect(e.pendingVector(1)).toBe(-1);
    expect(rd(0, ICR_LOW)).toBe(0x4031);
    expect(rd(0, ICR_HIGH)).toBe(0x0200_0000);
  });

  it("physical to an ID nobody has goes nowhere; 0xFF is a broadcast", () => {
    send(0, 7, ASSERT | FIXED | 0x31);
    expect(ipis()).toEqual([]);
    send(0, 0xff, ASSERT | NMI);
    expect(ipis()).toEqual(["0 4 0: 0,1,2,3"]);
  });

  it("shorthands: self, all including self, all but self (the destination field is ignored)", () => {
    enableAll();
    send(1, 3, ASSERT | SELF | 0x40);
    send(1, 3, ASSERT | ALL | 0x41);
    send(1, 3, ASSERT | ALL_BUT_SELF | 0x42);
    expect(ipis()).toEqual(["1 0 64: 1", "1 0 65: 0,1,2,3", "1 0 66: 0,2,3"]);
    expect(bank(1, IRR)).toEqual([0x40, 0x41]);
    expect(bank(0, IRR)).toEqual([0x41, 0x42]);
  });

  it("logical, flat model: every APIC whose LDR bit is in the destination", () => {
    for (let i = 0; i < 4; i++) wr(i, LDR, (1 << i) << 24);
    send(0, 0b1010, ASSERT | LOGICAL | FIXED | 0x50);
    send(0, 0b0100, ASSERT | LOGICAL | LOWEST | 0x51);
    expect(ipis()).toEqual(["0 0 80: 1,3", "0 1 81: 2"]);
  });

  it("lowest priority: the bus can choose by arbitration priority", () => {
    enableAll();
    for (let i = 0; i < 4; i++) wr(i, LDR, (1 << i) << 24);
    wr(1, TPR, 0x40);
    wr(2, TPR, 0x20);
    wr(3, TPR, 0x30);
    send(0, 0b1110, ASSERT | LOGICAL | LOWEST | 0x51);
    expect(ipis()).toEqual(["0 1 81: 1,2,3"]);
    expect(e.pendingVector(2)).toBe(0x51);
    expect(e.pendingVector(1)).toBe(-1);
  });

  it("logical, cluster model: the cluster in bits 7:4 must match, then a member bit", () => {
    const ldrs = [0x11, 0x12, 0x21, 0x22];
    for (let i = 0; i < 4; i++) {
      wr(i, DFR, 0x0fff_ffff);
      wr(i, LDR, ldrs[i] << 24);
    }
    send(0, 0x13, ASSERT | LOGICAL | FIXED | 0x60);
    send(0, 0x22, ASSERT | LOGICAL | FIXED | 0x61);
    send(0, 0x30, ASSERT | LOGICAL | FIXED | 0x62);
    expect(ipis()).toEqual(["0 0 96: 0,1", "0 0 97: 3"]);
  });

  it("INIT and STARTUP reach the bus with their vector; INIT level de-assert is ignored", () => {
    send(0, 1, ASSERT | INIT);
    send(0, 1, LEVEL | INIT); // de-assert: level 0, level-triggered
    send(0, 1, ASSERT | STARTUP | 0x9a);
    send(0, 0, ALL_BUT_SELF | ASSERT | INIT);
    send(0, 0, ALL_BUT_SELF | STARTUP | 0x10);
    expect(ipis()).toEqual(["0 5 0: 1", "0 6 154: 1", "0 5 0: 1,2,3", "0 6 16: 1,2,3"]);
  });

  it(
    "illegal combinations: fixed vector below 16 (send illegal vector), self or all-including-self "
      + "but fixed or NMI, SMI",
    () => {
      send(0, 1, ASSERT | FIXED | 0x0f);
      send(0, 1, ASSERT | LOWEST | 0x02);
      send(0, 0, ASSERT | SELF | INIT);
      send(0, 0, ASSERT | ALL | STARTUP | 0x10);
      send(0, 0, ASSERT | ALL | LOWEST | 0x30);
      send(0, 1, ASSERT | (2 << 8)); // SMI
      expect(ipis()).toEqual([]);
      wr(0, ESR, 0);
      expect(rd(0, ESR)).toBe(0x20);
    },
  );

  it("an NMI through the self or all-including-self shorthand, which Table 11-3 leaves open, is sent", () => {
    send(0, 0, ASSERT | SELF | NMI);
    send(1, 0, ASSERT | ALL | NMI);
    expect(ipis()).toEqual(["0 4 0: 0", "1 4 0: 0,1,2,3"]);
  });

  it("a software-disabled APIC still sends, but its fixed IPIs find disabled targets deaf", () => {
    send(3, 0, ASSERT | FIXED | 0x33);
    expect(ipis()).toEqual(["3 0 51: 0"]);
    expect(bank(0, IRR)).toEqual([]);
  });

  it("x2APIC: one 64-bit ICR with a 32-bit destination, cluster logical IDs, SELF IPI", () => {
    for (let i = 0; i < 4; i++) {
      toX2apic(i);
      wrmsr(i, x2msr(SVR), 0x1ff);
    }
    expect(wrmsr(0, 0x830, (3n << 32n) | BigInt(ASSERT | FIXED | 0x70))).toBe(true);
    expect(rdmsr(0, 0x830)).toBe((3n << 32n) | BigInt(ASSERT | 0x70));
    wrmsr(0, 0x830, (0x0000_0006n) << 32n | BigInt(ASSERT | LOGICAL | FIXED | 0x71)); // cluster 0, IDs 1 and 2
    wrmsr(0, 0x830, 0xffff_ffffn << 32n | BigInt(ASSERT | NMI));
    expect(wrmsr(2, 0x83f, 0x72)).toBe(true);
    expect(ipis()).toEqual(["0 0 112: 3", "0 0 113: 1,2", "0 4 0: 0,1,2,3", "2 0 114: 2"]);
    expect(bank2(2)).toEqual([0x71, 0x72]);
    expect(wrmsr(2, 0x83f, 0x05)).toBe(true); // illegal vector: an error, not a #GP
    expect(ipis().length).toBe(4);
  });

  // IRR through the x2APIC MSRs.
  const bank2 = (apic: number) => {
    const vectors: number[] = [];
    for (let i = 0; i < 8; i++) {
      const word = Number(rdmsr(apic, x2msr(IRR) + i));
      for (let b = 0; b < 32; b++) if ((word >>> b) & 1) vectors.push(i * 32 + b);
    }
    return vectors;
  };
});

describe("destination matching (matchesDestination, 11.6.2 and 11.12.10)", () => {
  const m = (dest: number, logical: boolean, x2: boolean, id: number, ldr: number, dfr = 0xffff_ffff) =>
    e.matches(dest, logical ? 1 : 0, x2 ? 1 : 0, id, ldr, dfr) !== 0;

  it("xAPIC physical: the low 8 bits of the ID, or the broadcast 0xFF", () => {
    expect(m(5, false, false, 5, 0)).toBe(true);
    expect(m(5, false, false, 4, 0)).toBe(false);
    expect(m(0xff, false, false, 9, 0)).toBe(true);
    expect(m(0x105, false, false, 5, 0)).toBe(true); // bits above 7 are not the xAPIC's
  });

  it("xAPIC logical flat and cluster", () => {
    expect(m(0x24, true, false, 0, 0x0400_0000)).toBe(true);
    expect(m(0x24, true, false, 0, 0x0800_0000)).toBe(false);
    expect(m(0x24, true, false, 0, 0, 0xffff_ffff)).toBe(false);
    const cluster = 0x0fff_ffff;
    expect(m(0x35, true, false, 0, 0x3400_0000, cluster)).toBe(true);
    expect(m(0x35, true, false, 0, 0x3200_0000, cluster)).toBe(false);
    expect(m(0x35, true, false, 0, 0x2400_0000, cluster)).toBe(false);
    expect(m(0xff, true, false, 0, 0x2400_0000, cluster)).toBe(true);
  });

  it("x2APIC physical and logical", () => {
    expect(m(0x1234, false, true, 0x1234, 0)).toBe(true);
    expect(m(0x34, false, true, 0x1234, 0)).toBe(false);
    expect(m(0xffff_ffff, false, true, 0x1234, 0)).toBe(true);
    expect(m(0x0002_0010, true, true, 0, 0x0002_0030)).toBe(true);
    expect(m(0x0001_0010, true, true, 0, 0x0002_0030)).toBe(false);
    expect(m(0x0002_0001, true, true, 0, 0x0002_0030)).toBe(false);
  });
});
