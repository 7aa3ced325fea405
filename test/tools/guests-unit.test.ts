// The guest-kernel tooling's parts on synthetic inputs (no download, no QEMU):
// Debian version order, the kernel package filter, cpio newc, the initramfs
// contents, its drivers for virtio devices and its tscstamp program, kernel
// modules' .modinfo, load order, modules.dep and modules.alias, the bzImage setup header and payload, ELF notes and
// the PVH entry.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
import { checkKernelElf, parseElf64, pvhEntry, sectionByName, XEN_ELFNOTE_PHYS32_ENTRY } from "../../tools/guests/elf";
import { GuestError } from "../../tools/guests/errors";
import { APPLETS, BANNER, buildInitramfs, INIT_SCRIPT } from "../../tools/guests/initramfs";
import {
  GuestModules,
  KernelModule,
  loadOrder,
  modinfo,
  moduleName,
  modulesAlias,
  modulesDep,
} from "../../tools/guests/modules";

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

// A minimal ELF64 relocatable file with sections: the name table, .modinfo
// holding `modinfo`, and a .bss that takes no room in the file.
function makeModule(modinfo: string[]): Buffer {
  const names = Buffer.from("\0.shstrtab\0.modinfo\0.bss\0");
  const info = Buffer.from(modinfo.map((s) => `${s}\0`).join(""));
  const shoff = 64 + names.length + info.length;
  const ehdr = Buffer.alloc(64);
  ehdr.writeUInt32BE(0x7f454c46, 0);
  ehdr[4] = 2;
  ehdr[5] = 1;
  ehdr.writeUInt16LE(1, 16); // ET_REL
  ehdr.writeUInt16LE(62, 18);
  ehdr.writeBigUInt64LE(BigInt(shoff), 40);
  ehdr.writeUInt16LE(64, 58);
  ehdr.writeUInt16LE(4, 60);
  ehdr.writeUInt16LE(1, 62);
  const sh = (name: number, type: number, offset: number, size: number) => {
    const b = Buffer.alloc(64);
    b.writeUInt32LE(name, 0);
    b.writeUInt32LE(type, 4);
    b.writeBigUInt64LE(BigInt(offset), 24);
    b.writeBigUInt64LE(BigInt(size), 32);
    return b;
  };
  return Buffer.concat([
    ehdr,
    names,
    info,
    sh(0, 0, 0, 0),
    sh(names.indexOf(".shstrtab"), 3, 64, names.length),
    sh(names.indexOf(".modinfo"), 1, 64 + names.length, info.length),
    sh(names.indexOf(".bss"), 8, shoff, 1 << 20),
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
  const fakePrograms = {
    tscstamp: Buffer.from("\x7fELF not really tscstamp"),
    diskbench: Buffer.from("\x7fELF not really diskbench"),
    netbench: Buffer.from("\x7fELF not really netbench"),
  };
  const fakeModule = (name: string, file: string, depends: string[] = [], aliases: string[] = []): KernelModule => ({
    name,
    file,
    depends,
    aliases,
    data: Buffer.from(`\x7fELF not really ${name}`),
  });
  const fakeModules: GuestModules = {
    release: "6.99.0-test",
    modules: [
      fakeModule("crc_x", "kernel/lib/crc-x.ko"),
      fakeModule("fs_y", "kernel/fs/y/fs_y.ko", ["crc_x"], ["fs-y"]),
    ],
    builtin: ["virtio_pci"],
  };
  it("has busybox, tscstamp, diskbench, netbench, applet links, device nodes and /init", () => {
    const built = buildInitramfs(fakeBusybox, null, fakePrograms, fakeModules);
    const entries = readCpio(built.cpio);
    const byName = new Map(entries.map((e) => [e.name, e]));
    expect(byName.get("bin/busybox")!.data.equals(fakeBusybox)).toBe(true);
    expect(byName.get("bin/busybox")!.mode).toBe(S_IFREG | 0o755);
    for (const [name, executable] of Object.entries(fakePrograms)) {
      expect(byName.get(`bin/${name}`)!.data.equals(executable)).toBe(true);
      expect(byName.get(`bin/${name}`)!.mode).toBe(S_IFREG | 0o755);
    }
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
    const built = buildInitramfs(fakeBusybox, some, fakePrograms, fakeModules);
    expect(built.missing).toEqual(["vi"]);
    expect(readCpio(built.cpio).some((e) => e.name === "bin/vi")).toBe(false);
    for (const needed of ["cttyhack", "modprobe"]) {
      const without = new Set(APPLETS.filter((a) => a !== needed));
      expect(() => buildInitramfs(fakeBusybox, without, fakePrograms, fakeModules)).toThrow(needed);
    }
  });
  it("is reproducible", () => {
    const build = () => buildInitramfs(fakeBusybox, null, fakePrograms, fakeModules).gz;
    expect(build().equals(build())).toBe(true);
  });
  it("has the modules in lib/modules/<release>/ with modules.dep and modules.alias", () => {
    const byName = new Map(
      readCpio(buildInitramfs(fakeBusybox, null, fakePrograms, fakeModules).cpio).map((e) => [e.name, e]),
    );
    for (const m of fakeModules.modules) {
      expect(byName.get(`lib/modules/6.99.0-test/${m.file}`)?.data.equals(m.data), m.name).toBe(true);
    }
    expect(byName.get("lib/modules/6.99.0-test/modules.dep")!.data.toString()).toBe(modulesDep(fakeModules.modules));
    expect(byName.get("lib/modules/6.99.0-test/modules.alias")!.data.toString()).toBe("alias fs-y fs_y\n");
  });
  // /init's lines for the virtio devices, run by the host's sh on a made-up
  // sysfs (a device with its driver, two without) with a modprobe that finds
  // a driver for one of those two.
  it.skipIf(!has("sh"))("loads drivers for the virtio devices without one before the banner, quietly", () => {
    const lines = INIT_SCRIPT.split("\n");
    const from = lines.findIndex((l) => l.startsWith("for device in /sys/bus/virtio/devices/"));
    const to = lines.indexOf("done", from);
    expect(from).toBeGreaterThan(0);
    expect(lines.findIndex((l) => l.includes(BANNER))).toBeGreaterThan(to);
    const root = mkdtempSync(join(tmpdir(), "initramfs-virtio-"));
    try {
      const device = (name: string, modalias: string, bound: boolean) => {
        mkdirSync(join(root, "devices", name, ...(bound ? ["driver"] : [])), { recursive: true });
        writeFileSync(join(root, "devices", name, "modalias"), `${modalias}\n`);
      };
      const coldplug = () => {
        const snippet = lines.slice(from, to + 1).join("\n").replace("/sys/bus/virtio/devices", join(root, "devices"));
        return spawnSync("sh", ["-c", snippet], {
          encoding: "utf8",
          env: { PATH: `${join(root, "bin")}:/usr/bin:/bin` },
        });
      };
      mkdirSync(join(root, "bin"));
      writeFileSync(
        join(root, "bin", "modprobe"),
        `#!/bin/sh\necho "$*" >> ${root}/probed\necho "modprobe: $1 not found" >&2\n`
          + "[ \"$1\" = virtio:d00000002v00001AF4 ]\n",
        { mode: 0o755 },
      );
      mkdirSync(join(root, "devices"));
      expect(coldplug()).toMatchObject({ status: 0, stdout: "", stderr: "" });
      device("virtio0", "virtio:d00000003v00001AF4", true);
      device("virtio1", "virtio:d00000002v00001AF4", false);
      device("virtio2", "virtio:d00000001v00001AF4", false);
      expect(coldplug()).toMatchObject({
        stdout: "typervisor-initramfs: cannot load a driver for virtio:d00000001v00001AF4\n",
        stderr: "",
      });
      expect(readFileSync(join(root, "probed"), "utf8")).toBe("virtio:d00000002v00001AF4\nvirtio:d00000001v00001AF4\n");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("kernel modules", () => {
  it("are named by their file, with underscores for dashes", () => {
    expect(moduleName("kernel/drivers/char/hw_random/virtio-rng.ko.xz")).toBe("virtio_rng");
    expect(moduleName("kernel/fs/ext4/ext4.ko")).toBe("ext4");
    expect(moduleName("kernel/arch/x86/crypto/crc32c-intel.ko.zst")).toBe("crc32c_intel");
  });
  it("say what they depend on in .modinfo, past sections that take no room in the file", () => {
    const module = makeModule(["alias=fs-ext4", "depends=jbd2,crc16,mbcache", "alias=ext2", "name=ext4", "x"]);
    const info = modinfo(module);
    expect(info.get("depends")).toEqual(["jbd2,crc16,mbcache"]);
    expect(info.get("alias")).toEqual(["fs-ext4", "ext2"]);
    expect(info.get("name")).toEqual(["ext4"]);
    expect(sectionByName(module, ".text")).toBeNull();
    expect(() => modinfo(makeElf([pvhNote(1n)]))).toThrow(/\.modinfo/);
    expect(() => modinfo(module.subarray(0, 100))).toThrow(GuestError);
  });
  it("load after what they depend on, each once, in the order asked otherwise", () => {
    const graph: Record<string, string[]> = {
      virtio_blk: [],
      ext4: ["jbd2", "crc16", "mbcache"],
      jbd2: [],
      crc16: [],
      mbcache: [],
      vfat: ["fat"],
      msdos: ["fat"],
      fat: [],
    };
    const read = (name: string): KernelModule => ({
      name,
      file: `${name}.ko`,
      depends: graph[name],
      aliases: [],
      data: Buffer.alloc(0),
    });
    expect(loadOrder(["virtio_blk", "ext4", "vfat", "msdos", "jbd2"], read).map((m) => m.name)).toEqual([
      "virtio_blk",
      "jbd2",
      "crc16",
      "mbcache",
      "ext4",
      "fat",
      "vfat",
      "msdos",
    ]);
    graph.fat = ["msdos"];
    expect(() => loadOrder(["vfat"], read)).toThrow("vfat -> fat -> msdos -> fat");
  });
  it("make a modules.dep with all each needs, to load from the end of the line, and a modules.alias", () => {
    const module = (name: string, depends: string[], aliases: string[] = []): KernelModule => ({
      name,
      file: `kernel/${name.replace("_", "-")}.ko`,
      depends,
      aliases,
      data: Buffer.alloc(0),
    });
    const modules = [
      module("crc_a", []),
      module("lib_b", ["crc_a"]),
      module("crc_c", []),
      module("fs_d", ["lib_b", "crc_c"], ["fs-d", "fs-dee"]),
      module("dev_e", [], ["virtio:d00000002v*"]),
    ];
    expect(modulesDep(modules)).toBe(
      "kernel/crc-a.ko:\n"
        + "kernel/lib-b.ko: kernel/crc-a.ko\n"
        + "kernel/crc-c.ko:\n"
        + "kernel/fs-d.ko: kernel/crc-c.ko kernel/lib-b.ko kernel/crc-a.ko\n"
        + "kernel/dev-e.ko:\n",
    );
    expect(modulesAlias(modules)).toBe("alias fs-d fs_d\nalias fs-dee fs_d\nalias virtio:d00000002v* dev_e\n");
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
