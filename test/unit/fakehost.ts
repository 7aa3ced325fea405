// A fake host CPU for the unit tests: the CPUID answers of an Intel or AMD
// processor, and a TSC whose value the test sets, running at a rate the test
// picks (the module is told it: `perMs`, as the kernel's measure would find).
// Both are shim stubs for load(): `cpuid` writes EAX, EBX, ECX, EDX into the
// module's memory; `rdtsc` returns the clock; `inb` answers COM1's line
// status as the default stub does.
import type { Stub } from "./harness";

export type Regs = [eax: number, ebx: number, ecx: number, edx: number];

// "GenuineIntel" / "AuthenticAMD" as EBX, EDX, ECX of leaf 0.
function vendorRegs(name: string): [number, number, number] {
  const word = (i: number) => Buffer.from(name.slice(i, i + 4), "latin1").readUInt32LE(0);
  return [word(0), word(4), word(8)];
}

export class CpuidHost {
  private leaves = new Map<string, Regs>();

  // `intel`: a leaf beyond the highest basic or extended leaf answers with
  // the highest basic leaf's data, as Intel CPUs do (SDM Vol. 2A "CPUID");
  // AMD's answer zeros.
  constructor(public vendor: "GenuineIntel" | "AuthenticAMD", public maxBasic: number, public maxExtended: number) {
    const [ebx, edx, ecx] = vendorRegs(vendor);
    this.set(0, [maxBasic, ebx, ecx, edx]);
    this.set(0x8000_0000, [maxExtended, 0, 0, 0]);
  }

  // The answer to `leaf` (for every subleaf unless `subleaf` is given).
  set(leaf: number, regs: Regs, subleaf?: number): this {
    this.leaves.set(subleaf === undefined ? `${leaf}` : `${leaf}.${subleaf}`, regs.map((r) => r >>> 0) as Regs);
    return this;
  }

  answer(leaf: number, subleaf: number): Regs {
    leaf >>>= 0;
    const inRange = leaf <= this.maxBasic
      || (leaf >= 0x8000_0000 && leaf <= this.maxExtended)
      || (leaf >= 0x4000_0000 && leaf < 0x8000_0000);
    if (!inRange) return this.vendor === "GenuineIntel" ? this.answer(this.maxBasic, 0) : [0, 0, 0, 0];
    return this.leaves.get(`${leaf}.${subleaf >>> 0}`) ?? this.leaves.get(`${leaf}`) ?? [0, 0, 0, 0];
  }

  // The shim's cpuid(leaf, subleaf, out): `memory` is the module's, once it is loaded.
  stub(memory: () => WebAssembly.Memory): Stub {
    return (leaf: number, subleaf: number, out: number) => {
      new Uint32Array(memory().buffer, out >>> 0, 4).set(this.answer(leaf, subleaf));
    };
  }
}

const COM1_LINE_STATUS = 0x3fd;

// The host's TSC, at `hz` ticks per second.
export class FakeTsc {
  clock = 0n;
  constructor(public hz: bigint) {}

  // TSC ticks per millisecond (kernel/time/tsc.ts).
  get perMs(): bigint {
    return this.hz / 1000n;
  }

  stubs(): Record<string, Stub> {
    return {
      rdtsc: () => this.clock,
      inb: (port: number) => (port === COM1_LINE_STATUS ? 0x60 : 0xff),
    };
  }
}
