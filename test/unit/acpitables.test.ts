// The ACPI tables a VM is given (vmm/platform/pc/acpitables.ts), read back by the
// hypervisor's own ACPI code as it reads a PC's (RSDP search, checksums,
// RSDT and XSDT, MADT), field by field for the root tables, the FADT, the
// HPET table and the MCFG; the DSDT (vmm/platform/pc/dsdt.ts, aml.ts) through
// ACPICA's disassembler, iasl, as ASL; and the PM block the FADT describes
// (vmm/devices/timers/acpipm.ts). ACPI 6.5 chapters 4, 5, 6; IA-PC HPET
// Specification 1.0a, 3.2.4; PCI Firmware Specification 3.2, 4.1.2.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { PhysMemory, load, type Exports } from "./harness";

interface AcpiTablesExports {
  build(cpus: number): bigint;
  tablesEnd(): bigint;
  scanForRsdp(): bigint;
  rsdpRevision(): number;
  rsdpOemId(): number;
  table(signature: number, throughXsdt: number): bigint;
  madtApicIds(madt: bigint): number;
  pmRead(offset: bigint, size: number): bigint;
  pmWrite(offset: bigint, size: number, value: bigint): void;
  pmAdvance(ns: bigint): void;
  powerOffs(): number;
  pressPowerButton(): void;
  irqLevel(line: number): number;
  ecamBase(): bigint;
  ecamBuses(): number;
  ecamSize(): bigint;
  pciMemoryBase(): bigint;
  pciMemoryEnd(): bigint;
  pciIoEnd(): number;
  pciSlots(): number;
  intxGsi(slot: number, pin: number): number;
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
    for (const signature of ["FACP", "APIC", "HPET", "MCFG"]) {
      const viaXsdt = e.table(s(signature), 1);
      expect(viaXsdt).not.toBe(0n);
      expect(e.table(s(signature), 0)).toBe(viaXsdt);
    }
  });
  it("list the FADT, MADT, HPET table and MCFG in both root tables, whose lengths and checksums fit", () => {
    const rsdp = e.build(2);
    e.scanForRsdp();
    const rsdt = BigInt(u32(rsdp + 16n)), xsdt = u64(rsdp + 24n);
    const tables = ["FACP", "APIC", "HPET", "MCFG"].map((signature) => e.table(s(signature), 1));
    const entries = [0n, 1n, 2n, 3n];
    expect([chars(rsdt, 4), u32(rsdt + 4n)]).toEqual(["RSDT", 36 + 4 * 4]);
    expect([chars(xsdt, 4), u32(xsdt + 4n)]).toEqual(["XSDT", 36 + 4 * 8]);
    expect(entries.map((i) => BigInt(u32(rsdt + 36n + 4n * i)))).toEqual(tables);
    expect(entries.map((i) => u64(xsdt + 36n + 8n * i))).toEqual(tables);
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
    expect(u32(fadt + 112n) & (3 << 4)).toBe(1 << 5); // a fixed power button (PWR_BUTTON clear), no sleep button
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
    // First, Name (_S5_, Package (4) {5, 5, 0, 0}); the rest is read by iasl below.
    const aml = Array.from({ length: 14 }, (_, i) => u8(dsdt + 36n + BigInt(i)));
    expect(aml).toEqual([0x08, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00]);
  });
  it("leave MSI and PCI Express ASPM to the guest (IAPC_BOOT_ARCH bits 3 and 4 clear)", () => {
    e.build(1);
    e.scanForRsdp();
    const fadt = e.table(s("FACP"), 1);
    expect(u16(fadt + 109n) & 0b11000).toBe(0);
  });
  it("give the ECAM region in the MCFG: segment 0, buses 0 to ECAM_BUSES - 1, at ECAM_BASE", () => {
    e.build(1);
    e.scanForRsdp();
    const mcfg = e.table(s("MCFG"), 0);
    expect([u32(mcfg + 4n), u8(mcfg + 8n), u64(mcfg + 36n)]).toEqual([36 + 8 + 16, 1, 0n]);
    const allocation = mcfg + 44n;
    expect([u64(allocation), u16(allocation + 8n), u8(allocation + 10n), u8(allocation + 11n), u32(allocation + 12n)])
      .toEqual([e.ecamBase(), 0, 0, e.ecamBuses() - 1, 0]);
  });
  it("do not overlap, and stay in their area, even for 255 vCPUs", () => {
    for (const cpus of [1, 64, 255]) {
      const rsdp = e.build(cpus);
      e.scanForRsdp();
      const fadt = e.table(s("FACP"), 1);
      const headed = [BigInt(u32(rsdp + 16n)), u64(rsdp + 24n), u64(fadt + 140n)]
        .concat(["FACP", "APIC", "HPET", "MCFG"].map((signature) => e.table(s(signature), 1)));
      const spans = [[rsdp, rsdp + 36n], [u64(fadt + 132n), u64(fadt + 132n) + 64n]]
        .concat(headed.map((at) => [at, at + BigInt(u32(at + 4n))]))
        .sort((a, b) => (a[0] < b[0] ? -1 : 1));
      expect(u32(e.table(s("APIC"), 1) + 4n)).toBe(44 + 8 * cpus + 12 + 2 * 10 + 6);
      expect(spans[0][0]).toBe(0xe0000n);
      for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][1]);
      expect(spans[spans.length - 1][1]).toBeLessThanOrEqual(e.tablesEnd());
    }
  });
});

