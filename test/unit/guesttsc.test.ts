// A vCPU's time-stamp counter: GuestTsc (vmm/vcpustate/tsc.ts) with
// Vcpu.moveTsc() (vmm/core/vcpu.ts), as the guest moves it with WRMSR exits
// of IA32_TSC_ADJUST and IA32_TIME_STAMP_COUNTER through handleExit(), and
// its TSC-deadline MSR, which the guest writes in its own TSC and the local
// APIC model keeps in the host's. The host TSC is a clock the test sets
// (fakehost.ts); the fake vCPU records the offset its "backend" was given,
// which hardware adds to the host's TSC for RDTSC and RDMSR of the TSC.
// Intel SDM Vol. 3B 18.17.3 "Time-Stamp Counter Adjustment": writing
// IA32_TSC_ADJUST with X moves the TSC by X minus the old value; writing the
// TSC with X sets it to X and moves IA32_TSC_ADJUST by as much. Vol. 3A
// 11.5.4.1: in TSC-deadline mode the timer fires once the TSC reaches the
// value written to IA32_TSC_DEADLINE, at once if it already has; 0 disarms.
import { beforeEach, describe, expect, it } from "vitest";
import { enums, type ExitsExports, GP0, RAX, RCX, RDX } from "./exitsentry";
import { CpuidHost, FakeTsc } from "./fakehost";
import { load, type Exports, type Unit } from "./harness";

const IA32_TIME_STAMP_COUNTER = 0x10, IA32_TSC_ADJUST = 0x3b, IA32_TSC_DEADLINE = 0x6e0;
const IA32_APIC_BASE = 0x1b, X2APIC_SVR = 0x80f, X2APIC_LVT_TIMER = 0x832;
const TSC_DEADLINE_MODE = 2n << 17n, TIMER_VECTOR = 0x40;
const NEVER = 0xffff_ffff_ffff_ffffn;
const u64 = (v: bigint) => BigInt.asUintN(64, v);

let unit: Unit<ExitsExports>;
let e: Exports<ExitsExports>;
let K: ReturnType<typeof enums>;
let host: FakeTsc;

beforeEach(async () => {
  host = new FakeTsc(2_000_000_000n);
  const cpu = new CpuidHost("GenuineIntel", 0xd, 0x8000_0008);
  unit = await load<ExitsExports>("exits.ts", {
    shim: { ...host.stubs(), cpuid: cpu.stub(() => unit.exports.memory) },
  });
  e = unit.exports;
  K = enums(e);
  e.calibrate(host.perMs);
  host.clock = 1_000_000_000n;
  e.reset(2);
});

function rdmsr(msr: number, vcpu = 0): bigint {
  e.setReg(vcpu, RCX, BigInt(msr));
  expect(e.rdmsrExit(vcpu)).toBe(K.Next.Resume);
  return (e.reg(vcpu, RDX) << 32n) | e.reg(vcpu, RAX);
}
function wrmsr(msr: number, value: bigint, vcpu = 0): number {
  e.setReg(vcpu, RCX, BigInt(msr));
  e.setReg(vcpu, RAX, u64(value) & 0xffff_ffffn);
  e.setReg(vcpu, RDX, u64(value) >> 32n);
  return e.wrmsrExit(vcpu);
}
// What the guest's RDTSC returns: the host's TSC plus the offset the backend holds.
const rdtsc = (vcpu = 0) => u64(host.clock + e.backendTscOffset(vcpu));

describe("IA32_TSC_ADJUST", () => {
  it("starts at 0, with the guest's TSC the host's", () => {
    expect(rdmsr(IA32_TSC_ADJUST)).toBe(0n);
    expect(e.skips(0)).toBe(1);
    expect(e.guestTsc(0)).toBe(host.clock);
    expect(rdtsc()).toBe(host.clock);
  });

  it("a write of X moves the TSC by X minus the old value, and reads back X", () => {
    expect(wrmsr(IA32_TSC_ADJUST, 5000n)).toBe(K.Next.Resume);
    expect(e.skips(0)).toBe(1);
    expect(rdtsc()).toBe(host.clock + 5000n);
    expect(rdmsr(IA32_TSC_ADJUST)).toBe(5000n);
    wrmsr(IA32_TSC_ADJUST, 2000n); // back by 3000
    expect(rdtsc()).toBe(host.clock + 2000n);
    expect(e.guestTsc(0)).toBe(rdtsc());
    expect(rdmsr(IA32_TSC_ADJUST)).toBe(2000n);
    host.clock += 123n;
    expect(rdtsc()).toBe(host.clock + 2000n);
  });

  it("takes negative values (two's complement): the TSC runs behind the host's", () => {
    wrmsr(IA32_TSC_ADJUST, -7000n);
    expect(rdmsr(IA32_TSC_ADJUST)).toBe(u64(-7000n));
    expect(rdtsc()).toBe(host.clock - 7000n);
    expect(e.backendTscOffset(0)).toBe(u64(-7000n));
    wrmsr(IA32_TSC_ADJUST, 0n);
    expect(rdtsc()).toBe(host.clock);
  });
});

