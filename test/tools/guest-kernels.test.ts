// The Linux guest kernel from Debian (tools/guests, `make guest-kernels`): the
// cached outputs are what they claim to be, the initramfs holds Debian's
// modules for virtio disks and entropy, ext4 and vfat, ready for modprobe; and
// the kernel with its initramfs boots bare under QEMU (no hypervisor) to a
// shell, from the bzImage and from the vmlinux through its PVH entry, and with
// a virtio disk and entropy source it drives them. Builds the cache when missing
// (about 110 MB from the Debian mirror); skipped when that cannot be done (no
// package lists, no network), failed when what was downloaded is wrong.
//
// The formats are parsed here independently of tools/guests.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { bootGuest } from "../../tools/guests/boot";
import { ensureGuests, guestPaths, Manifest } from "../../tools/guests/debian";
import { GuestError } from "../../tools/guests/errors";
import { BANNER, PROMPT } from "../../tools/guests/initramfs";

const paths = guestPaths();
let manifest: Manifest | null = null;
let unavailable = "";
try {
  manifest = ensureGuests({ log: (s) => console.log(`guest-kernels: ${s}`) });
} catch (e) {
  if (!(e instanceof GuestError && e.kind === "unavailable")) throw e;
  unavailable = e.message;
  console.warn(`guest-kernels: skipped, the guest kernel cannot be had:\n${unavailable}`);
}

// ELF64 notes of every PT_NOTE segment.
function elfNotes(elf: Buffer): Array<{ name: string; type: number; desc: Buffer }> {
  const notes = [];
  const phoff = Number(elf.readBigUInt64LE(32));
  for (let i = 0; i < elf.readUInt16LE(56); i++) {
    const ph = phoff + i * elf.readUInt16LE(54);
    if (elf.readUInt32LE(ph) !== 4) continue;
    const start = Number(elf.readBigUInt64LE(ph + 8));
    const end = start + Number(elf.readBigUInt64LE(ph + 32));
    for (let o = start; o + 12 <= end;) {
      const namesz = elf.readUInt32LE(o);
      const descsz = elf.readUInt32LE(o + 4);
      const name = elf.toString("latin1", o + 12, o + 12 + namesz).replace(/\0+$/, "");
      const desc = o + 12 + ((namesz + 3) & ~3);
      notes.push({ name, type: elf.readUInt32LE(o + 8), desc: elf.subarray(desc, desc + descsz) });
      o = desc + ((descsz + 3) & ~3);
    }
  }
  return notes;
}

// A kernel module's .modinfo strings (key=value, NUL-separated) by key, found
// through its section headers.
function modinfo(module: Buffer): Map<string, string[]> {
  const header = (i: number) => Number(module.readBigUInt64LE(40)) + i * module.readUInt16LE(58);
  const contents = (i: number) => {
    const offset = Number(module.readBigUInt64LE(header(i) + 24));
    return module.subarray(offset, offset + Number(module.readBigUInt64LE(header(i) + 32)));
  };
  const names = contents(module.readUInt16LE(62));
  for (let i = 0; i < module.readUInt16LE(60); i++) {
    const name = module.readUInt32LE(header(i));
    if (names.toString("latin1", name, names.indexOf(0, name)) !== ".modinfo") continue;
    const info = new Map<string, string[]>();
    for (const entry of contents(i).toString("latin1").split("\0").filter((e) => e.includes("="))) {
      const key = entry.slice(0, entry.indexOf("="));
      info.set(key, [...(info.get(key) ?? []), entry.slice(key.length + 1)]);
    }
    return info;
  }
  throw new Error("no .modinfo section");
}

