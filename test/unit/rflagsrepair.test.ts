// The AMD-V backend's repair of a guest RFLAGS that QEMU 7.2 saved with
// bits the guest never set (vmm/hw/svm/rflagsrepair.ts, docs/smp.md bug 4):
// the sign is a reserved bit; then the rarely set flags that were clear at
// the entry are cleared, and the rest is kept as saved.
import { beforeAll, describe, expect, it } from "vitest";
import { load, type Exports } from "./harness";

interface RflagsExports {
  corrupted(saved: bigint): number;
  repaired(saved: bigint, entered: bigint): bigint;
}

let e: Exports<RflagsExports>;
beforeAll(async () => {
  e = (await load<RflagsExports>("rflagsrepair.ts")).exports;
});

const FIXED = 1n << 1n, CF = 1n, PF = 1n << 2n, ZF = 1n << 6n, TF = 1n << 8n, IF = 1n << 9n, DF = 1n << 10n;
const IOPL = 3n << 12n, NT = 1n << 14n, AC = 1n << 18n, VIF = 1n << 19n, VIP = 1n << 20n;

describe("an RFLAGS saved at #VMEXIT", () => {
  it("is taken as corrupted only with a reserved bit: 3, 5, 15 or 22 and up", () => {
    for (const bit of [3n, 5n, 15n, 22n, 26n, 31n, 32n, 63n]) expect(e.corrupted(FIXED | IF | (1n << bit))).toBe(1);
    expect(e.corrupted(FIXED | CF | PF | ZF | TF | IF | DF | IOPL | NT | AC | VIF | VIP | (1n << 21n))).toBe(0);
  });

  it("loses the rarely set flags that were clear at the entry: the value a Linux guest died of", () => {
    // Seen once (docs/smp.md): NT set, so the guest's next IRETQ faulted.
    const saved = 0x041ce646n, entered = FIXED | IF | ZF;
    const repaired = e.repaired(saved, entered);
    expect(repaired & (NT | IOPL | DF | VIF | VIP | (1n << 15n) | (1n << 26n))).toBe(0n);
    // The status flags, IF and AC are the guest's to change between two entries: kept as saved.
    expect(repaired).toBe(FIXED | PF | ZF | IF | AC);
  });

  it("keeps the rarely set flags that were set at the entry, and never sets one", () => {
    const entered = FIXED | TF | DF | IOPL | NT;
    expect(e.repaired(entered | (1n << 22n), entered)).toBe(entered);
    // Cleared by the guest since the entry (CLD, POPF): stays clear.
    expect(e.repaired(FIXED | (1n << 22n), entered)).toBe(FIXED);
    expect(e.repaired(1n << 22n, 0n)).toBe(FIXED);
  });
});
