// The boot information parsers (kernel/boot/multiboot1.ts, multiboot2.ts) on
// structures built byte by byte in fake physical memory, well-formed and
// garbled, and the command line (kernel/boot/cmdline.ts).
import { beforeEach, describe, expect, it } from "vitest";
import { PhysMemory, load, type Unit } from "./harness";
import { Mb1Builder, MB1, TAG, readBoot, rsdpBytes, tags, writeMb2, type BootExports, type Tag } from "./bootdata";

const ENTRY = "boot.ts";

// A QEMU-like E820 map, with a region above 4 GiB so 64-bit fields matter.
const E820: Array<[bigint, bigint, number]> = [
  [0x0n, 0x9fc00n, 1],
  [0x9fc00n, 0x400n, 2],
  [0xf0000n, 0x10000n, 2],
  [0x100000n, 0x7ee0000n, 1],
  [0x7fe0000n, 0x20000n, 2],
  [0xfffc0000n, 0x40000n, 2],
  [0x1_0000_0000n, 0x8000_0000n, 1],
  [0xfd_0000_0000n, 0x3_0000_0000n, 2],
];
const asRegions = (list: Array<[bigint, bigint, number]>) =>
  list.map(([base, length, type]) => ({ base, length, type }));

let unit: Unit<BootExports>;
let phys: PhysMemory;

beforeEach(async () => {
  phys = new PhysMemory();
  unit = await load<BootExports>(ENTRY, { phys });
});

const parse1 = (info: bigint) => {
  unit.exports.mb1(info);
  return readBoot(unit.exports);
};
const parse2 = (info: bigint) => {
  unit.exports.mb2(info);
  return readBoot(unit.exports);
};

