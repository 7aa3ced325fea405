// The MSRs the VMM emulates for a guest (vmm/emul/msrpolicy.ts): IA32_PAT from its
// power-up value, the memory types it accepts and the #GP for the others
// (SDM Vol. 3A 11.12.2, 11.12.4), IA32_TSC_AUX, and an MSR nobody answers.
import { beforeEach, describe, expect, it } from "vitest";
import { CpuidHost } from "./fakehost";
import { load, type Exports } from "./harness";

interface MsrExports {
  rdmsr(msr: number): bigint;
  wrmsr(msr: number, value: bigint): number;
  rdpmc(index: number): bigint;
  onAmd(): void;
}

let e: Exports<MsrExports>;
beforeEach(async () => {
  e = (await load<MsrExports>("msrpolicy.ts")).exports;
});

const IA32_PAT = 0x277;
const GP = 0xffff_ffff_ffff_ffffn; // -1 as the harness returns it

describe("IA32_PAT", () => {
  it("reads its power-up value: WB, WT, UC-, UC, twice", () => {
    expect(e.rdmsr(IA32_PAT)).toBe(0x0007_0406_0007_0406n);
  });

  it("takes Linux's layout (WB, WC, UC-, UC, WB, WP, UC-, WT) and reads it back", () => {
    expect(e.wrmsr(IA32_PAT, 0x0407_0506_0007_0106n)).toBe(1);
    expect(e.rdmsr(IA32_PAT)).toBe(0x0407_0506_0007_0106n);
  });

  it("refuses the reserved types 2 and 3 and reserved bits in any entry, keeping the old value", () => {
    for (const bad of [0x02n, 0x03n << 56n, 0x08n << 16n, 0x0007_0406_0007_04e6n]) {
      expect(e.wrmsr(IA32_PAT, bad)).toBe(0);
    }
    expect(e.rdmsr(IA32_PAT)).toBe(0x0007_0406_0007_0406n);
  });
});

describe("the vendors' model-specific registers Linux reads", () => {
  const REVISION = 0x8b, INT_PENDING = 0xc001_0055;

  it("on Intel: revision 0 in IA32_BIOS_SIGN_ID, which takes the 0 written before CPUID; no AMD register", () => {
    expect(e.wrmsr(REVISION, 0n)).toBe(1);
    expect(e.rdmsr(REVISION)).toBe(0n);
    expect(e.rdmsr(INT_PENDING)).toBe(GP);
  });

  it("on AMD: PATCH_LEVEL 0 and read-only; the interrupt-pending register says no C1E and no SMI", () => {
    e.onAmd();
    expect(e.rdmsr(REVISION)).toBe(0n);
    expect(e.wrmsr(REVISION, 0n)).toBe(0);
    expect(e.rdmsr(INT_PENDING)).toBe(0n);
  });
});

describe("the machine-check architecture (SDM Vol. 3B 16.3.1)", () => {
  const MCG_CAP = 0x179, MCG_STATUS = 0x17a, MCG_CTL = 0x17b, MC0_CTL = 0x400;

  it("has no error-reporting banks and no IA32_MCG_CTL, and IA32_MCG_CAP is read-only", () => {
    expect(e.rdmsr(MCG_CAP)).toBe(0n);
    expect(e.wrmsr(MCG_CAP, 0n)).toBe(0);
    expect(e.rdmsr(MCG_CTL)).toBe(GP);
    expect(e.rdmsr(MC0_CTL)).toBe(GP);
  });

  it("has no machine check in progress; IA32_MCG_STATUS takes only 0", () => {
    expect(e.rdmsr(MCG_STATUS)).toBe(0n);
    expect(e.wrmsr(MCG_STATUS, 0n)).toBe(1);
    expect(e.wrmsr(MCG_STATUS, 4n)).toBe(0);
  });
});

it("answers #GP for an MSR it does not emulate", () => {
  expect(e.rdmsr(0x19b)).toBe(GP); // IA32_THERM_INTERRUPT: no thermal control
  expect(e.wrmsr(0x19b, 0n)).toBe(0);
});

describe("IA32_TSC_AUX, which RDTSCP and RDPID read (SDM Vol. 4 Table 2-2)", () => {
  const TSC_AUX = 0xc000_0103, RDTSCP = 1 << 27;

  it("is the vCPU's own where the host has RDTSCP: read back, and written through to the CPU's register", async () => {
    const host = new CpuidHost("AuthenticAMD", 0xd, 0x8000_0001).set(0x8000_0001, [0, 0, 0, RDTSCP]);
    const unit = await load<MsrExports>("msrpolicy.ts", { shim: { cpuid: host.stub(() => unit.exports.memory) } });
    e = unit.exports;
    e.onAmd();
    expect(e.rdmsr(TSC_AUX)).toBe(0n);
    expect(e.wrmsr(TSC_AUX, 0x1234n)).toBe(1);
    expect(e.rdmsr(TSC_AUX)).toBe(0x1234n);
    expect(unit.machine.msrs.get(TSC_AUX)).toBe(0x1234n);
    expect(e.wrmsr(TSC_AUX, 1n << 32n)).toBe(0); // bits 63:32 are reserved
    expect(e.rdmsr(TSC_AUX)).toBe(0x1234n);
  });

  it("does not exist on a host without RDTSCP and RDPID", () => {
    expect(e.rdmsr(TSC_AUX)).toBe(GP);
    expect(e.wrmsr(TSC_AUX, 1n)).toBe(0);
  });
});

describe("performance counters", () => {
  const EVT_SEL0 = 0xc001_0000, CTR0 = 0xc001_0004;

  it("on AMD: the four legacy counters keep what is written and RDPMC reads them; they count nothing", () => {
    e.onAmd();
    for (let i = 0; i < 4; i++) {
      expect(e.wrmsr(EVT_SEL0 + i, 0x43_0076n + BigInt(i))).toBe(1);
      expect(e.wrmsr(CTR0 + i, 1000n * BigInt(i + 1))).toBe(1);
    }
    for (let i = 0; i < 4; i++) {
      expect(e.rdmsr(EVT_SEL0 + i)).toBe(0x43_0076n + BigInt(i));
      expect(e.rdmsr(CTR0 + i)).toBe(1000n * BigInt(i + 1));
      expect(e.rdpmc(i)).toBe(1000n * BigInt(i + 1));
    }
    expect(e.rdpmc(4)).toBe(GP);
  });

  it("on AMD: reserved bits (event select 63:42, counter 63:48) raise #GP and change nothing", () => {
    e.onAmd();
    expect(e.wrmsr(EVT_SEL0, 1n << 42n)).toBe(0);
    expect(e.wrmsr(CTR0, 1n << 48n)).toBe(0);
    expect(e.rdmsr(EVT_SEL0)).toBe(0n);
    expect(e.rdmsr(CTR0)).toBe(0n);
  });

  it("on Intel, whose CPUID leaf 0xA says none: AMD's MSRs and every RDPMC raise #GP", () => {
    expect(e.rdmsr(EVT_SEL0)).toBe(GP);
    expect(e.wrmsr(CTR0, 0n)).toBe(0);
    expect(e.rdpmc(0)).toBe(GP);
  });
});