describe("IA32_TIME_STAMP_COUNTER", () => {
  it("a write of X sets the TSC to X and moves IA32_TSC_ADJUST by as much", () => {
    wrmsr(IA32_TSC_ADJUST, 100n);
    expect(wrmsr(IA32_TIME_STAMP_COUNTER, 50_000_000_000n)).toBe(K.Next.Resume);
    expect(e.skips(0)).toBe(2);
    expect(rdtsc()).toBe(50_000_000_000n);
    // It was host + 100 and became X: TSC_ADJUST moved from 100 by X - (host + 100).
    expect(rdmsr(IA32_TSC_ADJUST)).toBe(50_000_000_000n - host.clock);
    host.clock += 777n;
    expect(rdtsc()).toBe(50_000_000_777n);
  });

  it("a write of 0 restarts the TSC from 0, TSC_ADJUST then minus the host's TSC", () => {
    wrmsr(IA32_TIME_STAMP_COUNTER, 0n);
    expect(rdtsc()).toBe(0n);
    expect(rdmsr(IA32_TSC_ADJUST)).toBe(u64(-host.clock));
    host.clock += 10n;
    expect(rdtsc()).toBe(10n);
    // And TSC_ADJUST = 0 puts the guest back on the host's TSC.
    wrmsr(IA32_TSC_ADJUST, 0n);
    expect(rdtsc()).toBe(host.clock);
  });

  it("the vCPUs' TSCs move apart: each has its own offset and TSC_ADJUST", () => {
    wrmsr(IA32_TIME_STAMP_COUNTER, 42n, 0);
    wrmsr(IA32_TSC_ADJUST, 9n, 1);
    expect(rdtsc(0)).toBe(42n);
    expect(rdtsc(1)).toBe(host.clock + 9n);
    expect(rdmsr(IA32_TSC_ADJUST, 1)).toBe(9n);
    expect(e.guestTsc(1)).toBe(host.clock + 9n);
  });

  it("#GP(0), with nothing moved, when the backend cannot offset the TSC", () => {
    e.setTscOffsetting(0, 0);
    for (const msr of [IA32_TIME_STAMP_COUNTER, IA32_TSC_ADJUST]) {
      expect(wrmsr(msr, 1234n)).toBe(K.Next.Resume);
      expect(e.__getString(e.exception(0) >>> 0)).toBe(GP0);
    }
    expect(e.exceptions(0)).toBe(2);
    expect(e.skips(0)).toBe(0);
    expect(e.tscOffsetField(0)).toBe(0n);
    expect(rdmsr(IA32_TSC_ADJUST)).toBe(0n);
  });
});

describe("conversions between the guest's and the host's TSC", () => {
  it("toHost and toGuest undo each other, modulo 2^64", () => {
    wrmsr(IA32_TSC_ADJUST, -5_000_000_000n);
    for (const v of [0n, 1n, 4_000_000_000n, 5_000_000_000n, NEVER]) {
      expect(e.toGuest(0, e.toHost(0, v))).toBe(v);
      expect(e.toGuest(0, v)).toBe(u64(v - 5_000_000_000n));
    }
  });
});

