// The guest-kernel tooling's parts on synthetic inputs (no download, no QEMU):
// Debian version order, the kernel package filter, cpio newc, the initramfs
// contents and its tscstamp program, the bzImage setup header and payload, ELF
// notes and the PVH entry.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { compareDebianVersions, KERNEL_PACKAGE, KernelCandidate, sortKernelCandidates } from "../../tools/guests/apt";
import { detectCompression, extractPayload, parseSetupHeader } from "../../tools/guests/bzimage";
import {
  chardev,
  dir,
  file,
  readCpio,
  S_IFCHR,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  symlink,
  writeCpio,
} from "../../tools/guests/cpio";
import { checkKernelElf, parseElf64, pvhEntry, XEN_ELFNOTE_PHYS32_ENTRY } from "../../tools/guests/elf";
import { GuestError } from "../../tools/guests/errors";
import { APPLETS, BANNER, buildInitramfs, INIT_SCRIPT } from "../../tools/guests/initramfs";
import { buildTscStamp, parseTscStamp } from "../../tools/guests/tscstamp";

const has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;

// A minimal ELF64 x86-64 executable: one PT_LOAD, and a PT_NOTE with the given notes.
function makeElf(
  notes: Array<{ name: string; type: number; desc: Buffer }>,
  machine = 62,
  trailer = Buffer.alloc(0),
): Buffer {
  const noteData = Buffer.concat(notes.map((n) => {
    const name = Buffer.from(`${n.name}\0`);
    const h = Buffer.alloc(12);
    h.writeUInt32LE(name.length, 0);
    h.writeUInt32LE(n.desc.length, 4);
    h.writeUInt32LE(n.type, 8);
    const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
    return Buffer.concat([h, pad(name), pad(n.desc)]);
  }));
  const code = Buffer.alloc(256, 0x90);
  const phoff = 64;
  const noteOff = phoff + 2 * 56;
  const codeOff = noteOff + noteData.length;
  const ehdr = Buffer.alloc(64);
  ehdr.writeUInt32BE(0x7f454c46, 0);
  ehdr[4] = 2;
  ehdr[5] = 1;
  ehdr[6] = 1;
  ehdr.writeUInt16LE(2, 16);
  ehdr.writeUInt16LE(machine, 18);
  ehdr.writeUInt32LE(1, 20);
  ehdr.writeBigUInt64LE(0x1000000n, 24);
  ehdr.writeBigUInt64LE(BigInt(phoff), 32);
  ehdr.writeUInt16LE(64, 52);
  ehdr.writeUInt16LE(56, 54);
  ehdr.writeUInt16LE(2, 56);
  ehdr.writeUInt16LE(64, 58);
  const ph = (type: number, off: number, size: number, addr: bigint) => {
    const b = Buffer.alloc(56);
    b.writeUInt32LE(type, 0);
    b.writeUInt32LE(5, 4);
    b.writeBigUInt64LE(BigInt(off), 8);
    b.writeBigUInt64LE(addr, 16);
    b.writeBigUInt64LE(addr, 24);
    b.writeBigUInt64LE(BigInt(size), 32);
    b.writeBigUInt64LE(BigInt(size), 40);
    b.writeBigUInt64LE(4n, 48);
    return b;
  };
  return Buffer.concat([
    ehdr,
    ph(1, codeOff, code.length, 0x1000000n),
    ph(4, noteOff, noteData.length, 0n),
    noteData,
    code,
    trailer,
  ]);
}

const pvhNote = (addr: bigint) => {
  const desc = Buffer.alloc(8);
  desc.writeBigUInt64LE(addr);
  return { name: "Xen", type: XEN_ELFNOTE_PHYS32_ENTRY, desc };
};