describe("multiboot 1", () => {
  it("reads command line, loader name, modules and the memory map", () => {
    const mb = new Mb1Builder(phys)
      .memoryBounds(639, 130048)
      .cmdline("exit=emulator log=debug")
      .loaderName("GRUB 2.12")
      .module(0x20_0000, 0x20_0bb8, "module-0 role=test0")
      .module(0x20_1000, 0x21_2170, "module-1 role=test1");
    for (const [base, length, type] of E820) mb.mmapEntry(base, length, type);
    const boot = parse1(mb.finish(MB1.BOOTDEV));

    expect(boot.error).toBeNull();
    expect(boot.protocol).toBe("multiboot1");
    expect(boot.cmdline).toBe("exit=emulator log=debug");
    expect(boot.loaderName).toBe("GRUB 2.12");
    expect(boot.modules).toEqual([
      { start: 0x20_0000n, end: 0x20_0bb8n, cmdline: "module-0 role=test0" },
      { start: 0x20_1000n, end: 0x21_2170n, cmdline: "module-1 role=test1" },
    ]);
    // The memory map wins over the memory bounds when both are given.
    expect(boot.memory).toEqual(asRegions(E820));
    expect(boot.rsdp).toBe(0n);
    expect(boot.infoStart).toBe(0x9000n);
    expect(boot.infoEnd).toBeGreaterThanOrEqual(0x9000n + 116n);
  });

  it("steps over memory map entries by their own size field", () => {
    const mb = new Mb1Builder(phys);
    mb.mmapEntry(0x0n, 0x9f000n, 1, 24);
    mb.mmapEntry(0x100000n, 0x3f00000n, 1, 36);
    mb.mmapEntry(0xfeffc000n, 0x4000n, 2, 20);
    const boot = parse1(mb.finish());
    expect(boot.error).toBeNull();
    expect(boot.memory).toEqual(
      asRegions([[0x0n, 0x9f000n, 1], [0x100000n, 0x3f00000n, 1], [0xfeffc000n, 0x4000n, 2]]),
    );
  });

  it("falls back to the memory bounds without a memory map", () => {
    const boot = parse1(new Mb1Builder(phys).memoryBounds(639, 130048).finish());
    expect(boot.error).toBeNull();
    expect(boot.memory).toEqual([
      { base: 0n, length: 639n * 1024n, type: 1 },
      { base: 0x100000n, length: 130048n * 1024n, type: 1 },
    ]);
    expect(boot.cmdline).toBe("");
    expect(boot.modules).toEqual([]);
  });

  it("keeps an empty module list and an empty command line when flagged but empty", () => {
    const mb = new Mb1Builder(phys).memoryBounds(640, 65536).cmdline("");
    phys.write32(0x9000 + 20, 0); // mods_count
    const boot = parse1(mb.finish(MB1.MODS));
    expect(boot.error).toBeNull();
    expect(boot.cmdline).toBe("");
    expect(boot.modules).toEqual([]);
  });

  it("ignores an unterminated loader name (it is only informational)", () => {
    const mb = new Mb1Builder(phys).memoryBounds(640, 65536);
    phys.fill(0x5_0000, 8192, 0x41);
    phys.write32(0x9000 + 64, 0x5_0000);
    const boot = parse1(mb.finish(MB1.LOADER_NAME));
    expect(boot.error).toBeNull();
    expect(boot.loaderName).toBe("");
  });

  describe("garbled", () => {
    it("a null pointer", () => {
      const boot = parse1(0n);
      expect(boot.error).toContain("garbled boot information");
      expect(boot.error).toContain("null");
    });

    it("a misaligned pointer", () => {
      new Mb1Builder(phys).memoryBounds(640, 65536).finish();
      const boot = parse1(0x9002n);
      expect(boot.error).toContain("garbled boot information");
      expect(boot.error).toContain("misaligned");
    });

    it.each([1 << 13, 1 << 20, 0x8000_0000])("unknown flag 0x%s", (flag) => {
      const boot = parse1(new Mb1Builder(phys).memoryBounds(640, 65536).finish(flag));
      expect(boot.error).toBe(
        `garbled boot information: unknown multiboot flags 0x${((flag | MB1.MEMORY) >>> 0).toString(16)}`,
      );
    });

    it("an unterminated command line", () => {
      const mb = new Mb1Builder(phys).memoryBounds(640, 65536);
      phys.fill(0x5_0000, 8192, 0x41); // 8 KiB without a NUL
      phys.write32(0x9000 + 16, 0x5_0000);
      const boot = parse1(mb.finish(MB1.CMDLINE));
      expect(boot.error).toContain("garbled boot information");
      expect(boot.error).toContain("command line is not terminated");
    });

    it("an absurd module count", () => {
      const mb = new Mb1Builder(phys).memoryBounds(640, 65536).module(0x20_0000, 0x20_1000, "m");
      phys.write32(0x9000 + 20, 100000);
      const boot = parse1(mb.finish());
      expect(boot.error).toContain("garbled boot information: 100000 modules");
    });

    it("a module that ends before it starts", () => {
      const mb = new Mb1Builder(phys).memoryBounds(640, 65536)
        .module(0x20_0000, 0x20_1000, "fine")
        .module(0x30_0000, 0x2f_0000, "backwards");
      const boot = parse1(mb.finish());
      expect(boot.error).toContain("garbled boot information: module 1 is malformed");
    });

    it("a module with an unterminated command line", () => {
      const mb = new Mb1Builder(phys).memoryBounds(640, 65536).module(0x20_0000, 0x20_1000, "x");
      phys.fill(0x5_0000, 8192, 0x41);
      phys.write32(0xb000 + 8, 0x5_0000);
      const boot = parse1(mb.finish());
      expect(boot.error).toContain("garbled boot information: module 0 is malformed");
    });

    it.each([0, 8, 19, 257, 0xffff_ffff])("a memory map entry whose size field is %i", (size) => {
      const mb = new Mb1Builder(phys).mmapEntry(0x0n, 0x9fc00n, 1);
      mb.mmapEntry(0x100000n, 0x7ee0000n, 1);
      phys.write32(0xc000 + 24, size); // the second entry's size field
      const boot = parse1(mb.finish());
      expect(boot.error).toContain(`garbled boot information: memory map entry of ${size >>> 0} bytes`);
    });

    // Regression test for a bug the unit tests found (kernel/boot/multiboot1.ts readMemoryMap): an entry is
    // taken whole as long as it starts inside mmap_length, even when its
    // size runs past the end of the map. With mmap_length = 24 + 4 (one
    // entry and 4 stray bytes) the bytes after the map are read as a second
    // entry and added as a region; a truncated entry should be an error (or
    // at least be dropped).
    it("a memory map entry running past mmap_length", () => {
      const mb = new Mb1Builder(phys).mmapEntry(0x0n, 0x9fc00n, 1);
      mb.mmapEntry(0x100000n, 0x7ee0000n, 1); // lies beyond the length set below
      phys.write32(0x9000 + 44, 24 + 4);
      const boot = parse1(mb.finish());
      if (boot.error === null) expect(boot.memory).toEqual(asRegions([[0x0n, 0x9fc00n, 1]]));
      else expect(boot.error).toContain("garbled boot information");
    });

    it("neither memory map nor memory bounds", () => {
      const boot = parse1(new Mb1Builder(phys).cmdline("quiet").finish());
      expect(boot.error).toContain("no memory map");
      expect(boot.cmdline).toBe("quiet");
    });

    it("an empty memory map", () => {
      const mb = new Mb1Builder(phys).mmapEntry(0x0n, 0x9fc00n, 1);
      phys.write32(0x9000 + 44, 0); // mmap_length
      const boot = parse1(mb.finish());
      expect(boot.error).toContain("no memory map");
    });

    it("reports the first problem, not a later one", () => {
      const mb = new Mb1Builder(phys).mmapEntry(0x0n, 0x9fc00n, 1);
      phys.write32(0xc000, 4); // bad entry size
      // ...and no other memory information: the entry problem must be reported.
      const boot = parse1(mb.finish());
      expect(boot.error).toContain("memory map entry of 4 bytes");
      expect(boot.error).not.toContain("no memory map");
    });
  });
});

