// The GPT parser (vmm/storage/gpt.ts) against tables made in JavaScript
// (tools/disk/gpt.ts): a good table's partitions with their names, GUIDs and
// LBAs, and each way a table is refused (UEFI 2.10, 5.3).
import { beforeAll, describe, expect, it } from "vitest";
import { crc32, entryArray, GptSpec, guidBytes, header, LINUX_DATA } from "../../tools/disk/gpt";
import { load, type Exports } from "./harness";

interface GptExports {
  BYTES_ID: { value: number };
  crc(bytes: number): number;
  guidText(bytes: number, at: number): number;
  parse(block: number, blocks: bigint, entries: number): number;
  entriesLba(): bigint;
  count(): number;
  index(i: number): number;
  name(i: number): number;
  guidOf(i: number): number;
  typeOf(i: number): number;
  firstLba(i: number): bigint;
  lastLba(i: number): bigint;
}

let e: Exports<GptExports>;
beforeAll(async () => {
  e = (await load<GptExports>("gpt.ts")).exports;
});

const bytes = (b: Uint8Array) => e.__pin(e.__newArray(e.BYTES_ID.value, b));
const text = (ptr: number) => e.__getString(ptr);

const A = "8AB7C2D4-1E5F-4A6B-9C0D-112233445566";
const B = "C0FFEE00-1234-4567-89AB-CDEF01234567";
const BLOCKS = (64 << 20) / 512;

function spec(over: Partial<GptSpec> = {}): GptSpec {
  return {
    blockSize: 512,
    blocks: BLOCKS,
    partitions: [
      { name: "vm-a", typeGuid: LINUX_DATA, guid: A, firstLba: 2048, lastLba: 51199 },
      { name: "vm-b", typeGuid: LINUX_DATA, guid: B, firstLba: 51200, lastLba: 100000 },
    ],
    ...over,
  };
}

// Parses LBA 1 and the entries of `s`, after `tamper` had its way with
// them; the header's CRC is made right again unless `keepCrc`.
function parse(s: GptSpec, tamper?: (h: Uint8Array, entries: Uint8Array) => void, keepCrc = false): string {
  const entries = entryArray(s);
  const block = header(s, entries, 1, 2);
  if (tamper) {
    tamper(block, entries);
    if (!keepCrc) {
      new DataView(block.buffer).setUint32(16, 0, true);
      new DataView(block.buffer).setUint32(16, crc32(block.subarray(0, 92)), true);
    }
  }
  const b = bytes(block), en = bytes(entries);
  try {
    return text(e.parse(b, BigInt(s.blocks), en));
  } finally {
    e.__unpin(b);
    e.__unpin(en);
  }
}

function partitions() {
  return Array.from({ length: e.count() }, (_, i) => ({
    index: e.index(i),
    name: text(e.name(i)),
    guid: text(e.guidOf(i)),
    type: text(e.typeOf(i)),
    first: e.firstLba(i),
    last: e.lastLba(i),
  }));
}

describe("CRC32 and GUIDs", () => {
  it("computes IEEE 802.3's CRC32 (check value of \"123456789\")", () => {
    const b = bytes(Buffer.from("123456789"));
    expect(e.crc(b) >>> 0).toBe(0xcbf43926);
    e.__unpin(b);
  });

  it("prints a GUID in its text form from its mixed-endian bytes", () => {
    const b = bytes(guidBytes(LINUX_DATA));
    expect(text(e.guidText(b, 0))).toBe(LINUX_DATA);
    e.__unpin(b);
    expect([...guidBytes(LINUX_DATA).subarray(0, 4)]).toEqual([0xaf, 0x3d, 0xc6, 0x0f]);
  });
});