// A bzImage-shaped file: 1 setup sector after the boot sector, the header, a payload.
function makeBzImage(payload: Buffer, protocol = 0x20f): Buffer {
  const setupSects = 1;
  const pm = Buffer.alloc(0x100, 0xcc);
  const image = Buffer.alloc((setupSects + 1) * 512);
  image[0x1f1] = setupSects;
  image.writeUInt16LE(0xaa55, 0x1fe);
  image.write("HdrS", 0x202, "latin1");
  image.writeUInt16LE(protocol, 0x206);
  image.writeUInt16LE(0x300 - 0x200, 0x20e);
  image.write("6.99.0-test (someone@example) #1\0", 0x300, "latin1");
  image.writeUInt32LE(pm.length, 0x248);
  image.writeUInt32LE(payload.length, 0x24c);
  return Buffer.concat([image, pm, payload]);
}

const sizeAppended = (compressed: Buffer, size: number) => {
  const s = Buffer.alloc(4);
  s.writeUInt32LE(size);
  return Buffer.concat([compressed, s]);
};

describe("Debian versions", () => {
  const pairs: Array<[string, string, number]> = [
    ["6.12.117-1~deb12u1", "6.1.192-2", 1],
    ["6.1.192-2", "6.1.176-1", 1],
    ["1.0~rc1", "1.0", -1],
    ["1:1.0", "2.0", 1],
    ["1.0-1", "1.0-1+b1", -1],
    ["1:1.35.0-4+deb12u1+b1", "1:1.35.0-4+deb12u1", 1],
    ["1.0a", "1.0", 1],
    ["1.0", "1.0", 0],
    ["1.010", "1.9", 1],
    ["2.0-1~bpo12+1", "2.0-1", -1],
  ];
  it("orders like dpkg", () => {
    for (const [a, b, sign] of pairs) {
      expect(Math.sign(compareDebianVersions(a, b)), `${a} vs ${b}`).toBe(sign);
      expect(Math.sign(compareDebianVersions(b, a)), `${b} vs ${a}`).toBe(-sign || 0);
    }
  });
  it.skipIf(!has("dpkg"))("agrees with dpkg --compare-versions", () => {
    for (const [a, b] of pairs) {
      const lt = spawnSync("dpkg", ["--compare-versions", a, "lt", b]).status === 0;
      const eq = spawnSync("dpkg", ["--compare-versions", a, "eq", b]).status === 0;
      expect(Math.sign(compareDebianVersions(a, b)), `${a} vs ${b}`).toBe(lt ? -1 : eq ? 0 : 1);
    }
  });
});

describe("kernel packages", () => {
  it("accepts versioned amd64 images only", () => {
    for (
      const name of [
        "linux-image-6.1.0-56-amd64",
        "linux-image-6.12.117+deb12-amd64",
        "linux-image-6.1.0-56-amd64-unsigned",
        "linux-image-6.12.43+deb13-amd64",
      ]
    ) expect(KERNEL_PACKAGE.test(name), name).toBe(true);
    for (
      const name of [
        "linux-image-amd64",
        "linux-image-6.12-amd64",
        "linux-image-6.1.0-56-cloud-amd64",
        "linux-image-6.1.0-56-rt-amd64",
        "linux-image-6.1.0-56-amd64-dbg",
        "linux-image-6.1.0-56-arm64",
        "linux-image-amd64-signed-template",
      ]
    ) expect(KERNEL_PACKAGE.test(name), name).toBe(false);
    expect(KERNEL_PACKAGE.exec("linux-image-6.1.0-56-amd64")![1]).toBe("6.1.0-56");
    expect(KERNEL_PACKAGE.exec("linux-image-6.12.117+deb12-amd64-unsigned")![1]).toBe("6.12.117+deb12");
  });
  it("picks the newest, signed before unsigned", () => {
    const c = (name: string, version: string, signed = true): KernelCandidate => ({ name, version, abi: "", signed });
    const sorted = sortKernelCandidates([
      c("linux-image-6.1.0-56-amd64", "6.1.192-2"),
      c("linux-image-6.12.117+deb12-amd64-unsigned", "6.12.117-1~deb12u1", false),
      c("linux-image-6.12.117+deb12-amd64", "6.12.117-1~deb12u1"),
      c("linux-image-6.12.100+deb12-amd64", "6.12.100-1~deb12u1"),
    ]);
    expect(sorted.map((s) => s.name)).toEqual([
      "linux-image-6.12.117+deb12-amd64",
      "linux-image-6.12.117+deb12-amd64-unsigned",
      "linux-image-6.12.100+deb12-amd64",
      "linux-image-6.1.0-56-amd64",
    ]);
  });
});