describe("multiboot 2", () => {
  const AT = 0x1_0000;

  it("reads command line, loader name, modules, memory map and the RSDP copy", () => {
    const rsdp = rsdpBytes({ revision: 0, oemId: "BOCHS" });
    const { total, tagAt } = writeMb2(phys, AT, [
      tags.cmdline("exit=emulator cpus=2"),
      tags.loaderName("GRUB 2.12"),
      tags.basicMeminfo(639, 130048), // types the parser does not use are skipped
      tags.module(0x20_0000, 0x20_0bb8, "module-0 role=test0"),
      tags.module(0x20_1000, 0x21_2170, "module-1 role=test1"),
      tags.mmap(E820),
      tags.loadBase(0x10_0000),
      tags.rsdp(TAG.ACPI_OLD, rsdp),
      tags.end(),
    ]);
    const boot = parse2(BigInt(AT));
    expect(boot.error).toBeNull();
    expect(boot.protocol).toBe("multiboot2");
    expect(boot.cmdline).toBe("exit=emulator cpus=2");
    expect(boot.loaderName).toBe("GRUB 2.12");
    expect(boot.modules).toEqual([
      { start: 0x20_0000n, end: 0x20_0bb8n, cmdline: "module-0 role=test0" },
      { start: 0x20_1000n, end: 0x21_2170n, cmdline: "module-1 role=test1" },
    ]);
    expect(boot.memory).toEqual(asRegions(E820));
    // The RSDP is the copy inside the tag, right after its 8-byte header.
    expect(boot.rsdp).toBe(BigInt(tagAt[7] + 8));
    expect([...phys.readBytes(boot.rsdp, 20)]).toEqual(rsdp);
    expect(boot.infoStart).toBe(BigInt(AT));
    expect(boot.infoEnd).toBe(BigInt(AT + total));
  });

  it("reads nothing outside the structure", () => {
    const { total } = writeMb2(phys, AT, [
      tags.cmdline("a"),
      tags.module(0x20_0000, 0x20_1000, "m"),
      tags.mmap(E820),
      tags.end(),
    ]);
    phys.trace = [];
    const boot = parse2(BigInt(AT));
    expect(boot.error).toBeNull();
    const outside = phys.trace.filter((a) => a < AT || a >= AT + total);
    expect(outside).toEqual([]);
  });

  it("prefers the ACPI 2.0 RSDP to the 1.0 one, in either order", () => {
    const old = tags.rsdp(TAG.ACPI_OLD, rsdpBytes({ revision: 0 }));
    const fresh = tags.rsdp(TAG.ACPI_NEW, rsdpBytes({ revision: 2 }));
    const mmap = tags.mmap(E820);
    let layout = writeMb2(phys, AT, [old, fresh, mmap, tags.end()]);
    expect(parse2(BigInt(AT)).rsdp).toBe(BigInt(layout.tagAt[1] + 8));
    layout = writeMb2(phys, AT, [fresh, old, mmap, tags.end()]);
    expect(parse2(BigInt(AT)).rsdp).toBe(BigInt(layout.tagAt[0] + 8));
    layout = writeMb2(phys, AT, [mmap, old, tags.end()]);
    expect(parse2(BigInt(AT)).rsdp).toBe(BigInt(layout.tagAt[1] + 8));
  });

  it("steps over memory map entries by entry_size", () => {
    writeMb2(phys, AT, [
      tags.mmap([[0x0n, 0x9fc00n, 1], [0x100000n, 0x3f00000n, 1], [0xfffc0000n, 0x40000n, 2]], 32),
      tags.end(),
    ]);
    const boot = parse2(BigInt(AT));
    expect(boot.error).toBeNull();
    expect(boot.memory).toEqual(
      asRegions([[0x0n, 0x9fc00n, 1], [0x100000n, 0x3f00000n, 1], [0xfffc0000n, 0x40000n, 2]]),
    );
  });

  it("stops at the end tag even if the structure claims more", () => {
    writeMb2(phys, AT, [tags.mmap(E820), tags.end(), tags.cmdline("after the end")], {});
    const boot = parse2(BigInt(AT));
    expect(boot.error).toBeNull();
    expect(boot.cmdline).toBe("");
  });

  it("takes an empty command line", () => {
    writeMb2(phys, AT, [tags.cmdline(""), tags.mmap(E820), tags.end()]);
    const boot = parse2(BigInt(AT));
    expect(boot.error).toBeNull();
    expect(boot.cmdline).toBe("");
  });

  describe("garbled", () => {
    const good: Tag[] = [tags.cmdline("x"), tags.mmap(E820), tags.end()];

    it("a null pointer", () => {
      const boot = parse2(0n);
      expect(boot.error).toContain("garbled boot information");
      expect(boot.error).toContain("null");
    });

    it.each([1, 4, 6])("a pointer misaligned by %i", (off) => {
      writeMb2(phys, AT + off, good); // a valid structure, at an address the spec forbids
      const boot = parse2(BigInt(AT + off));
      expect(boot.error).toContain("garbled boot information");
      expect(boot.error).toContain("misaligned");
    });

    it.each([0, 8, 15, 0x10_0001, 0xffff_ffff])("total_size %i", (size) => {
      writeMb2(phys, AT, good, { totalSize: size });
      const boot = parse2(BigInt(AT));
      expect(boot.error).toContain(`garbled boot information: multiboot2 info claims ${size >>> 0} bytes`);
    });

    it("a tag overrunning the structure", () => {
      const { tagAt } = writeMb2(phys, AT, [tags.cmdline("x"), tags.mmap(E820), tags.end()]);
      phys.write32(tagAt[1] + 4, 0x1000); // the memory map tag's size
      const boot = parse2(BigInt(AT));
      expect(boot.error).toContain("garbled boot information: tag 6 of 4096 bytes overruns the structure");
    });

    it("a total_size that cuts a tag short", () => {
      const { tagAt } = writeMb2(phys, AT, good);
      phys.write32(AT, tagAt[1] + 16 - AT); // ends inside the memory map tag
      const boot = parse2(BigInt(AT));
      expect(boot.error).toContain("garbled boot information");
      expect(boot.error).toContain("overruns the structure");
    });

    it.each([0, 4, 7])("a tag of size %i (would never advance)", (size) => {
      const { tagAt } = writeMb2(phys, AT, good);
      phys.write32(tagAt[0] + 4, size);
      const boot = parse2(BigInt(AT));
      expect(boot.error).toContain(`garbled boot information: tag 1 of ${size} bytes overruns the structure`);
    });

    it("a missing end tag", () => {
      writeMb2(phys, AT, [tags.cmdline("x"), tags.mmap(E820)]);
      phys.fill(AT + 0x1000, 64, 0xff); // whatever follows is not the parser's business
      const boot = parse2(BigInt(AT));
      expect(boot.error).toContain("garbled boot information: no end tag");
    });

    it("no memory map", () => {
      writeMb2(phys, AT, [tags.cmdline("x"), tags.loaderName("GRUB"), tags.end()]);
      const boot = parse2(BigInt(AT));
      expect(boot.error).toContain("no memory map");
      expect(boot.loaderName).toBe("GRUB");
    });

    it("an empty memory map", () => {
      writeMb2(phys, AT, [tags.mmap([]), tags.end()]);
      expect(parse2(BigInt(AT)).error).toContain("no memory map");
    });

    it.each([0, 8, 16, 23])("memory map entries of %i bytes", (entrySize) => {
      const { tagAt } = writeMb2(phys, AT, good);
      phys.write32(tagAt[1] + 8, entrySize);
      const boot = parse2(BigInt(AT));
      expect(boot.error).toContain(`garbled boot information: memory map entries of ${entrySize} bytes`);
    });

    it("an unterminated command line (no NUL in the next 4 KiB)", () => {
      const long = "A".repeat(6000);
      writeMb2(phys, AT, [tags.cmdline(long, false), tags.mmap(E820), tags.end()], { pad: 0x41 });
      const boot = parse2(BigInt(AT));
      expect(boot.error).toContain("garbled boot information: unterminated string in tag 1");
    });

    it("an unterminated loader name", () => {
      writeMb2(phys, AT, [tags.mmap(E820), tags.raw(TAG.LOADER_NAME, Array(5000).fill(0x47)), tags.end()], {
        pad: 0x47,
      });
      const boot = parse2(BigInt(AT));
      expect(boot.error).toContain("garbled boot information: unterminated string in tag 2");
    });

    it("a module that ends before it starts", () => {
      writeMb2(phys, AT, [
        tags.module(0x20_0000, 0x20_1000, "ok"),
        tags.module(0x30_0000, 0x20_0000, "bad"),
        tags.mmap(E820),
        tags.end(),
      ]);
      const boot = parse2(BigInt(AT));
      expect(boot.error).toContain("garbled boot information: module 1 is malformed");
    });

    // Regression test for a bug the unit tests found (kernel/boot/multiboot2.ts readTag, via bootinfo.ts
    // readCString): a tag's string is read up to the next NUL within 4 KiB,
    // not bounded by the tag's size. A command line tag of size 12 ("abcd",
    // no NUL) followed by non-zero padding parses without error, and the
    // command line runs on past the tag: "abcdXXXX\x06" (the padding, then the
    // first byte of the next tag's type).
    it("a string not terminated within its own tag", () => {
      writeMb2(phys, AT, [tags.cmdline("abcd", false), tags.mmap(E820), tags.end()], { pad: 0x58 });
      const boot = parse2(BigInt(AT));
      expect(boot.error).toContain("garbled boot information: unterminated string in tag 1");
    });

    // Regression test for a bug the unit tests found (kernel/boot/multiboot2.ts readTag): the fixed fields of a
    // tag are read without checking that the tag's size covers them. A module
    // tag of size 8 (no fields at all) followed by a command line tag
    // "hello world" parses without error as a module with start 1, end 0x14
    // (the next tag's type and size) and command line "hello world".
    it("a module tag too short for its fields", () => {
      writeMb2(phys, AT, [tags.raw(TAG.MODULE, []), tags.cmdline("hello world"), tags.mmap(E820), tags.end()]);
      const boot = parse2(BigInt(AT));
      expect(boot.error).toContain("garbled boot information");
    });

    // Regression test for a bug the unit tests found (same place): an ACPI RSDP tag (14 or 15) too short to hold
    // an RSDP (size 8, no payload) still sets BootInfo.rsdp = tag + 8, the
    // address of the next tag, which findRsdp() would then take as the RSDP.
    it.each([TAG.ACPI_OLD, TAG.ACPI_NEW])("an ACPI tag %i too short to hold an RSDP", (type) => {
      writeMb2(phys, AT, [tags.raw(type, []), tags.cmdline("hello world"), tags.mmap(E820), tags.end()]);
      const boot = parse2(BigInt(AT));
      expect(boot.error !== null || boot.rsdp === 0n).toBe(true);
    });

    // The same for a module tag's command line (a string bounded by the tag).
    it("a module string not terminated within its own tag", () => {
      writeMb2(phys, AT, [
        tags.raw(TAG.MODULE, [0, 0, 0x20, 0, 0, 0x10, 0x20, 0, 0x6d, 0x6f, 0x64]),
        tags.mmap(E820),
        tags.end(),
      ], { pad: 0x58 });
      const boot = parse2(BigInt(AT));
      expect(boot.error).toContain("garbled boot information: module 0 is malformed");
    });
  });
});

