// System test: the hypervisor finds QEMU's NVMe controllers on the host's
// PCI bus, brings each up and reads the GPT of its namespace through the
// same read path a VM's disk uses (vmm/storage/hostdisks.ts): a 64 MiB
// disk of 512-byte blocks with two partitions, a 32 MiB disk of 4096-byte
// blocks with one, and a blank 1 MiB disk with no GPT at all, which is
// reported while the rest carries on. Nothing is written: the images are
// the same bytes after the run. The tables are made by the unit tests'
// JavaScript (tools/disk/gpt.ts), which the kernel's parser must agree with.
import { createHash } from "node:crypto";
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { gptWrites, LINUX_DATA, PartitionSpec } from "../../tools/disk/gpt";
import { bootAndWait } from "./run";

const MiB = 1 << 20;
const VM_A = "8AB7C2D4-1E5F-4A6B-9C0D-112233445566";
const VM_B = "C0FFEE00-1234-4567-89AB-CDEF01234567";
const BIG = "4B1D0000-AAAA-4BBB-8CCC-0123456789AB";

// A sparse image of `bytes` with this GPT; `fill` gives bytes to write at a byte offset.
function makeImage(
  path: string,
  bytes: number,
  blockSize: number,
  partitions: PartitionSpec[],
  fill?: [number, Buffer],
) {
  const fd = openSync(path, "w");
  try {
    ftruncateSync(fd, bytes);
    if (partitions.length > 0) {
      for (const w of gptWrites({ blockSize, blocks: bytes / blockSize, partitions })) {
        writeSync(fd, w.bytes, 0, w.bytes.length, w.lba * blockSize);
      }
    }
    if (fill) writeSync(fd, fill[1], 0, fill[1].length, fill[0]);
  } finally {
    closeSync(fd);
  }
}

const digest = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
const nvme = (file: string, id: string, extra = "") => [
  "-drive",
  `file=${file},if=none,id=${id},format=raw`,
  "-device",
  `nvme,drive=${id},serial=${id}${extra}`,
];

// SeaBIOS puts the controllers' registers in the PCI hole below 4 GiB;
// OVMF puts 64-bit BARs above it, where the driver maps them itself, and
// leaves its own NVMe driver's controllers enabled, to be reset.
const platforms = [
  { name: "QEMU -kernel (SeaBIOS)", platform: "qemu" as const, mapped: false },
  { name: "QEMU OVMF (UEFI) + GRUB ISO", platform: "uefi" as const, mapped: true },
];

describe.each(platforms)("the host's NVMe disks, $name", ({ platform, mapped }) => {
  it("finds three controllers, their namespaces and the partitions of their GPTs, writing nothing", async () => {
    mkdirSync("build/test", { recursive: true });
    const [gpt, big, blank] = ["gpt", "4k", "blank"].map((n) => `build/test/nvme-${platform}-${n}.img`);
    // Partition 2 holds a pattern, for the tests of VMs that will use it.
    const second = 2048 + 24 * 2048, pattern = Buffer.alloc(8 * MiB, 0);
    for (let i = 0; i < pattern.length; i++) pattern[i] = (i * 31 + (i >> 9)) & 0xff;
    makeImage(gpt, 64 * MiB, 512, [
      { name: "vm-a", typeGuid: LINUX_DATA, guid: VM_A, firstLba: 2048, lastLba: second - 1 },
      { name: "vm-b", typeGuid: LINUX_DATA, guid: VM_B, firstLba: second, lastLba: second + 32 * 2048 - 1 },
    ], [second * 512, pattern]);
    makeImage(big, 32 * MiB, 4096, [{ name: "big4k", typeGuid: LINUX_DATA, guid: BIG, firstLba: 256, lastLba: 4351 }]);
    makeImage(blank, MiB, 512, []);
    const before = [gpt, big, blank].map(digest);

    const { output, exit } = await bootAndWait({
      platform,
      cmdline: "loglevel=debug",
      extraArgs: [
        ...nvme(gpt, "typervisor0"),
        ...nvme(big, "typervisor1", ",logical_block_size=4096,physical_block_size=4096"),
        ...nvme(blank, "typervisor2"),
      ],
    }, 240_000);

    const lines = [
      "nvme 0000:00:04.0: QEMU NVMe Ctrl, serial typervisor0, namespace 1: 64 MiB, 512-byte blocks, "
      + "GPT with 2 partitions",
      `  partition 1 "vm-a" ${VM_A}: 24 MiB at LBA 2048`,
      `  partition 2 "vm-b" ${VM_B}: 32 MiB at LBA ${second}`,
      "nvme 0000:00:05.0: QEMU NVMe Ctrl, serial typervisor1, namespace 1: 32 MiB, 4096-byte blocks, "
      + "GPT with 1 partition",
      `  partition 1 "big4k" ${BIG}: 16 MiB at LBA 256`,
      "nvme 0000:00:06.0: QEMU NVMe Ctrl, serial typervisor2, namespace 1: 1024 KiB, 512-byte blocks, "
      + "no GPT (no \"EFI PART\" signature in LBA 1)",
    ];
    const log = output.replace(/\r/g, "");
    for (const line of lines) expect(log).toContain(`[info ] ${line}\n`);
    expect(log).toMatch(/\[debug\] pci 0000:00:04\.0: 1b36:0010 class 010802, BAR0 mem64 0x[0-9a-f]+\n/);
    const high = log.match(/\[debug\] nvme 0000:00:0[456]\.0: registers at 0x[0-9a-f]+ mapped uncached, 16 KiB\n/g);
    expect(high?.length ?? 0).toBe(mapped ? 3 : 0);
    expect(log).not.toMatch(/\[(warn |error)\] nvme/);
    expect(log).toContain("vmm: no virtual machines configured");
    expect(exit.status).toBe(0);
    expect([gpt, big, blank].map(digest)).toEqual(before);
  }, 300_000);
});