describe("a good table", () => {
  it("gives every partition with its index, name, GUIDs and LBAs", () => {
    expect(parse(spec())).toBe("");
    expect(e.entriesLba()).toBe(2n);
    expect(partitions()).toEqual([
      { index: 1, name: "vm-a", guid: A, type: LINUX_DATA, first: 2048n, last: 51199n },
      { index: 2, name: "vm-b", guid: B, type: LINUX_DATA, first: 51200n, last: 100000n },
    ]);
  });

  it("skips unused entries, keeps array positions, and reads 36-unit and non-ASCII names", () => {
    const long = "abcdefghijklmnopqrstuvwxyz0123456789";
    const s = spec();
    s.partitions = [
      { name: long, typeGuid: LINUX_DATA, guid: A, firstLba: 2048, lastLba: 4095 },
      { name: "", typeGuid: "00000000-0000-0000-0000-000000000000", guid: B, firstLba: 0, lastLba: 0 },
      { name: "données-é", typeGuid: LINUX_DATA, guid: B, firstLba: 4096, lastLba: 8191 },
    ];
    expect(parse(s)).toBe("");
    expect(partitions().map((p) => [p.index, p.name])).toEqual([[1, long], [3, "données-é"]]);
  });

  it("reads a disk of 4096-byte blocks", () => {
    const s = spec({ blockSize: 4096, blocks: (64 << 20) / 4096 });
    s.partitions = [{ name: "big", typeGuid: LINUX_DATA, guid: A, firstLba: 256, lastLba: 16000 }];
    expect(parse(s)).toBe("");
    expect(partitions()).toHaveLength(1);
  });

  it("gives no partitions for an empty table", () => {
    expect(parse(spec({ partitions: [] }))).toBe("");
    expect(e.count()).toBe(0);
  });
});

describe("a bad table is refused, and says why", () => {
  const set32 = (b: Uint8Array, at: number, v: number) => new DataView(b.buffer).setUint32(at, v, true);
  const set64 = (b: Uint8Array, at: number, v: number) => new DataView(b.buffer).setBigUint64(at, BigInt(v), true);

  it.each([
    ["a wrong signature", (h: Uint8Array) => h.set(Buffer.from("EFI FART"), 0), /^no GPT/],
    ["a header CRC that does not match", (h: Uint8Array) => (h[60] ^= 1), /header CRC32 does not match/],
    ["an entry CRC that does not match", (_: Uint8Array, en: Uint8Array) => (en[57] ^= 1), /entry array CRC32/],
    ["a header that is not where it says", (h: Uint8Array) => set64(h, 24, 2), /says it is at LBA 2/],
    ["a header size below 92", (h: Uint8Array) => set32(h, 12, 91), /header size 91 is invalid/],
    ["an entry size that is not 128 x 2^n", (h: Uint8Array) => set32(h, 84, 192), /entry size 192 is invalid/],
    ["usable LBAs past the disk", (h: Uint8Array) => set64(h, 48, BLOCKS), /usable LBAs lie outside/],
    ["entries past the disk", (h: Uint8Array) => set64(h, 72, BLOCKS - 1), /entry array lies outside/],
    ["an entry array too large", (h: Uint8Array) => set32(h, 80, 1 << 20), /too large/],
  ])("%s", (_, tamper, reason) => {
    const keepCrc = String(reason).includes("header CRC");
    expect(parse(spec(), tamper as never, keepCrc)).toMatch(reason);
    expect(e.count()).toBe(0);
  });

  it("refuses partitions outside the usable LBAs, or overlapping", () => {
    const outside = spec();
    outside.partitions[1].lastLba = BLOCKS - 1;
    expect(parse(outside)).toBe("GPT partition 2 lies outside the usable LBAs");
    const backwards = spec();
    backwards.partitions[0].lastLba = 2047;
    expect(parse(backwards)).toBe("GPT partition 1 lies outside the usable LBAs");
    const overlap = spec();
    overlap.partitions[1].firstLba = 51199;
    expect(parse(overlap)).toBe("GPT partition 2 overlaps partition 1");
  });
});