// The DSDT as ACPICA's iasl disassembles it, comments dropped and white
// space squeezed ("Name (_UID, Zero)"), and what iasl said; then, compiled
// back by iasl, the AML it makes of that ASL.
function disassembleDsdt(): { asl: string; log: string; recompiled: Uint8Array; aml: Uint8Array } {
  e.build(1);
  e.scanForRsdp();
  const dsdt = u64(e.table(s("FACP"), 1) + 140n);
  const aml = phys.readBytes(dsdt, u32(dsdt + 4n));
  const dir = mkdtempSync(join(tmpdir(), "dsdt-"));
  try {
    writeFileSync(join(dir, "dsdt.aml"), aml);
    const iasl = (...args: string[]) => {
      const run = spawnSync("/usr/bin/iasl", args, { cwd: dir, encoding: "utf8" });
      expect(run.status, run.stdout + run.stderr).toBe(0);
      return run.stdout + run.stderr;
    };
    const log = iasl("-d", "dsdt.aml");
    const asl = readFileSync(join(dir, "dsdt.dsl"), "utf8");
    // -on: keep "\_SB" as written rather than shortened to "_SB" at the root.
    const compiled = iasl("-on", "-p", "recompiled", "dsdt.dsl");
    expect(compiled).toMatch(/Compilation successful\. 0 Errors, 0 Warnings/);
    return {
      asl: asl.replace(/\/\/.*$/gm, "").replace(/\s+/g, " "),
      log,
      recompiled: readFileSync(join(dir, "recompiled.aml")),
      aml,
    };
  } finally {
    rmSync(dir, { recursive: true });
  }
}

// As iasl prints a number: 0x, upper-case hex digits, padded to its field.
const hex = (n: number | bigint, digits: number) => "0x" + n.toString(16).toUpperCase().padStart(digits, "0");

