// Finding the ACPI RSDP (kernel/acpi/rsdp.ts): the loader's hint, the first
// KiB of the EBDA, then 0xE0000-0xFFFFF on 16-byte boundaries, with the
// ACPI 1.0 and 2.0 checksums (ACPI 6.5, 5.2.5).
import { beforeEach, describe, expect, it } from "vitest";
import { PhysMemory, load, type Unit } from "./harness";
import { rsdpBytes } from "./bootdata";

interface AcpiExports {
  rsdpFind(hint: bigint): number;
  rsdpAddress(): bigint;
  rsdpRevision(): number;
  rsdpOemId(): number;
  rsdpTableAddress(): bigint;
  rsdpExtended(): number;
}

interface Found {
  address: bigint;
  revision: number;
  oemId: string;
  tableAddress: bigint;
  extended: boolean;
}

let unit: Unit<AcpiExports>;
let phys: PhysMemory;

beforeEach(async () => {
  phys = new PhysMemory();
  unit = await load<AcpiExports>("acpi.ts", { phys });
});

function find(hint = 0n): Found | null {
  const e = unit.exports;
  if (!e.rsdpFind(hint)) return null;
  return {
    address: e.rsdpAddress(),
    revision: e.rsdpRevision(),
    oemId: e.__getString(e.rsdpOemId() >>> 0),
    tableAddress: e.rsdpTableAddress(),
    extended: e.rsdpExtended() !== 0,
  };
}

const setEbda = (segment: number) => phys.write16(0x40e, segment);

