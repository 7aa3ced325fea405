// The Linux guest kernel from Debian (tools/guests, `make guest-kernels`): the
// cached outputs are what they claim to be, and the kernel with its initramfs
// boots bare under QEMU (no hypervisor) to a shell, from the bzImage and from
// the vmlinux through its PVH entry. Builds the cache when missing (about
// 110 MB from the Debian mirror); skipped when that cannot be done (no package
// lists, no network), failed when what was downloaded is wrong.
//
// The formats are parsed here independently of tools/guests.
import { statSync, readFileSync } from "node:fs";
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
});