describe("IA32_TSC_DEADLINE", () => {
  // x2APIC mode, software-enabled, the LVT timer in TSC-deadline mode.
  beforeEach(() => {
    expect(wrmsr(IA32_APIC_BASE, 0xfee0_0000n | (1n << 8n) | (1n << 10n) | (1n << 11n))).toBe(K.Next.Resume);
    expect(wrmsr(X2APIC_SVR, 0x1ffn)).toBe(K.Next.Resume);
    expect(wrmsr(X2APIC_LVT_TIMER, TSC_DEADLINE_MODE | BigInt(TIMER_VECTOR))).toBe(K.Next.Resume);
    expect(e.exceptions(0)).toBe(0);
  });
  const pending = () => e.apicPendingVector(0);

  for (const [what, adjust] of [["ahead of", 3_000_000_000n], ["behind", -700_000_000n]] as const) {
    it(`is written and read in the guest's TSC, which runs ${what} the host's, and fires on time`, () => {
      wrmsr(IA32_TSC_ADJUST, adjust);
      const deadline = rdtsc() + 1000n;
      expect(wrmsr(IA32_TSC_DEADLINE, deadline)).toBe(K.Next.Resume);
      expect(rdmsr(IA32_TSC_DEADLINE)).toBe(deadline);
      // The scheduler idles until the host's TSC gets there.
      expect(e.nextTimerInterrupt(0)).toBe(host.clock + 1000n);
      host.clock += 999n;
      expect(pending()).toBe(-1);
      host.clock += 1n;
      expect(pending()).toBe(TIMER_VECTOR);
      expect(rdmsr(IA32_TSC_DEADLINE)).toBe(0n); // it fired: the MSR is cleared
      expect(e.nextTimerInterrupt(0)).toBe(NEVER);
    });
  }

  it("0 disarms", () => {
    wrmsr(IA32_TSC_ADJUST, 12345n);
    wrmsr(IA32_TSC_DEADLINE, rdtsc() + 10n);
    wrmsr(IA32_TSC_DEADLINE, 0n);
    expect(rdmsr(IA32_TSC_DEADLINE)).toBe(0n);
    expect(e.nextTimerInterrupt(0)).toBe(NEVER);
    host.clock += 100n;
    expect(pending()).toBe(-1);
  });

  it("a deadline the guest's TSC has passed fires at once", () => {
    wrmsr(IA32_TSC_ADJUST, 3_000_000_000n);
    wrmsr(IA32_TSC_DEADLINE, rdtsc() - 10n);
    expect(pending()).toBe(TIMER_VECTOR);
  });

  it("a deadline the guest's TSC has passed fires at once, even when it is below the TSC's offset", () => {
    wrmsr(IA32_TIME_STAMP_COUNTER, 50_000_000_000n); // ahead of the host's 1e9 by 49e9
    wrmsr(IA32_TSC_DEADLINE, 1_000n); // long past, in the guest's TSC
    expect(pending()).toBe(TIMER_VECTOR);
  });

  it("a deadline the host's TSC would have to wrap around to reach never fires", () => {
    wrmsr(IA32_TSC_ADJUST, -700_000_000n); // the guest's TSC is behind
    wrmsr(IA32_TSC_DEADLINE, NEVER - 1000n);
    expect(e.nextTimerInterrupt(0)).toBeGreaterThan(1n << 63n);
    host.clock += 1_000_000n;
    expect(pending()).toBe(-1);
  });

  // 11.5.4.1: the timer compares IA32_TSC_DEADLINE with the TSC; moving the
  // TSC does not change the deadline, only how soon the TSC reaches it.
  it("keeps its value when the guest moves its TSC ahead, and fires when the moved TSC reaches it", () => {
    const deadline = rdtsc() + 10_000n;
    wrmsr(IA32_TSC_DEADLINE, deadline);
    wrmsr(IA32_TSC_ADJUST, 4_000n); // the TSC jumps 4000 ahead
    expect(rdmsr(IA32_TSC_DEADLINE)).toBe(deadline);
    expect(e.nextTimerInterrupt(0)).toBe(host.clock + 6_000n);
    host.clock += 5_999n;
    expect(pending()).toBe(-1);
    host.clock += 1n;
    expect(pending()).toBe(TIMER_VECTOR);
  });

  it("keeps its value when the guest sets its TSC back, which then takes longer to reach it", () => {
    wrmsr(IA32_TIME_STAMP_COUNTER, 1_000_000n);
    wrmsr(IA32_TSC_DEADLINE, 1_050_000n);
    wrmsr(IA32_TIME_STAMP_COUNTER, 0n);
    expect(rdmsr(IA32_TSC_DEADLINE)).toBe(1_050_000n);
    expect(e.nextTimerInterrupt(0)).toBe(host.clock + 1_050_000n);
  });

  it("fires at once when the guest moves its TSC past it", () => {
    wrmsr(IA32_TSC_DEADLINE, rdtsc() + 10_000n);
    wrmsr(IA32_TSC_ADJUST, 20_000n);
    expect(pending()).toBe(TIMER_VECTOR);
  });

  it("stays as it was when the backend refuses to move the TSC", () => {
    const deadline = rdtsc() + 10_000n;
    wrmsr(IA32_TSC_DEADLINE, deadline);
    e.setTscOffsetting(0, 0);
    wrmsr(IA32_TSC_ADJUST, 4_000n);
    expect(e.__getString(e.exception(0) >>> 0)).toBe(GP0);
    expect(rdmsr(IA32_TSC_DEADLINE)).toBe(deadline);
    expect(e.nextTimerInterrupt(0)).toBe(host.clock + 10_000n);
  });
});
