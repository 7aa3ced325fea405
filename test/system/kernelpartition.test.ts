// System test: kernel VMs whose kernel and initrd are GPT partitions of the
// host's NVMe disk, holding the images as written with dd (no file system;
// vmm/setup/bootimages.ts). Debian's kernel boots from one partition, of
// which only the length its bzImage header gives is read, into the
// initramfs on another, read whole with its zero tail, up to its shell.
// The multiboot test kernel and the 64-bit bzImage test kernel boot from
// their partitions with a module (initrd) from a third, which both VMs
// share read-only, and check what they are given. A missing partition, one whose bytes are no kernel, one larger
// than its VM's RAM, and a disk on a partition some VM boots from keep
// only those VMs from starting. Then, through the management API: a
// stopped VM's power-on reads its partition again (a different kernel,
// written there meanwhile, boots), and a destroyed VM's partitions are
// free for a VM made through vm.create.
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ApiClient } from "../../tools/api/client";
import { allStopped, bootWithSerialApi } from "../../tools/harness/apirun";
import { gptWrites, LINUX_DATA } from "../../tools/disk/gpt";
import { guestPaths } from "../../tools/guests/debian";
import { HOST_MEMORY_MIB } from "../../tools/guests/vm";
import { linuxGuests } from "./run";

const manifest = linuxGuests("kernel partitions");

const MiB = 1 << 20;
const IMAGE = "build/test/kernel-partitions.img";
const MBTEST = "build/guests/mbtest.elf", LINUX64 = "build/guests/linux64.bzimage";
const L64_GUID = "5EED0000-1234-4567-89AB-CDEF01234567";
const MODULE_TEXT = "TVMOD a multiboot module on a partition\n";
// Name, first LBA and size in MiB of each partition; "junk" holds bytes
// that are no kernel, "big" is larger than the VM that boots from it.
const PARTITIONS: [string, number, number][] = [
  ["mb-kernel", 2048, 1],
  ["l64-kernel", 4096, 1],
  ["tv-module", 6144, 1],
  ["junk", 8192, 1],
  ["big", 10240, 4],
  ["deb-kernel", 18432, 13],
  ["deb-initrd", 45056, 3],
];
const IMAGE_MIB = 32;

function makeImage(): void {
  mkdirSync("build/test", { recursive: true });
  const fd = openSync(IMAGE, "w");
  try {
    ftruncateSync(fd, IMAGE_MIB * MiB);
    const partitions = PARTITIONS.map(([name, firstLba, mib], i) => ({
      name,
      typeGuid: LINUX_DATA,
      guid: name === "l64-kernel" ? L64_GUID : `5EED000${i + 1}-0000-4000-8000-000000000000`,
      firstLba,
      lastLba: firstLba + mib * 2048 - 1,
    }));
    for (const w of gptWrites({ blockSize: 512, blocks: (IMAGE_MIB * MiB) / 512, partitions })) {
      writeSync(fd, w.bytes, 0, w.bytes.length, w.lba * 512);
    }
    writePartition(fd, "mb-kernel", readFileSync(MBTEST));
    writePartition(fd, "l64-kernel", readFileSync(LINUX64));
    writePartition(fd, "tv-module", Buffer.from(MODULE_TEXT));
    writePartition(fd, "junk", Buffer.from("this is no kernel image ".repeat(100)));
    writePartition(fd, "deb-kernel", readFileSync(guestPaths().bzImage));
    writePartition(fd, "deb-initrd", readFileSync(guestPaths().initramfs));
  } finally {
    closeSync(fd);
  }
}

// `bytes` at the start of the partition `name`, as `dd of=/dev/PARTITION` writes them.
function writePartition(fd: number, name: string, bytes: Buffer): void {
  const [, firstLba, mib] = PARTITIONS.find(([n]) => n === name)!;
  const padded = Buffer.alloc(mib * MiB);
  bytes.copy(padded);
  writeSync(fd, padded, 0, padded.length, firstLba * 512);
}

// What the bzImage's header says it is: its setup sectors, then syssize paragraphs (boot.rst).
function bzImageLength(image: Buffer): number {
  return ((image[0x1f1] || 4) + 1) * 512 + image.readUInt32LE(0x1f4) * 16;
}

const vm = (name: string, memory: number, kernel: object | string, initrd: object | null, cmdline: string) => ({
  name,
  memory,
  kernel,
  initrd,
  cmdline,
});
// Debian's VM comes first, so that the console types into it.
const CONFIG = {
  vms: [
    vm("deb", 160, { partition: "deb-kernel" }, { partition: "deb-initrd" }, "console=ttyS0 quiet"),
    vm("mbp", 32, { partition: "mb-kernel" }, { partition: "tv-module" }, "ram=32 cpus=1 module=tv-module exit=42"),
    vm(
      "l64p",
      64,
      { partition: L64_GUID },
      { partition: "tv-module", size: 512 },
      "ram=64 cpus=1 module=tv-module exit=21",
    ),
    vm("missing", 16, { partition: "no-such-kernel" }, null, ""),
    vm("junky", 16, { partition: "junk" }, null, ""),
    vm("small", 2, { partition: "big" }, null, ""),
    { ...vm("clash", 16, "mbtest.elf", null, "ram=16 cpus=1"), disks: [{ partition: "tv-module" }] },
  ],
};

// The log line of a load's read: "vm a: kernel: 1 MiB read from partition a-kernel in 812 us".
const read = (vm: string, field: string, size: string, partition: string) =>
  new RegExp(`vm ${vm}: ${field}: ${size} read from partition ${partition} in \\d+ us\n`);