describe("command line", () => {
  const parse = (text: string) => unit.exports.cmdlineParse(unit.exports.__newString(text));
  const has = (key: string) => unit.exports.cmdlineHas(unit.exports.__newString(key)) !== 0;
  const get = (key: string, fallback?: string) => {
    const e = unit.exports;
    const ptr = fallback === undefined
      ? e.cmdlineGetDefault(e.__newString(key))
      : e.cmdlineGet(e.__newString(key), e.__newString(fallback));
    return e.__getString(ptr >>> 0);
  };

  it("splits words into keys and values", () => {
    parse("exit=emulator log=debug quiet cpus=2");
    expect(has("exit")).toBe(true);
    expect(get("exit")).toBe("emulator");
    expect(get("log")).toBe("debug");
    expect(get("cpus")).toBe("2");
    expect(has("quiet")).toBe(true);
    expect(get("quiet", "fallback")).toBe("");
  });

  it("answers missing keys with the fallback", () => {
    parse("a=1");
    expect(has("b")).toBe(false);
    expect(get("b")).toBe("");
    expect(get("b", "dflt")).toBe("dflt");
    expect(has("a=1")).toBe(false);
    expect(has("")).toBe(false);
  });

  it("hides every value of a secret's key, and only those, from what is logged", () => {
    const e = unit.exports;
    const hiding = (key: string) => e.__getString(e.cmdlineHiding(e.__newString(key)) >>> 0);
    parse("exit=emulator  api_token=s3cret quiet api_token=again gdb=x");
    expect(hiding("api_token")).toBe("exit=emulator api_token=(hidden) quiet api_token=(hidden) gdb=x");
    expect(hiding("nothing")).toBe("exit=emulator api_token=s3cret quiet api_token=again gdb=x");
  });

  it("takes the last of repeated keys", () => {
    parse("log=info log=debug log=trace");
    expect(get("log")).toBe("trace");
  });

  it("ignores runs of spaces and keeps later '=' in the value", () => {
    parse("   a=b=c    flag   empty=  ");
    expect(get("a")).toBe("b=c");
    expect(has("flag")).toBe(true);
    expect(has("empty")).toBe(true);
    expect(get("empty", "x")).toBe("");
    expect(has("")).toBe(false);
  });

  it("is empty for an empty line", () => {
    parse("");
    expect(has("exit")).toBe(false);
    expect(get("exit", "none")).toBe("none");
  });

  it("is case-sensitive", () => {
    parse("Log=debug");
    expect(has("log")).toBe(false);
    expect(get("Log")).toBe("debug");
  });
});
