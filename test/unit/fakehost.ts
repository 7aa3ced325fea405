// A fake host CPU for the unit tests: the CPUID answers of an Intel or AMD
// processor, and a TSC whose value the test sets, which the PIT-based
// calibration (kernel/time/tsc.ts, pit.ts) measures at a rate the test picks.
// Both are shim stubs for load(): `cpuid` writes EAX, EBX, ECX, EDX into the
// module's memory; `rdtsc` returns the clock; `inb` answers the PIT's status
// port (0x61) with "count ended" after moving the clock on by 10 ms, and
// COM1's line status as the default stub does.
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
const PIT_STATUS = 0x61; // bit 5: channel 2's output, high once its count ended
const PIT_OUTPUT = 0x20;

// The host's TSC, at `hz` ticks per second as the calibration measures it.
export class FakeTsc {
  clock = 0n;
  private statusReads = 0;
  constructor(public hz: bigint) {}

  stubs(): Record<string, Stub> {
    return {
      rdtsc: () => this.clock,
      inb: (port: number) => {
        if (port === COM1_LINE_STATUS) return 0x60;
        if (port !== PIT_STATUS) return 0xff;
        // The kernel waits once for 10 ms, one count of 11932 PIT ticks
        // (pit.ts): it reads the port to open the gate, then polls it. The
        // poll finds the count ended, 10 ms later.
        if (this.statusReads++ % 2 === 1) this.clock += this.hz / 100n;
        return PIT_OUTPUT;
      },
    };
  }
}