describe("the DSDT, disassembled by iasl", () => {
  it("is AML that iasl reads without complaint and compiles back to the same bytes", () => {
    const { log, recompiled, aml } = disassembleDsdt();
    expect(log).toMatch(/Disassembly completed/);
    expect(log).not.toMatch(/error|warning/i);
    // The header differs (iasl's compiler ID, the checksum), the AML not.
    expect(Buffer.from(recompiled.subarray(36))).toEqual(Buffer.from(aml.subarray(36)));
  });
  it("keeps \\_S5 and puts the PCI host bridge and the ECAM reservation in \\_SB", () => {
    const { asl } = disassembleDsdt();
    expect(asl).toContain("Name (_S5, Package (0x04) { 0x05, 0x05, Zero, Zero })");
    expect(asl).toMatch(/Scope \(\\_SB\) \{ Device \(PCI0\) \{.*\} Device \(MRES\) \{.*\} \} \}\s*$/);
  });
  it("describes PCI0 as a PCI Express root bridge of segment 0, bus 0", () => {
    const { asl } = disassembleDsdt();
    const pci0 = asl.slice(asl.indexOf("Device (PCI0)"), asl.indexOf("Device (MRES)"));
    expect(pci0).toContain("Name (_HID, EisaId (\"PNP0A08\") /* PCI Express Bus */)");
    expect(pci0).toContain("Name (_CID, EisaId (\"PNP0A03\") /* PCI Bus */)");
    for (const name of ["_UID", "_SEG", "_BBN"]) expect(pci0).toContain(`Name (${name}, Zero)`);
  });
  it("gives PCI0's bus numbers, its configuration ports, and its I/O and memory windows from pcimap.ts", () => {
    const { asl } = disassembleDsdt();
    const crs = asl.slice(asl.indexOf("Name (_CRS"), asl.indexOf("Name (_PRT"));
    const buses = e.ecamBuses(), ioEnd = e.pciIoEnd(), memory = e.pciMemoryBase(), memoryEnd = e.pciMemoryEnd();
    const producer = "ResourceProducer, MinFixed, MaxFixed, PosDecode";
    expect(crs).toBe(
      "Name (_CRS, ResourceTemplate () { "
        + `WordBusNumber (${producer}, 0x0000, 0x0000, ${hex(buses - 1, 4)}, 0x0000, ${hex(buses, 4)}, ,, ) `
        + "IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08, ) "
        + `WordIO (${producer}, EntireRange, 0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8, `
        + ",, , TypeStatic, DenseTranslation) "
        + `WordIO (${producer}, EntireRange, 0x0000, 0x0D00, ${hex(ioEnd - 1, 4)}, 0x0000, ${hex(ioEnd - 0xd00, 4)}, `
        + ",, , TypeStatic, DenseTranslation) "
        + "DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, 0x00000000, "
        + `${hex(memory, 8)}, ${hex(memoryEnd - 1n, 8)}, 0x00000000, ${hex(memoryEnd - memory, 8)}, `
        + ",, , AddressRangeMemory, TypeStatic) }) ",
    );
  });
  it("routes every slot's INTA#-INTD# to its I/O APIC input, by global system interrupt", () => {
    const { asl } = disassembleDsdt();
    const prt = asl.slice(asl.indexOf("Name (_PRT"), asl.indexOf("Device (MRES)"));
    expect(prt).toMatch(/^Name \(_PRT, Package \(0x80\) \{/);
    const value = (v: string) => (v === "Zero" ? 0 : v === "One" ? 1 : Number(v));
    const entries = [...prt.matchAll(/Package \(0x04\) \{ ([^}]*) \}/g)].map((m) => m[1].split(", ").map(value));
    expect(entries.length).toBe(e.pciSlots() * 4);
    expect(prt).toContain(`Package (0x04) { 0x0003FFFF, One, Zero, ${hex(e.intxGsi(3, 1), 2)} }`);
    entries.forEach(([address, pin, source, gsi], i) => {
      const slot = i >> 2;
      expect([address, pin, source, gsi]).toEqual([slot * 0x10000 + 0xffff, i & 3, 0, e.intxGsi(slot, i & 3)]);
    });
  });
  it("reserves the ECAM region as a motherboard resource", () => {
    const { asl } = disassembleDsdt();
    const mres = asl.slice(asl.indexOf("Device (MRES)"));
    expect(mres).toContain("Name (_HID, EisaId (\"PNP0C02\") /* PNP Motherboard Resources */)");
    expect(mres).toContain(
      `ResourceTemplate () { Memory32Fixed (ReadWrite, ${hex(e.ecamBase(), 8)}, ${hex(e.ecamSize(), 8)}, ) })`,
    );
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
  it("raises the SCI (IRQ 9) for the power button while its status and enable bits are set", () => {
    const PWRBTN = 1n << 8n, SCI = 9;
    e.pressPowerButton();
    expect(e.pmRead(PM1_STS, 2)).toBe(PWRBTN);
    expect(e.irqLevel(SCI)).toBe(0); // not enabled yet
    e.pmWrite(PM1_EN, 2, PWRBTN);
    expect(e.irqLevel(SCI)).toBe(1);
    e.pmWrite(PM1_STS, 2, 0xfeffn); // every other status bit written: no change
    expect(e.irqLevel(SCI)).toBe(1);
    e.pmWrite(PM1_STS, 2, PWRBTN); // the guest's handler clears it
    expect(e.pmRead(PM1_STS, 2)).toBe(0n);
    expect(e.irqLevel(SCI)).toBe(0);
    e.pressPowerButton();
    expect(e.irqLevel(SCI)).toBe(1);
    e.pmWrite(PM1_EN, 2, 0n);
    expect(e.irqLevel(SCI)).toBe(0);
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
