// System test: the hypervisor drives QEMU's AHCI controller (ICH9, `-device
// ahci`) itself (vmm/storage/ahci/): it finds the SATA disk on port 0 and
// the partitions of its GPT, and leaves the ATAPI drive on port 1 alone,
// under SeaBIOS and under OVMF, whose own AHCI drivers leave the ports
// running. Then a Debian VM whose virtio disk is a partition of that SATA
// disk reads what the image holds there, writes to it and discards part
// of what it wrote (QEMU's disk has TRIM without RZAT: the driver writes
// zeroes): after the run the bytes and the zeroes are in the image file
// at the partition's offset, and nothing outside the partition has changed.
import { createHash } from "node:crypto";
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { gptWrites, LINUX_DATA } from "../../tools/disk/gpt";
import { guestPaths } from "../../tools/guests/debian";
import { HOST_MEMORY_MIB } from "../../tools/guests/vm";
import { boot } from "../../tools/harness/index";
import { bootAndWait, linuxGuests } from "./run";

const MiB = 1 << 20;
const A_GUID = "5A7A0000-1111-4222-8333-444455556666", B_GUID = "5A7B0000-1111-4222-8333-444455556666";
const A_FIRST = 2048, A_BLOCKS = 16 * 2048, B_FIRST = A_FIRST + A_BLOCKS, B_BLOCKS = 24 * 2048;
const MARK = "SATA-B-OWN-DATA";

// A sparse 64 MiB image with partitions sata-a and sata-b, and MARK at sata-b's start.
function makeImage(path: string): void {
  mkdirSync("build/test", { recursive: true });
  const fd = openSync(path, "w");
  try {
    ftruncateSync(fd, 64 * MiB);
    const partitions = [
      { name: "sata-a", typeGuid: LINUX_DATA, guid: A_GUID, firstLba: A_FIRST, lastLba: B_FIRST - 1 },
      { name: "sata-b", typeGuid: LINUX_DATA, guid: B_GUID, firstLba: B_FIRST, lastLba: B_FIRST + B_BLOCKS - 1 },
    ];
    for (const w of gptWrites({ blockSize: 512, blocks: (64 * MiB) / 512, partitions })) {
      writeSync(fd, w.bytes, 0, w.bytes.length, w.lba * 512);
    }
    writeSync(fd, Buffer.from(MARK), 0, MARK.length, B_FIRST * 512);
  } finally {
    closeSync(fd);
  }
}

// QEMU's AHCI controller with the image as a disk on port 0 and an empty CD drive on port 1.
const ahci = (image: string) => [
  "-device",
  "ahci,id=ahci",
  "-drive",
  `if=none,id=d0,file=${image},format=raw`,
  "-device",
  "ide-hd,drive=d0,bus=ahci.0,serial=sata0",
  "-device",
  "ide-cd,bus=ahci.1",
];
const digest = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

const platforms = [
  { name: "QEMU -kernel (SeaBIOS)", platform: "qemu" as const },
  { name: "QEMU OVMF (UEFI) + GRUB ISO", platform: "uefi" as const },
];

describe.each(platforms)("the host's SATA disk, $name", ({ platform }) => {
  it("is found on its AHCI port with its partitions, the CD drive left alone, nothing written", async () => {
    const image = `build/test/ahci-${platform}.img`;
    makeImage(image);
    const before = digest(readFileSync(image));
    const { output, exit } = await bootAndWait(
      { platform, cmdline: "loglevel=debug", extraArgs: ahci(image) },
      240_000,
    );
    const log = output.replace(/\r/g, "");
    const at = log.match(/\[debug\] pci (0000:00:[0-9a-f]{2}\.0): 8086:2922 class 010601, .*BAR5 mem 0x[0-9a-f]+\n/);
    expect(at).not.toBeNull();
    const name = `ahci ${at![1]}`;
    for (
      const line of [
        `${name} port 0: QEMU HARDDISK, serial sata0, 64 MiB, 512-byte sectors, 31 queued commands, `
        + "GPT with 2 partitions",
        `  partition 1 "sata-a" ${A_GUID}: 16 MiB at LBA ${A_FIRST}`,
        `  partition 2 "sata-b" ${B_GUID}: 24 MiB at LBA ${B_FIRST}`,
        `${name} port 1: an ATAPI device, not a disk; not used`,
      ]
    ) expect(log).toContain(`[info ] ${line}\n`);
    expect(log).not.toMatch(/\[(warn |error)\] ahci/);
    expect(exit.status).toBe(0);
    expect(digest(readFileSync(image))).toBe(before);
  }, 300_000);
});

