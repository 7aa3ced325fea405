// The ACPI tables a VM is given (vmm/platform/pc/acpitables.ts), read back by the
// hypervisor's own ACPI code as it reads a PC's (RSDP search, checksums,
// RSDT and XSDT, MADT), field by field for the root tables, the FADT, the
// DSDT and the HPET table; and the PM block the FADT describes
// (vmm/devices/timers/acpipm.ts). ACPI 6.5 chapters 4, 5; IA-PC HPET
// Specification 1.0a, 3.2.4.
import { beforeEach, describe, expect, it } from "vitest";
import { PhysMemory, load, type Exports } from "./harness";

interface AcpiTablesExports {
  build(cpus: number): bigint;
  scanForRsdp(): bigint;
  rsdpRevision(): number;
  rsdpOemId(): number;
  table(signature: number, throughXsdt: number): bigint;
  madtApicIds(madt: bigint): number;
  pmRead(offset: bigint, size: number): bigint;
  pmWrite(offset: bigint, size: number, value: bigint): void;
  pmAdvance(ns: bigint): void;
  powerOffs(): number;
}

let e: Exports<AcpiTablesExports>;
let phys: PhysMemory;
const s = (text: string) => e.__newString(text);
const str = (p: number) => e.__getString(p >>> 0);
const u8 = (a: bigint) => Number(phys.read(a, 1));
const u16 = (a: bigint) => Number(phys.read(a, 2));
const u32 = (a: bigint) => Number(phys.read(a, 4));
const u64 = (a: bigint) => phys.read(a, 8);
const chars = (a: bigint, n: number) => String.fromCharCode(...Array.from({ length: n }, (_, i) => u8(a + BigInt(i))));

beforeEach(async () => {
  phys = new PhysMemory();
  e = (await load<AcpiTablesExports>("acpitables.ts", { phys })).exports;
});

describe("the tables", () => {
  it("are found where a PC's are, with valid checksums, through the XSDT and the RSDT", () => {
    const rsdp = e.build(3);
    expect(e.scanForRsdp()).toBe(rsdp);
    expect(rsdp % 16n).toBe(0n);
    expect(e.rsdpRevision()).toBe(2);
    expect(str(e.rsdpOemId())).toBe("TYPVSR");
    for (const signature of ["FACP", "APIC", "HPET"]) {
      const viaXsdt = e.table(s(signature), 1);
      expect(viaXsdt).not.toBe(0n);
      expect(e.table(s(signature), 0)).toBe(viaXsdt);
    }
  });
  it("list the FADT, the MADT and the HPET table in both root tables, whose lengths and checksums fit", () => {
    const rsdp = e.build(2);
    e.scanForRsdp();
    const rsdt = BigInt(u32(rsdp + 16n)), xsdt = u64(rsdp + 24n);
    const tables = ["FACP", "APIC", "HPET"].map((signature) => e.table(s(signature), 1));
    expect([chars(rsdt, 4), u32(rsdt + 4n)]).toEqual(["RSDT", 36 + 3 * 4]);
    expect([chars(xsdt, 4), u32(xsdt + 4n)]).toEqual(["XSDT", 36 + 3 * 8]);
    expect([0, 1, 2].map((i) => BigInt(u32(rsdt + 36n + 4n * BigInt(i))))).toEqual(tables);
    expect([0, 1, 2].map((i) => u64(xsdt + 36n + 8n * BigInt(i)))).toEqual(tables);
    for (const table of [rsdt, xsdt]) {
      let sum = 0;
      for (let i = 0; i < u32(table + 4n); i++) sum += u8(table + BigInt(i));
      expect(sum % 256).toBe(0);
    }
  });
  it(
    "give the HPET: its block ID, its registers in memory at FED00000h, number 0, its minimum tick, "
      + "a page of its own",
    () => {
      e.build(1);
      e.scanForRsdp();
      const hpet = e.table(s("HPET"), 0);
      expect([u32(hpet + 4n), u8(hpet + 8n)]).toEqual([56, 1]);
      // The low half of General Capabilities and ID: vendor 8086h, LEG_RT_CAP, 64 bits, timers 0-2, revision 1.
      expect(u32(hpet + 36n)).toBe(0x8086_a201);
      // GAS: system memory, 64 bits, offset 0, access size reserved (ACPI 2.0).
      expect([u8(hpet + 40n), u8(hpet + 41n), u8(hpet + 42n), u8(hpet + 43n), u64(hpet + 44n)]).toEqual([
        0,
        64,
        0,
        0,
        0xfed00000n,
      ]);
      expect([u8(hpet + 52n), u16(hpet + 53n), u8(hpet + 55n)]).toEqual([0, 1000, 1]);
    },
  );
  it("list one enabled local APIC per vCPU, IDs in vCPU order, with the 8259s and the NMI on LINT1", () => {
    e.build(4);
    e.scanForRsdp();
    const madt = e.table(s("APIC"), 1);
    expect(str(e.madtApicIds(madt))).toBe("0,1,2,3");
    expect(u32(madt + 36n)).toBe(0xfee00000);
    expect(u32(madt + 40n) & 1).toBe(1); // PCAT_COMPAT
    // Last, a local APIC NMI structure (5.2.12.7): all processors, bus flags, LINT1.
    const nmi = madt + BigInt(u32(madt + 4n)) - 6n;
    expect([u8(nmi), u8(nmi + 1n), u8(nmi + 2n), u16(nmi + 3n), u8(nmi + 5n)]).toEqual([4, 6, 0xff, 0, 1]);
  });
  it("describe the PM block, the SCI, the reset register and a DSDT with \\_S5", () => {
    e.build(1);
    e.scanForRsdp();
    const fadt = e.table(s("FACP"), 1);
    expect(u32(fadt + 4n)).toBe(276);
    expect(u8(fadt + 8n)).toBe(6);
    expect(u16(fadt + 46n)).toBe(9); // SCI_INT
    expect(u32(fadt + 48n)).toBe(0); // no SMI command port: ACPI mode from the start
    expect([u32(fadt + 56n), u32(fadt + 64n), u32(fadt + 76n)]).toEqual([0x400, 0x404, 0x408]);
    expect([u8(fadt + 88n), u8(fadt + 89n), u8(fadt + 91n)]).toEqual([4, 2, 4]);
    expect(u32(fadt + 112n) & (1 << 8)).not.toBe(0); // TMR_VAL_EXT: a 32-bit PM timer
    expect([u8(fadt + 116n), u64(fadt + 120n), u8(fadt + 128n)]).toEqual([1, 0x64n, 0xfe]); // reset: 0xFE to port 0x64
    expect(u64(fadt + 208n + 4n)).toBe(0x408n); // X_PM_TMR_BLK
    const facs = u64(fadt + 132n), dsdt = u64(fadt + 140n);
    expect(BigInt(u32(fadt + 36n))).toBe(facs);
    expect(BigInt(u32(fadt + 40n))).toBe(dsdt);
    expect(facs % 64n).toBe(0n);
    expect(chars(facs, 4)).toBe("FACS");
    expect(chars(dsdt, 4)).toBe("DSDT");
    const length = u32(dsdt + 4n);
    let sum = 0;
    for (let i = 0; i < length; i++) sum += u8(dsdt + BigInt(i));
    expect(sum % 256).toBe(0);
    // Name (_S5_, Package (4) {5, 5, 0, 0})
    const aml = Array.from({ length: length - 36 }, (_, i) => u8(dsdt + 36n + BigInt(i)));
    expect(aml).toEqual([0x08, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00]);
  });
});