describe("findRsdp", () => {
  it("finds an ACPI 1.0 RSDP in the BIOS area", () => {
    phys.writeBytes(0xf5a40, rsdpBytes({ revision: 0, oemId: "BOCHS", rsdt: 0x7fe1_4a0f }));
    expect(find()).toEqual({
      address: 0xf5a40n,
      revision: 0,
      oemId: "BOCHS",
      tableAddress: 0x7fe1_4a0fn,
      extended: false,
    });
  });

  it("finds an ACPI 2.0 RSDP and takes the XSDT from it", () => {
    phys.writeBytes(0xe0010, rsdpBytes({ revision: 2, oemId: "ALASKA", rsdt: 0x7fe1_0000, xsdt: 0x1_2345_6000n }));
    expect(find()).toEqual({
      address: 0xe0010n,
      revision: 2,
      oemId: "ALASKA",
      tableAddress: 0x1_2345_6000n,
      extended: true,
    });
  });

  it("finds one in the last slot of the area", () => {
    phys.writeBytes(0xffff0, rsdpBytes({ revision: 0 }));
    expect(find()?.address).toBe(0xffff0n);
  });

  it("skips a candidate with a bad checksum", () => {
    phys.writeBytes(0xe0100, rsdpBytes({ revision: 0, oemId: "BAD", breakChecksum: true }));
    phys.writeBytes(0xf0000, rsdpBytes({ revision: 0, oemId: "GOOD" }));
    expect(find()).toMatchObject({ address: 0xf0000n, oemId: "GOOD" });
  });

  it("skips an ACPI 2.0 candidate with a bad extended checksum", () => {
    phys.writeBytes(0xe0100, rsdpBytes({ revision: 2, oemId: "BADEXT", breakExtended: true }));
    phys.writeBytes(0xe0200, rsdpBytes({ revision: 2, oemId: "GOOD" }));
    expect(find()).toMatchObject({ address: 0xe0200n, oemId: "GOOD", extended: true });
  });

  it("skips an ACPI 2.0 candidate with an absurd length", () => {
    for (const [at, length] of [[0xe0100, 20], [0xe0200, 35], [0xe0300, 0x10000]] as const) {
      const bytes = rsdpBytes({ revision: 2 });
      phys.writeBytes(at, bytes);
      phys.write32(at + 20, length);
      // Keep the 20-byte checksum valid so that only the length is wrong.
      const sum = [...phys.readBytes(at, 20)].reduce((s, x) => s + x, 0) & 0xff;
      phys.write8(at + 8, (phys.read8(at + 8) - sum) & 0xff);
    }
    expect(find()).toBeNull();
    phys.writeBytes(0xf0000, rsdpBytes({ revision: 0, oemId: "LAST" }));
    expect(find()?.oemId).toBe("LAST");
  });

  it("takes the first valid one in address order", () => {
    phys.writeBytes(0xf0000, rsdpBytes({ revision: 0, oemId: "SECOND" }));
    phys.writeBytes(0xe8000, rsdpBytes({ revision: 2, oemId: "FIRST" }));
    expect(find()?.oemId).toBe("FIRST");
  });

  it("looks only at 16-byte boundaries", () => {
    phys.writeBytes(0xe0008, rsdpBytes({ revision: 0 }));
    phys.writeBytes(0xe1004, rsdpBytes({ revision: 2 }));
    expect(find()).toBeNull();
  });

  it("does not look below 0xE0000 or outside the EBDA's first KiB", () => {
    phys.writeBytes(0xd0000, rsdpBytes({ revision: 0 }));
    phys.writeBytes(0xdfff0, rsdpBytes({ revision: 0 }));
    setEbda(0x9fc0);
    phys.writeBytes(0x9fc00 + 0x400, rsdpBytes({ revision: 0 }));
    expect(find()).toBeNull();
  });

  it("needs the whole signature", () => {
    const bytes = rsdpBytes({ revision: 0 });
    bytes[7] = 0x00; // "RSD PTR\0"
    phys.writeBytes(0xe0000, bytes);
    expect(find()).toBeNull();
  });

  it("is null when there is none", () => {
    expect(find()).toBeNull();
  });

  it("searches the EBDA's first KiB before the BIOS area", () => {
    setEbda(0x9fc0);
    phys.writeBytes(0x9fc00 + 0x3f0, rsdpBytes({ revision: 0, oemId: "EBDA" }));
    phys.writeBytes(0xe0000, rsdpBytes({ revision: 0, oemId: "BIOS" }));
    expect(find()).toMatchObject({ address: 0x9fff0n, oemId: "EBDA" });
  });

  it("falls back to the BIOS area when the EBDA has none or an invalid one", () => {
    setEbda(0x9fc0);
    phys.writeBytes(0x9fc00, rsdpBytes({ revision: 0, oemId: "EBDA", breakChecksum: true }));
    phys.writeBytes(0xe0000, rsdpBytes({ revision: 0, oemId: "BIOS" }));
    expect(find()?.oemId).toBe("BIOS");
  });

  it.each(["0x0000", "0x7fff", "0xa000", "0xc000"])("ignores an EBDA pointer %s outside 0x80000-0x9ffff", (text) => {
    const segment = Number(text);
    setEbda(segment);
    phys.writeBytes(segment << 4, rsdpBytes({ revision: 0, oemId: "WRONG" }));
    phys.writeBytes(0xf0000, rsdpBytes({ revision: 0, oemId: "BIOS" }));
    expect(find()?.oemId).toBe("BIOS");
  });

  it("scans an EBDA pointer into the BIOS area only as part of the BIOS area", () => {
    setEbda(0xe800);
    phys.writeBytes(0xe8000, rsdpBytes({ revision: 0, oemId: "E8000" }));
    phys.writeBytes(0xe0000, rsdpBytes({ revision: 0, oemId: "E0000" }));
    expect(find()?.oemId).toBe("E0000");
  });

  it("takes the loader's copy when given one, without scanning", () => {
    phys.writeBytes(0x1_0010, rsdpBytes({ revision: 2, oemId: "COPY", xsdt: 0xbfed_e0e8n }));
    phys.writeBytes(0xe0000, rsdpBytes({ revision: 0, oemId: "BIOS" }));
    phys.trace = [];
    expect(find(0x1_0010n)).toEqual({
      address: 0x1_0010n,
      revision: 2,
      oemId: "COPY",
      tableAddress: 0xbfed_e0e8n,
      extended: true,
    });
    expect(phys.trace.every((a) => a >= 0x1_0010 && a < 0x1_0010 + 36)).toBe(true);
  });

  it("rejects a bad copy from the loader rather than trusting it", () => {
    phys.writeBytes(0x1_0010, rsdpBytes({ revision: 0, breakChecksum: true }));
    phys.writeBytes(0xe0000, rsdpBytes({ revision: 0, oemId: "BIOS" }));
    expect(find(0x1_0010n)).toBeNull();
    phys.fill(0x2_0000, 64, 0);
    expect(find(0x2_0000n)).toBeNull();
  });

  it("reads the RSDT address from a revision 1 RSDP (ACPI 1.0 layout)", () => {
    phys.writeBytes(0xe0000, rsdpBytes({ revision: 1, rsdt: 0x1234_5678 }));
    expect(find()).toMatchObject({ revision: 1, tableAddress: 0x1234_5678n, extended: false });
  });
});