async function stopped(client: ApiClient, name: string): Promise<void> {
  for (let i = 0; i < 240 && (await client.info(name)).state !== "stopped"; i++) {
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe.skipIf(!manifest)("kernel VMs booted from host disk partitions", () => {
  it("boot from their partitions, read them again at power-on, and refuse bad ones by field", async () => {
    makeImage();
    const config = "build/test/kernel-partitions.json";
    writeFileSync(config, JSON.stringify(CONFIG, null, 2) + "\n");
    const { machine, client, done } = await bootWithSerialApi({
      platform: "qemu",
      memoryMiB: HOST_MEMORY_MIB,
      modules: [{ path: MBTEST, args: "mbtest.elf" }, { path: config, args: "vms.json config" }],
      extraArgs: ["-drive", `file=${IMAGE},if=none,id=nvm,format=raw`, "-device", "nvme,drive=nvm,serial=tvboot0"],
    });
    try {
      await machine.waitFor(/\[deb\] Enter 'help' for a list of built-in commands\.\r?\n/, 300_000);
      machine.send("poweroff -f\n");
      const vms = await allStopped(machine, client, 120_000);
      const output = () => machine.output.replace(/\r/g, "");
      const debBytes = bzImageLength(readFileSync(guestPaths().bzImage));
      expect(output()).toMatch(read("deb", "kernel", `${debBytes} bytes`, "deb-kernel"));
      expect(output()).toMatch(read("deb", "initrd", "3 MiB", "deb-initrd"));
      // The test bzImage leaves syssize 0, so its partition is read whole.
      expect(readFileSync(LINUX64).readUInt32LE(0x1f4)).toBe(0);
      expect(output()).toMatch(read("l64p", "kernel", "1 MiB", L64_GUID));
      expect(output()).toMatch(read("l64p", "initrd", "512 bytes", "tv-module"));
      expect(output()).toMatch(read("mbp", "initrd", "1 MiB", "tv-module"));
      const mbBytes = Number(
        /vm mbp: kernel: (\d+) bytes read from partition mb-kernel in \d+ us\n/.exec(output())![1],
      );
      expect(mbBytes).toBeGreaterThan(4096);
      expect(mbBytes).toBeLessThanOrEqual(readFileSync(MBTEST).length);

      for (const check of ["module: contents", "module: its command line is its name", "flags: one module"]) {
        expect(output()).toContain(`[mbp] PASS multiboot: ${check}\n`);
      }
      expect(output()).toContain("[mbp] multiboot test kernel: all checks passed\n");
      expect(output()).toContain("[l64p] PASS linux: initrd: contents\n");
      expect(output()).toContain("[l64p] linux64 test kernel: all checks passed\n");
      expect(output()).not.toMatch(/\[(mbp|l64p)\] FAIL/);
      expect(vms.get("mbp")?.info).toMatchObject({
        exit_status: (42 << 1) | 1,
        kernel: { module: "", partition: "mb-kernel", initrd: "", initrd_partition: "tv-module" },
      });
      expect(vms.get("l64p")?.info).toMatchObject({ exit_status: (21 << 1) | 1 });

      expect(output()).toContain("vm missing: kernel: no host disk has a partition named no-such-kernel; not started");
      expect(output()).toContain(
        "vm junky: kernel partition junk: not a kernel image typervisor can boot: no bzImage header",
      );
      expect(output()).toContain("vm small: kernel partition big: an image of 4 MiB is too big (at most 2 MiB");
      expect(output()).toContain("vm clash: disks: 0: partition tv-module holds a boot image of vm mbp; not started");
      expect([...vms.keys()].sort()).toEqual(["deb", "l64p", "mbp"]);

      // Power-on reads the partition again: the bzImage written over the multiboot kernel boots.
      const fd = openSync(IMAGE, "r+");
      writePartition(fd, "mb-kernel", readFileSync(LINUX64));
      closeSync(fd);
      const from = machine.output.length;
      expect((await client.start("mbp")).state).toBe("running");
      await stopped(client, "mbp");
      const again = machine.output.slice(from).replace(/\r/g, "");
      expect(again).toMatch(read("mbp", "kernel", "1 MiB", "mb-kernel"));
      expect(again).toContain("[mbp] linux64 test kernel: all checks passed\n");
      expect(await client.info("mbp")).toMatchObject({ state: "stopped", exit_status: (42 << 1) | 1 });

      // Through vm.create too: a VM that shares mbp's kernel partition, with the destroyed
      // l64p's kernel partition as its disk; a disk on a partition a VM boots from is refused.
      expect((await client.destroy("l64p")).destroyed).toBe(true);
      const made = vm("made", 64, { partition: "mb-kernel" }, null, "ram=64 cpus=1 exit=3");
      const withDisk = { ...made, disks: [{ partition: "l64-kernel" }] };
      expect((await client.create(withDisk)).state).toBe("running");
      await stopped(client, "made");
      expect(machine.output.slice(from)).toContain("[made] linux64 test kernel: all checks passed");
      expect(await client.info("made")).toMatchObject({
        exit_status: (3 << 1) | 1,
        kernel: { module: "", partition: "mb-kernel", initrd: "", initrd_partition: "" },
        disks: [{ about: "NVMe partition, 1024 KiB" }],
      });
      const refused = await client.create({ ...made, name: "made2", disks: [{ partition: "tv-module" }] }).then(
        () => "",
        (e: Error) => e.message,
      );
      expect(refused).toContain("disks: 0: partition tv-module holds a boot image of vm mbp");
      for (const line of output().match(/^.*(read from partition|not started).*$/gm) ?? []) console.log(line);
      await client.shutdownHost();
      await machine.waitForExit(60_000);
    } finally {
      client.close();
      machine.kill();
      done();
    }
  }, 300_000);
});