describe("the PM block", () => {
  const PM1_STS = 0n, PM1_EN = 2n, PM1_CNT = 4n, PM_TMR = 8n;
  const SLP_EN = 1n << 13n, slpTyp = (t: bigint) => t << 10n;
  it("powers the VM off on SLP_TYP = 5 with SLP_EN, and on nothing else", () => {
    e.pmWrite(PM1_CNT, 2, slpTyp(5n)); // without SLP_EN
    e.pmWrite(PM1_CNT, 2, slpTyp(1n) | SLP_EN); // S1 is not offered
    expect(e.powerOffs()).toBe(0);
    e.pmWrite(PM1_CNT, 2, slpTyp(5n) | SLP_EN);
    expect(e.powerOffs()).toBe(1);
  });
  it("takes SLP_EN written as the high byte alone", () => {
    e.pmWrite(PM1_CNT, 1, slpTyp(5n) & 0xffn);
    e.pmWrite(PM1_CNT + 1n, 1, (slpTyp(5n) | SLP_EN) >> 8n);
    expect(e.powerOffs()).toBe(1);
  });
  it("reads SCI_EN set, and never SLP_EN", () => {
    expect(e.pmRead(PM1_CNT, 2)).toBe(1n);
    e.pmWrite(PM1_CNT, 2, slpTyp(3n));
    expect(e.pmRead(PM1_CNT, 2)).toBe(slpTyp(3n) | 1n);
  });
  it("keeps the enable bits ACPI defines, from a 16- or a 32-bit write", () => {
    e.pmWrite(PM1_EN, 2, 0xffffn);
    expect(e.pmRead(PM1_EN, 2)).toBe(0x0521n);
    e.pmWrite(PM1_STS, 4, 0x0001_0000n);
    expect(e.pmRead(PM1_EN, 2)).toBe(1n);
    expect(e.pmRead(PM1_STS, 2)).toBe(0n);
  });
  it("counts 3.579545 MHz in 32 bits as time is advanced, read-only", () => {
    e.pmAdvance(1_000_000_000n);
    expect(e.pmRead(PM_TMR, 4)).toBe(3_579_545n);
    e.pmWrite(PM_TMR, 4, 0n);
    expect(e.pmRead(PM_TMR, 4)).toBe(3_579_545n);
    e.pmAdvance(1_199_000_000_000n); // 20 minutes in all: past 2^32 ticks
    expect(e.pmRead(PM_TMR, 4)).toBe((1200n * 3_579_545n) % (1n << 32n));
    e.pmAdvance(1n); // less than one tick
    expect(e.pmRead(PM_TMR, 4)).toBe((1200n * 3_579_545n) % (1n << 32n));
  });
});