// newc entries: name -> { mode, data }.
function newcEntries(archive: Buffer): Map<string, { mode: number; data: Buffer }> {
  const entries = new Map<string, { mode: number; data: Buffer }>();
  for (let o = 0;;) {
    expect(archive.toString("latin1", o, o + 6)).toBe("070701");
    const field = (i: number) => parseInt(archive.toString("latin1", o + 6 + i * 8, o + 14 + i * 8), 16);
    const size = field(6);
    const namesize = field(11);
    const name = archive.toString("utf8", o + 110, o + 110 + namesize - 1);
    const data = (o + 110 + namesize + 3) & ~3;
    if (name === "TRAILER!!!") return entries;
    entries.set(name, { mode: field(1), data: archive.subarray(data, data + size) });
    o = (data + size + 3) & ~3;
  }
}

describe.skipIf(!manifest)("guest kernel from Debian", () => {
  it("records the packages and outputs it used", () => {
    const m = manifest!;
    expect(m.kernel.package).toMatch(/^linux-image-\S+-amd64(-unsigned)?$/);
    expect(m.kernel.version).toBeTruthy();
    expect(m.busybox.package).toBe("busybox-static");
    for (const out of Object.values(m.outputs)) expect(statSync(`${paths.dir}/${out.file}`).size).toBe(out.size);
  });

  it("is not downloaded or rebuilt when it is there", () => {
    const before = statSync(paths.vmlinux).mtimeMs;
    const log: string[] = [];
    expect(ensureGuests({ log: (s) => log.push(s) })).toEqual(manifest);
    expect(log).toEqual([]);
    expect(statSync(paths.vmlinux).mtimeMs).toBe(before);
  });

  it("has a bzImage with boot protocol 2.12 or later", () => {
    const image = readFileSync(paths.bzImage);
    expect(image.toString("latin1", 0x202, 0x206)).toBe("HdrS");
    expect(image.readUInt16LE(0x206)).toBeGreaterThanOrEqual(0x20c);
    expect(image.readUInt16LE(0x1fe)).toBe(0xaa55);
  });

  it("has a vmlinux that is ELF64 x86-64 with a PVH entry note", () => {
    const elf = readFileSync(paths.vmlinux);
    expect(elf.readUInt32BE(0)).toBe(0x7f454c46);
    expect(elf[4]).toBe(2); // ELFCLASS64
    expect(elf[5]).toBe(1); // little-endian
    expect(elf.readUInt16LE(18)).toBe(62); // EM_X86_64
    const pvh = elfNotes(elf).find((n) => n.name === "Xen" && n.type === 18);
    expect(pvh, "XEN_ELFNOTE_PHYS32_ENTRY").toBeDefined();
    const entry = pvh!.desc.length >= 8 ? pvh!.desc.readBigUInt64LE(0) : BigInt(pvh!.desc.readUInt32LE(0));
    expect(`0x${entry.toString(16)}`).toBe(manifest!.kernel.pvhEntry);
    expect(entry).toBeGreaterThanOrEqual(0x100000n);
    expect(entry).toBeLessThan(1n << 32n);
  });

  it("has a gzip'ed newc initramfs with a static busybox, tscstamp and /init", () => {
    const entries = newcEntries(gunzipSync(readFileSync(paths.initramfs)));
    for (const program of ["bin/busybox", "bin/tscstamp"]) {
      const entry = entries.get(program)!;
      expect(entry.mode & 0o170111, program).toBe(0o100111);
      expect(entry.data.readUInt32BE(0), program).toBe(0x7f454c46);
    }
    const init = entries.get("init")!;
    expect(init.mode & 0o170111).toBe(0o100111);
    expect(init.data.toString()).toContain(BANNER);
    expect(entries.get("bin/sh")!.data.toString()).toBe("busybox");
    for (const d of ["dev", "proc", "sys"]) expect(entries.get(d)!.mode & 0o170000).toBe(0o040000);
  });

  it("has Debian's modules for disks and entropy, uncompressed, with what modprobe needs to load them", () => {
    const m = manifest!;
    const entries = newcEntries(gunzipSync(readFileSync(paths.initramfs)));
    const folder = `lib/modules/${m.kernel.release}`;
    const text = (name: string) => entries.get(`${folder}/${name}`)!.data.toString();
    // modules.dep: "file: what it needs", which modprobe loads from the end of the line.
    const lines = text("modules.dep").trimEnd().split("\n").map((l) => l.replace(":", "").split(" "));
    const name = (file: string) => file.slice(file.lastIndexOf("/") + 1, -".ko".length).replaceAll("-", "_");
    const fileOf = new Map(lines.map(([file]) => [name(file), file]));
    const loads = (module: string) => {
      const [, ...needed] = lines.find(([file]) => name(file) === module)!;
      return [...needed.reverse().map(name), module];
    };
    expect([...fileOf.keys()]).toEqual(m.initramfs.modules);
    for (const [module, file] of fileOf) {
      const data = entries.get(`${folder}/${file}`)!.data;
      expect(data.readUInt32BE(0), file).toBe(0x7f454c46);
      expect(data.readUInt16LE(16), `${file}: ET_REL`).toBe(1);
      const info = modinfo(data);
      expect(info.get("name"), file).toEqual([module]);
      expect(info.get("vermagic")![0].split(" ")[0], file).toBe(m.kernel.release);
      // Each module modprobe loads for this one comes after all it depends on.
      loads(module).forEach((loaded, i) => {
        const depends = modinfo(entries.get(`${folder}/${fileOf.get(loaded)}`)!.data).get("depends")![0];
        // A dependency is named as its file is ("nvme-auth"), a module with underscores.
        for (const d of depends.split(",").filter(Boolean).map((n) => n.replaceAll("-", "_"))) {
          expect(loads(module).slice(0, i), `${loaded} needs ${d}`).toContain(d);
        }
      });
    }
    expect(loads("ext4").slice(0, -1).sort()).toEqual(["crc16", "jbd2", "mbcache"]);
    expect(loads("vfat")).toEqual(["fat", "vfat"]);
    expect(loads("virtio_net")).toEqual(["failover", "net_failover", "virtio_net"]);
    expect(loads("nvme")).toEqual(["nvme_auth", "nvme_core", "nvme"]);
    const aliases = text("modules.alias");
    for (
      const alias of [
        "fs-ext4 ext4",
        "fs-ext2 ext4",
        "fs-vfat vfat",
        "crypto-crc32c crc32c_generic",
        "virtio:d00000002v* virtio_blk",
        "virtio:d00000004v* virtio_rng",
        "virtio:d00000001v* virtio_net",
      ]
    ) expect(aliases).toContain(`alias ${alias}\n`);
    const wanted = [
      "virtio_pci",
      "virtio_console",
      "virtio_blk",
      "virtio_rng",
      "virtio_net",
      "ext4",
      "vfat",
      "nls_cp437",
      "nls_ascii",
    ];
    for (const module of wanted) expect([...m.initramfs.modules, ...m.initramfs.builtin]).toContain(module);
    const init = entries.get("init")!.data.toString();
    expect(init.indexOf("modprobe")).toBeGreaterThan(init.indexOf("/sys/bus/virtio/devices"));
    expect(init.indexOf("modprobe")).toBeLessThan(init.indexOf("typervisor-initramfs: ready"));
  });

  // Boots to the shell, asks for the kernel release, powers off.
  async function bootToShell(vmlinux: boolean): Promise<void> {
    const started = Date.now();
    const machine = bootGuest({ vmlinux });
    try {
      await machine.waitFor(BANNER, 240_000);
      const banner = Date.now() - started;
      await machine.waitFor(PROMPT, 60_000);
      const prompt = Date.now() - started;
      const from = machine.output.length;
      machine.send("uname -r\n");
      // The echoed command, then the release on a line of its own (a kernel message may come between).
      const answer = await machine.waitFor(/\n(\d+\.\d+\.\d+[^\s]*)\r?\n/, 30_000, from);
      expect(answer[1]).toBe(manifest!.kernel.release);
      expect(machine.output).not.toContain("cannot load");
      machine.send("poweroff -f\n");
      const exit = await machine.waitForExit(60_000);
      expect(exit.killed).toBe(false);
      expect(exit.code).toBe(0);
      console.log(
        `guest-kernels: ${vmlinux ? "vmlinux (PVH)" : "bzImage"} under QEMU TCG: banner after ${banner} ms, `
          + `prompt after ${prompt} ms, powered off after ${Date.now() - started} ms`,
      );
    } finally {
      machine.kill();
    }
  }

  it("boots from the bzImage under QEMU to a shell", () => bootToShell(false), 300_000);
  it("boots from the vmlinux (PVH entry) under QEMU to a shell", () => bootToShell(true), 300_000);

  // /init loads the drivers of the three devices; mounting loads the file
  // systems' modules. Each command's answer is looked for after the command
  // was typed, as text the command line itself does not hold (the shell
  // echoes it, wrapped).
  it("drives a virtio disk, entropy source and network card under QEMU, with ext4 and vfat on the disk", async () => {
    const scratch = mkdtempSync(join(tmpdir(), "guest-disk-"));
    const disk = join(scratch, "disk.img");
    writeFileSync(disk, "");
    truncateSync(disk, 64 << 20);
    const machine = bootGuest({
      vmlinux: true,
      devices: [
        ...["-drive", `file=${disk},if=virtio,format=raw`, "-device", "virtio-rng-pci"],
        // A network card on QEMU's user network, which reaches nothing outside.
        ...["-netdev", "user,id=net0,restrict=on", "-device", "virtio-net-pci,netdev=net0"],
      ],
    });
    const answer = async (command: string, expected: string | RegExp) => {
      const from = machine.output.length;
      machine.send(`${command}\n`);
      return machine.waitFor(expected, 60_000, from);
    };
    try {
      await machine.waitFor(PROMPT, 240_000);
      const lsmod = "echo loaded: $(lsmod | awk 'NR > 1 { print $1 }' | sort)";
      await answer(lsmod, "loaded: button evdev failover net_failover virtio_blk virtio_net virtio_rng\r\n");
      await answer("echo eth0 by $(basename $(readlink /sys/class/net/eth0/device/driver))", "eth0 by virtio_net");
      await answer("echo entropy from $(cat /sys/class/misc/hw_random/rng_current)", "entropy from virtio_rng.0");
      await answer("echo vda has $(cat /sys/block/vda/size) sectors", `vda has ${(64 << 20) / 512} sectors`);
      await answer(
        "mke2fs /dev/vda >/dev/null && mount -t ext4 /dev/vda /mnt"
          + " && echo typervisor-ext4 >/mnt/file && umount /mnt && mount -t ext4 /dev/vda /mnt"
          + " && echo read back $(cat /mnt/file) && umount /mnt",
        "read back typervisor-ext4",
      );
      const block = await answer(
        "mkdosfs /dev/vda >/dev/null && mount -t vfat /dev/vda /mnt && echo typervisor-vfat >/mnt/file"
          + " && umount /mnt && sync"
          + " && echo first block $(dd if=/dev/vda bs=4096 count=1 2>/dev/null | sha256sum)",
        /first block ([0-9a-f]{64}) /,
      );
      // The modules for the uplink test's bare Linux (test/system/uplink.test.ts), whose shell loads them.
      await answer("modprobe e1000 && modprobe 8021q && echo by-hand-$((6 * 7))", "by-hand-42");
      // All but the NVMe driver and veth, which /init loads only for make
      // bench's disk and network benchmarks.
      const loaded = manifest!.initramfs.modules.filter((m) => !m.startsWith("nvme") && m !== "veth");
      await answer(lsmod, `loaded: ${loaded.sort().join(" ")}\r\n`);
      machine.send("poweroff -f\n");
      await machine.waitForExit(60_000);
      const image = readFileSync(disk);
      expect(block[1]).toBe(createHash("sha256").update(image.subarray(0, 4096)).digest("hex"));
      expect(image.includes("typervisor-vfat\n")).toBe(true);
      expect(machine.output).not.toContain("cannot load");
    } finally {
      machine.kill();
      rmSync(scratch, { recursive: true, force: true });
    }
  }, 300_000);
});