describe("cpio newc", () => {
  const entries = [
    dir("bin"),
    dir("dev"),
    chardev("dev/console", 5, 1),
    file("bin/busybox", Buffer.from("\x7fELF fake busybox"), 0o755),
    symlink("bin/sh", "busybox"),
    file("init", Buffer.from("#!/bin/sh\necho hi\n"), 0o755),
    file("empty", Buffer.alloc(0)),
  ];
  it("round-trips, 4-byte aligned, with a trailer", () => {
    const archive = writeCpio(entries);
    expect(archive.length % 4).toBe(0);
    expect(archive.toString("latin1", 0, 6)).toBe("070701");
    expect(archive.includes("TRAILER!!!")).toBe(true);
    const back = readCpio(archive);
    expect(back.map((e) => e.name)).toEqual(entries.map((e) => e.name));
    expect(back[2].mode & S_IFMT).toBe(S_IFCHR);
    expect([back[2].rdevMajor, back[2].rdevMinor]).toEqual([5, 1]);
    expect(back[3].mode).toBe(S_IFREG | 0o755);
    expect(back[3].data.toString()).toBe("\x7fELF fake busybox");
    expect(back[4].mode & S_IFMT).toBe(S_IFLNK);
    expect(back[4].data.toString()).toBe("busybox");
    expect(back[0].mode & S_IFMT).toBe(S_IFDIR);
    expect(new Set(back.map((e) => e.ino)).size).toBe(back.length);
    expect(writeCpio(entries).equals(archive)).toBe(true);
  });
  it("rejects duplicates, absolute names and garbage", () => {
    expect(() => writeCpio([dir("a"), dir("a")])).toThrow(/duplicate/);
    expect(() => writeCpio([dir("/a")])).toThrow(/bad entry name/);
    expect(() => readCpio(Buffer.from("070707" + "0".repeat(200)))).toThrow(/bad magic/);
    expect(() => readCpio(writeCpio(entries).subarray(0, 300))).toThrow();
  });
  it.skipIf(!has("cpio"))("is what GNU cpio reads as newc", () => {
    const r = spawnSync("cpio", ["-it", "--quiet", "-H", "newc"], { input: writeCpio(entries), encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual(entries.map((e) => e.name));
  });
});

describe("initramfs", () => {
  const fakeBusybox = Buffer.from("\x7fELF not really busybox");
  const fakeStamp = Buffer.from("\x7fELF not really tscstamp");
  it("has busybox, tscstamp, applet links, device nodes and /init", () => {
    const built = buildInitramfs(fakeBusybox, null, fakeStamp);
    const entries = readCpio(built.cpio);
    const byName = new Map(entries.map((e) => [e.name, e]));
    expect(byName.get("bin/busybox")!.data.equals(fakeBusybox)).toBe(true);
    expect(byName.get("bin/busybox")!.mode).toBe(S_IFREG | 0o755);
    expect(byName.get("bin/tscstamp")!.data.equals(fakeStamp)).toBe(true);
    expect(byName.get("bin/tscstamp")!.mode).toBe(S_IFREG | 0o755);
    for (
      const a of [
        "sh",
        "mount",
        "uname",
        "cat",
        "grep",
        "head",
        "dmesg",
        "poweroff",
        "ls",
        "echo",
        "setsid",
        "cttyhack",
      ]
    ) {
      expect(byName.get(`bin/${a}`)?.data.toString(), a).toBe("busybox");
    }
    for (const d of ["dev", "proc", "sys", "tmp"]) expect(byName.get(d)!.mode & S_IFMT, d).toBe(S_IFDIR);
    expect(byName.get("dev/console")).toMatchObject({ rdevMajor: 5, rdevMinor: 1 });
    const init = byName.get("init")!;
    expect(init.mode).toBe(S_IFREG | 0o755);
    expect(init.data.toString()).toBe(INIT_SCRIPT);
    // Parents come before what is in them (the kernel does not create them).
    const seen = new Set<string>();
    for (const e of entries) {
      const parent = e.name.includes("/") ? e.name.slice(0, e.name.lastIndexOf("/")) : null;
      if (parent) expect(seen.has(parent), e.name).toBe(true);
      seen.add(e.name);
    }
  });
  it("stamps the TSC before anything else, then mounts, prints the banner and runs a shell on the console", () => {
    expect(INIT_SCRIPT.split("\n").filter((l) => l && !l.startsWith("#"))[0]).toBe("/bin/tscstamp");
    for (
      const line of [
        "mount -t proc proc /proc",
        "mount -t sysfs sysfs /sys",
        "mount -t devtmpfs devtmpfs /dev",
        "setsid cttyhack /bin/sh",
        "poweroff -f",
      ]
    ) expect(INIT_SCRIPT).toContain(line);
    expect(INIT_SCRIPT).toContain(BANNER);
    expect(INIT_SCRIPT.startsWith("#!/bin/busybox sh\n")).toBe(true);
  });
  it("leaves out applets busybox lacks, but not ones /init needs", () => {
    const some = new Set(APPLETS.filter((a) => a !== "vi"));
    const built = buildInitramfs(fakeBusybox, some, fakeStamp);
    expect(built.missing).toEqual(["vi"]);
    expect(readCpio(built.cpio).some((e) => e.name === "bin/vi")).toBe(false);
    expect(() => buildInitramfs(fakeBusybox, new Set(APPLETS.filter((a) => a !== "cttyhack")), fakeStamp)).toThrow(
      /cttyhack/,
    );
  });
  it("is reproducible", () => {
    expect(buildInitramfs(fakeBusybox, null, fakeStamp).gz.equals(buildInitramfs(fakeBusybox, null, fakeStamp).gz))
      .toBe(true);
  });
  // It is a static x86-64 Linux program, so it runs here too.
  it("has a tscstamp that is a static executable printing a TSC that only grows, built reproducibly", () => {
    const stamp = buildTscStamp();
    expect(stamp.equals(buildTscStamp())).toBe(true);
    const elf = parseElf64(stamp);
    expect(elf.type).toBe(2); // ET_EXEC
    expect(elf.machine).toBe(62); // EM_X86_64
    expect(elf.programHeaders.some((p) => p.type === 3), "PT_INTERP").toBe(false);
    const dir = mkdtempSync(join(tmpdir(), "tscstamp-test-"));
    try {
      writeFileSync(join(dir, "tscstamp"), stamp, { mode: 0o755 });
      const runs = [0, 1].map(() => spawnSync(join(dir, "tscstamp"), { encoding: "utf8" }));
      for (const r of runs) {
        expect(r.status).toBe(0);
        expect(r.stdout).toMatch(/^tscstamp: \/init at tsc \d+\n$/);
      }
      expect(parseTscStamp(runs[1].stdout)!).toBeGreaterThan(parseTscStamp(runs[0].stdout)!);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("ELF and the PVH note", () => {
  it("finds the PVH entry among other notes (8- and 4-byte descriptions)", () => {
    const four = Buffer.alloc(4);
    four.writeUInt32LE(0x1000a30);
    const elf = parseElf64(
      makeElf([{ name: "GNU", type: 3, desc: Buffer.alloc(20, 1) }, {
        name: "Xen",
        type: 6,
        desc: Buffer.from("linux\0"),
      }, pvhNote(0x1000a30n)]),
    );
    expect(pvhEntry(elf)).toBe(0x1000a30n);
    expect(elf.entry).toBe(0x1000000n);
    expect(pvhEntry(parseElf64(makeElf([{ name: "Xen", type: XEN_ELFNOTE_PHYS32_ENTRY, desc: four }])))).toBe(
      0x1000a30n,
    );
  });
  it("knows where the ELF contents end (trailing data is not ELF)", () => {
    const plain = makeElf([pvhNote(1n)]);
    expect(parseElf64(Buffer.concat([plain, Buffer.alloc(1000, 7)])).end).toBe(plain.length);
  });
  it("rejects a kernel without the note, not x86-64, or not ELF", () => {
    expect(() => checkKernelElf(makeElf([{ name: "Xen", type: 6, desc: Buffer.from("linux\0") }]))).toThrow(/PVH/);
    expect(() => checkKernelElf(makeElf([pvhNote(1n)], 3))).toThrow(/x86-64/);
    expect(() => checkKernelElf(Buffer.alloc(100))).toThrow(/ELF magic/);
    expect(() => checkKernelElf(makeElf([pvhNote(1n)]).subarray(0, 150))).toThrow(GuestError);
  });
});

describe("bzImage", () => {
  const elf = makeElf([pvhNote(0x1000a30n)], 62, Buffer.alloc(4096, 0xee));
  it("reads the setup header", () => {
    const hdr = parseSetupHeader(makeBzImage(gzipSync(elf)));
    expect(hdr.protocol).toBe(0x20f);
    expect(hdr.protocolText).toBe("2.15");
    expect(hdr.setupSects).toBe(1);
    expect(hdr.protectedModeOffset).toBe(1024);
    expect(hdr.payloadOffset).toBe(0x100);
    expect(hdr.kernelVersion).toBe("6.99.0-test (someone@example) #1");
  });
  it("decompresses a gzip payload", () => {
    const p = extractPayload(makeBzImage(gzipSync(elf)));
    expect(p.compression).toBe("gzip");
    expect(p.data.equals(elf)).toBe(true);
  });
  it.skipIf(!has("xz"))("decompresses an xz payload with its size appended", () => {
    const xz = spawnSync("xz", ["-c", "--check=crc32"], { input: elf }).stdout as Buffer;
    const p = extractPayload(makeBzImage(sizeAppended(xz, elf.length)));
    expect(p.compression).toBe("xz");
    expect(p.data.equals(elf)).toBe(true);
    expect(() => extractPayload(makeBzImage(sizeAppended(xz, elf.length + 1)))).toThrow(/corrupt/);
  });
  it.skipIf(!has("zstd"))("decompresses a zstd payload with its size appended", () => {
    const zst = spawnSync("zstd", ["-c", "-q"], { input: elf }).stdout as Buffer;
    const p = extractPayload(makeBzImage(sizeAppended(zst, elf.length)));
    expect(p.compression).toBe("zstd");
    expect(p.data.equals(elf)).toBe(true);
    const broken = Buffer.from(zst);
    broken.fill(0x55, 12, zst.length - 8);
    expect(() => extractPayload(makeBzImage(sizeAppended(broken, elf.length)))).toThrow(/corrupt/);
  });
  it("says what is wrong with a bad image", () => {
    expect(() => parseSetupHeader(Buffer.alloc(4096))).toThrow(/HdrS/);
    expect(() => extractPayload(makeBzImage(gzipSync(elf), 0x206))).toThrow(/2\.08/);
    expect(() => extractPayload(makeBzImage(Buffer.alloc(64, 0x42)))).toThrow(/unknown compression/);
    const whole = makeBzImage(gzipSync(elf));
    expect(() => extractPayload(whole.subarray(0, whole.length - 10))).toThrow(/outside/);
    const gz = gzipSync(elf);
    gz.fill(0, 20, 60);
    expect(() => extractPayload(makeBzImage(gz))).toThrow(GuestError);
    expect(detectCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0]))).toBe("xz");
  });
});
