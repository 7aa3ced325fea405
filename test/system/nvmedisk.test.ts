// System test: two Debian VMs, each with one GPT partition of the host's
// NVMe disk as its virtio disk (vmm/storage/hostdisks.ts, the NVMe driver
// of vmm/storage/nvme/). VM a makes an ext4 file system on its partition
// and writes files; VM b, on the other partition, sees only its own
// blocks. Nothing outside VM a's partition changes on the host's image.
// Then the whole emulator is started again on the same image: the files
// are there with the same SHA-256. A partition no host disk has keeps its
// VM from starting, with the reason, while the other VM runs.
import { createHash } from "node:crypto";
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { guestPaths } from "../../tools/guests/debian";
import { HOST_MEMORY_MIB } from "../../tools/guests/vm";
import { boot, Machine } from "../../tools/harness/index";
import { gptWrites, LINUX_DATA } from "../../tools/disk/gpt";
import { linuxGuests } from "./run";

const manifest = linuxGuests("nvme disks");
const MiB = 1 << 20;
const VM_B = "C0FFEE00-1234-4567-89AB-CDEF01234567";
const A_FIRST = 2048, A_BLOCKS = 24 * 2048, B_FIRST = A_FIRST + A_BLOCKS, B_BLOCKS = 32 * 2048;
const IMAGE = "build/test/nvme-vms.img";
const SHELL = (vm: string) => new RegExp(String.raw`\[${vm}\] Enter 'help' for a list of built-in commands\.\r?\n`);
const NUMBERS_SHA = createHash("sha256")
  .update(Array.from({ length: 50000 }, (_, i) => `${i + 1}\n`).join(""))
  .digest("hex");

function makeImage(): void {
  mkdirSync("build/test", { recursive: true });
  const fd = openSync(IMAGE, "w");
  try {
    ftruncateSync(fd, 64 * MiB);
    const partitions = [
      {
        name: "vm-a",
        typeGuid: LINUX_DATA,
        guid: "8AB7C2D4-1E5F-4A6B-9C0D-112233445566",
        firstLba: A_FIRST,
        lastLba: B_FIRST - 1,
      },
      { name: "vm-b", typeGuid: LINUX_DATA, guid: VM_B, firstLba: B_FIRST, lastLba: B_FIRST + B_BLOCKS - 1 },
    ];
    for (const w of gptWrites({ blockSize: 512, blocks: (64 * MiB) / 512, partitions })) {
      writeSync(fd, w.bytes, 0, w.bytes.length, w.lba * 512);
    }
    writeSync(fd, Buffer.from("VM-B-OWN-DATA"), 0, 13, B_FIRST * 512);
  } finally {
    closeSync(fd);
  }
}

// The image's bytes outside VM a's partition.
function outsideA(): string {
  const bytes = readFileSync(IMAGE);
  return createHash("sha256").update(bytes.subarray(0, A_FIRST * 512)).update(bytes.subarray(B_FIRST * 512))
    .digest("hex");
}

// The configuration of VMs named in `vms`, each with one partition.
function modules(vms: [string, string][]) {
  const paths = guestPaths();
  const text = JSON.stringify({
    vms: vms.map(([name, partition]) => ({
      name,
      memory: 160,
      kernel: "vmlinux",
      initrd: "initramfs",
      cmdline: "console=ttyS0 quiet",
      disks: [{ partition }],
    })),
  });
  const config = `build/test/nvme-vms-${vms.length}.json`;
  writeFileSync(config, text);
  return [
    { path: paths.vmlinux, args: "vmlinux" },
    { path: paths.initramfs, args: "initramfs" },
    { path: config, args: "vms.json config" },
  ];
}

async function start(vms: [string, string][]): Promise<Machine> {
  return boot({
    platform: "qemu",
    memoryMiB: HOST_MEMORY_MIB,
    cmdline: "exit=emulator",
    modules: modules(vms),
    extraArgs: ["-drive", `file=${IMAGE},if=none,id=nvm,format=raw`, "-device", "nvme,drive=nvm,serial=typervisor0"],
  });
}

// Types `command` into the focused VM and waits for its line `marker`.
async function run(machine: Machine, vm: string, command: string, marker: string): Promise<string> {
  const from = machine.output.length;
  machine.send(`${command}; echo ${marker}-$((6 * 7))\n`);
  await machine.waitFor(new RegExp(String.raw`\[${vm}\] ${marker}-42\r?\n`), 180_000, from);
  return machine.output.slice(from).replace(/\r/g, "");
}

describe.skipIf(!manifest)("VMs on the host's NVMe partitions", () => {
  it("keep their files across a restart of the machine, and see only their own partition", async () => {
    makeImage();
    const untouched = outsideA();
    let machine = await start([["a", "vm-a"], ["b", VM_B]]);
    try {
      await machine.waitFor(SHELL("a"), 300_000);
      await machine.waitFor(SHELL("b"), 300_000);
      expect(machine.output).toContain("disk vm-a (NVMe partition, 24 MiB)");
      expect(machine.output).toContain("disk vm-b (NVMe partition, 32 MiB)");
      const a = await run(
        machine,
        "a",
        "cat /sys/block/vda/size; mke2fs -q /dev/vda && mount -t ext4 /dev/vda /mnt && echo secret-of-a > /mnt/secret"
          + " && seq 1 50000 > /mnt/numbers && sha256sum /mnt/numbers && umount /mnt",
        "a-done",
      );
      expect(a).toContain(`[a] ${A_BLOCKS}\n`);
      expect(a).toContain(`[a] ${NUMBERS_SHA}  /mnt/numbers\n`);
      machine.send("\x141"); // Ctrl-T 1: type into vm b
      const b = await run(
        machine,
        "b",
        "cat /sys/block/vda/size; head -c 13 /dev/vda; echo; grep -c secret-of-a /dev/vda",
        "b-done",
      );
      for (const answer of [B_BLOCKS, "VM-B-OWN-DATA", 0]) expect(b).toContain(`[b] ${answer}\n`);
      machine.send("poweroff -f\n\x140poweroff -f\n");
      await machine.waitForExit(120_000);
    } finally {
      machine.kill();
    }
    expect(outsideA()).toBe(untouched);

    machine = await start([["a", "vm-a"], ["c", "no-such-partition"]]);
    try {
      await machine.waitFor(SHELL("a"), 300_000);
      expect(machine.output).toContain("vm c: disks: 0: no host disk has a partition named no-such-partition");
      const again = await run(
        machine,
        "a",
        "mount -t ext4 /dev/vda /mnt && cat /mnt/secret && sha256sum /mnt/numbers",
        "again",
      );
      expect(again).toContain("[a] secret-of-a\n");
      expect(again).toContain(`[a] ${NUMBERS_SHA}  /mnt/numbers\n`);
      machine.send("poweroff -f\n");
      await machine.waitForExit(120_000);
    } finally {
      machine.kill();
    }
  }, 900_000);
});
