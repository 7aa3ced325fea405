// The harness itself: compiled entry, shim stubs, fake physical memory, and
// the two ways a kernel module stops (panic -> halt, runtime check -> abort).
import { describe, expect, it } from "vitest";
import { AbortError, HaltError, LINEAR_PHYS_BASE, PhysMemory, load, shimDeclarations } from "./harness";

interface SelfCheck {
  read8(a: bigint): number;
  read16(a: bigint): number;
  read32(a: bigint): number;
  read64(a: bigint): bigint;
  write8(a: bigint, v: number): void;
  write16(a: bigint, v: number): void;
  write32(a: bigint, v: number): void;
  write64(a: bigint, v: bigint): void;
  msrRoundTrip(msr: number, v: bigint): bigint;
  callVmxon(region: bigint): number;
  doPanic(reason: number): void;
  doAssert(): void;
  outOfRange(i: number): number;
  exhaustLinearMemory(): number;
  consolePrint(text: number): void;
}

describe("harness", () => {
  it("finds every shim declaration", () => {
    const decls = shimDeclarations();
    expect(decls.get("phys_read32")).toBe("physRead32");
    expect(decls.get("linear_to_phys")).toBe("linearToPhys");
    expect(decls.get("halt")).toBe("halt");
    expect(decls.size).toBeGreaterThan(40);
  });

  it("reads and writes fake physical memory little-endian, zero where unwritten", async () => {
    const phys = new PhysMemory();
    const { exports: e } = await load<SelfCheck>("selfcheck.ts", { phys });
    phys.writeBytes(0x1000, [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
    expect(e.read8(0x1000n)).toBe(0x11);
    expect(e.read16(0x1000n)).toBe(0x2211);
    expect(e.read32(0x1000n) >>> 0).toBe(0x44332211);
    expect(e.read64(0x1000n)).toBe(0x8877665544332211n);
    expect(e.read64(0x7_0000_0000n)).toBe(0n);
    // Across a page boundary, and high addresses.
    e.write64(0x1_0000_0ffcn, 0xdeadbeef_cafef00dn);
    expect(phys.read32(0x1_0000_0ffc)).toBe(0xcafef00d);
    expect(phys.read32(0x1_0000_1000)).toBe(0xdeadbeef);
    e.write32(0x2000n, 0xfedcba98);
    e.write16(0x2004n, 0xabcd);
    e.write8(0x2006n, 0xef);
    expect([...phys.readBytes(0x2000, 7)]).toEqual([0x98, 0xba, 0xdc, 0xfe, 0xcd, 0xab, 0xef]);
  });

  it("keeps MSR state", async () => {
    const { exports: e, machine } = await load<SelfCheck>("selfcheck.ts");
    expect(e.msrRoundTrip(0xc0000080, 0xd01n)).toBe(0xd01n);
    expect(machine.msrs.get(0xc0000080)).toBe(0xd01n);
  });

  it("throws for a declared import without a stub, and accepts overrides by AS name", async () => {
    const a = await load<SelfCheck>("selfcheck.ts");
    expect(() => a.exports.callVmxon(0x1000n)).toThrow(/shim\.vmxon \(vmxon\) was called but has no stub/);
    const b = await load<SelfCheck>("selfcheck.ts", {
      shim: { vmxon: (region: bigint) => (region === 0x1000n ? 2 : 0) },
    });
    expect(b.exports.callVmxon(0x1000n)).toBe(2);
    expect(b.machine.calls.get("vmxon")).toBe(1);
    await expect(load("selfcheck.ts", { shim: { noSuchThing: () => 0 } })).rejects.toThrow(/names no import declared/);
  });

  it("captures what the console prints on COM1, not the UART's divisor", async () => {
    const { exports: e, machine } = await load<SelfCheck>("selfcheck.ts");
    e.consolePrint(e.__newString("hello\nworld ~ é"));
    expect(machine.serial()).toBe("hello\nworld ~ ?"); // non-ASCII prints as '?'
    // The divisor latch was written (DLAB set) but is not console output.
    expect(machine.portWrites).toContainEqual({ port: 0x3fb, value: 0x80, width: 1 });
    expect(machine.portWrites).toContainEqual({ port: 0x3f8, value: 1, width: 1 });
  });

  it("turns a kernel panic into a halt error carrying the serial output", async () => {
    const { exports: e, machine } = await load<SelfCheck>("selfcheck.ts");
    let error: unknown;
    try {
      e.doPanic(e.__newString("the sky is falling"));
    } catch (x) {
      error = x;
    }
    expect(error).toBeInstanceOf(HaltError);
    expect((error as HaltError).status).toBe(1);
    expect((error as Error).message).toMatch(/^halt 1\n/);
    expect(machine.serial()).toContain("*** typervisor panic: the sky is falling\n");
    expect(machine.serial()).toContain("the hypervisor has stopped");
  });

  it("turns a failed runtime check into an abort error with its location", async () => {
    const { exports: e } = await load<SelfCheck>("selfcheck.ts");
    expect(() => e.doAssert()).toThrow(AbortError);
    expect(() => e.doAssert()).toThrow(/abort: unit assertion at test\/unit\/as\/selfcheck\.ts:\d+:\d+/);
    expect(e.outOfRange(2)).toBe(3);
    expect(() => e.outOfRange(3)).toThrow(/abort: Index out of range at ~lib\/array\.ts/);
  });

  it("linear memory that cannot grow any more is a panic, not a crash", async () => {
    const { exports: e, machine } = await load<SelfCheck>("selfcheck.ts");
    expect(() => e.exhaustLinearMemory()).toThrow(/^halt 1/);
    expect(machine.serial()).toContain("typervisor panic: out of memory: the hypervisor's linear memory cannot grow");
  });

  it("places the linear memory at a fixed fake physical base", () => {
    expect(LINEAR_PHYS_BASE % 0x20_0000n).toBe(0n);
  });
});