const manifest = linuxGuests("ahci disk");
const IMAGE = "build/test/ahci-vm.img";
const NUMBERS = Buffer.from(Array.from({ length: 100000 }, (_, i) => `${i + 1}\n`).join(""));

describe.skipIf(!manifest)("a VM on a partition of the host's SATA disk", () => {
  it("reads the partition's bytes, writes and discards its own, which land in the image at its offset", async () => {
    makeImage(IMAGE);
    const outsideB = (b: Buffer) =>
      digest(Buffer.concat([b.subarray(0, B_FIRST * 512), b.subarray((B_FIRST + B_BLOCKS) * 512)]));
    const untouched = outsideB(readFileSync(IMAGE));
    const paths = guestPaths(), config = "build/test/ahci-vm.json";
    writeFileSync(
      config,
      JSON.stringify({
        vms: [{
          name: "b",
          memory: 160,
          kernel: "vmlinux",
          initrd: "initramfs",
          cmdline: "console=ttyS0 quiet",
          disks: [{ partition: "sata-b" }],
        }],
      }),
    );
    const machine = await boot({
      platform: "qemu",
      memoryMiB: HOST_MEMORY_MIB,
      cmdline: "exit=emulator",
      modules: [
        { path: paths.vmlinux, args: "vmlinux" },
        { path: paths.initramfs, args: "initramfs" },
        { path: config, args: "vms.json config" },
      ],
      extraArgs: ahci(IMAGE),
    });
    try {
      await machine.waitFor(/\[b\] Enter 'help' for a list of built-in commands\.\r?\n/, 300_000);
      expect(machine.output).toContain("disk sata-b (SATA partition, 24 MiB)");
      const from = machine.output.length;
      machine.send(
        `cat /sys/block/vda/size; head -c ${MARK.length} /dev/vda; echo; seq 1 100000 | dd of=/dev/vda bs=65536 seek=16`
          + " 2>/dev/null; sync; echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vda bs=65536 skip=16 2>/dev/null"
          + ` | head -c ${NUMBERS.length} | sha256sum; blkdiscard -o ${16 * 65536} -l 65536 /dev/vda;`
          + " dd if=/dev/vda bs=65536 skip=16 count=1 2>/dev/null | tr -d '\\0' | wc -c; echo done-$((6 * 7))\n",
      );
      await machine.waitFor(/\[b\] done-42\r?\n/, 180_000, from);
      const answer = machine.output.slice(from).replace(/\r/g, "");
      for (const line of [B_BLOCKS, MARK, `${digest(NUMBERS)}  -`, 0]) expect(answer).toContain(`[b] ${line}\n`);
      machine.send("poweroff -f\n");
      await machine.waitForExit(120_000);
    } finally {
      machine.kill();
    }
    const after = readFileSync(IMAGE), at = B_FIRST * 512 + 16 * 65536;
    expect(after.subarray(at, at + 65536).every((b) => b === 0)).toBe(true); // discarded
    expect(after.subarray(at + 65536, at + NUMBERS.length).equals(NUMBERS.subarray(65536))).toBe(true);
    expect(outsideB(after)).toBe(untouched);
  }, 600_000);
});
