// System test: two Debian VMs on two GPT partitions of the host's one NVMe
// disk share it by their disks' weights (vmm/storage/diskarbiter.ts). Both
// read their partitions with O_DIRECT as fast as they can, two readers
// each so that a request is always outstanding, and each counts the
// sectors it read over a window of its own clock; the windows are typed
// into both VMs at once. VM b, weight 300, must read 3 times what VM a,
// weight 100, reads, within 10 %: a ratio of two rates over the same
// time, whatever the machine's load makes them. Then b stops, and a, on
// its own, gets what b had: well over twice its shared rate, not a third
// of the disk.
import { closeSync, ftruncateSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { guestPaths } from "../../tools/guests/debian";
import { HOST_MEMORY_MIB } from "../../tools/guests/vm";
import { boot, Machine } from "../../tools/harness/index";
import { gptWrites, LINUX_DATA } from "../../tools/disk/gpt";
import { linuxGuests } from "./run";

const manifest = linuxGuests("disk weights");
const GiB = 2 ** 30;
// Sparse on the host: large enough that no reader reaches the end.
const IMAGE_BYTES = 5 * GiB, PARTITION_BLOCKS = (2 * GiB) / 512, FIRST = 2048;
const IMAGE = "build/test/weight-vms.img";
const WINDOW_S = 8;
const SHELL = (vm: string) => new RegExp(String.raw`\[${vm}\] Enter 'help' for a list of built-in commands\.\r?\n`);

function makeImage(): void {
  mkdirSync("build/test", { recursive: true });
  const fd = openSync(IMAGE, "w");
  try {
    ftruncateSync(fd, IMAGE_BYTES);
    const partitions = ["a", "b"].map((vm, i) => ({
      name: `weight-${vm}`,
      typeGuid: LINUX_DATA,
      guid: `5E1F0000-0000-4000-8000-00000000000${i}`,
      firstLba: FIRST + i * PARTITION_BLOCKS,
      lastLba: FIRST + (i + 1) * PARTITION_BLOCKS - 1,
    }));
    for (const w of gptWrites({ blockSize: 512, blocks: IMAGE_BYTES / 512, partitions })) {
      writeSync(fd, w.bytes, 0, w.bytes.length, w.lba * 512);
    }
  } finally {
    closeSync(fd);
  }
}

// VMs a and b, each with one partition, weights 100 and 300.
function modules() {
  const paths = guestPaths();
  const vms = [["a", 100], ["b", 300]].map(([name, weight]) => ({
    name,
    memory: 160,
    kernel: "vmlinux",
    initrd: "initramfs",
    cmdline: "console=ttyS0 quiet",
    disks: [{ partition: `weight-${name}`, weight }],
  }));
  const config = "build/test/weight-vms.json";
  writeFileSync(config, JSON.stringify({ vms }));
  return [
    { path: paths.vmlinux, args: "vmlinux" },
    { path: paths.initramfs, args: "initramfs" },
    { path: config, args: "vms.json config" },
  ];
}

// Two readers in the background, the second a quarter of the way in.
const READERS = "dd if=/dev/vda of=/dev/null bs=64k iflag=direct 2>/dev/null & P1=$!; "
  + "dd if=/dev/vda of=/dev/null bs=64k iflag=direct skip=8192 2>/dev/null & P2=$!";

// The VM's clock (s) and the sectors read from its disk, before and after
// WINDOW_S seconds, on one line marked `mark`.
const window = (mark: string) =>
  `t0=$(cut -d' ' -f1 /proc/uptime); s0=$(awk '{print $3}' /sys/block/vda/stat); sleep ${WINDOW_S}; `
  + `t1=$(cut -d' ' -f1 /proc/uptime); s1=$(awk '{print $3}' /sys/block/vda/stat); echo ${mark} $t0 $s0 $t1 $s1`;

// The bytes a second `vm` read in its window `mark`.
async function rate(machine: Machine, vm: string, mark: string, from: number): Promise<number> {
  const line = new RegExp(String.raw`\[${vm}\] ${mark} ([\d.]+) (\d+) ([\d.]+) (\d+)\r?\n`);
  const m = await machine.waitFor(line, 120_000, from);
  const [t0, s0, t1, s1] = m.slice(1, 5).map(Number);
  return ((s1 - s0) * 512) / (t1 - t0);
}

describe.skipIf(!manifest)("VMs sharing the host's NVMe disk", () => {
  it("read in proportion to their disks' weights, and one alone has the whole disk", async () => {
    makeImage();
    const machine = await boot({
      platform: "qemu",
      memoryMiB: HOST_MEMORY_MIB,
      cpus: 2,
      cmdline: "exit=emulator",
      modules: modules(),
      extraArgs: ["-drive", `file=${IMAGE},if=none,id=nvm,format=raw`, "-device", "nvme,drive=nvm,serial=typervisor0"],
    });
    try {
      await machine.waitFor(SHELL("a"), 300_000);
      await machine.waitFor(SHELL("b"), 300_000);
      expect(machine.output).toContain("disk weight-a (NVMe partition, 2048 MiB)");
      expect(machine.output).toContain("disk weight-b (NVMe partition, 2048 MiB, weight 300)");
      // Ctrl-T 0 and 1: type into vm a, vm b. Both read, then both measure at once.
      machine.send(`${READERS}\n\x141${READERS}\n`);
      await new Promise((resolve) => setTimeout(resolve, 2000));
      let from = machine.output.length;
      machine.send(`\x140${window("shared-a")}\n\x141${window("shared-b")}\n`);
      const [a, b] = await Promise.all([rate(machine, "a", "shared-a", from), rate(machine, "b", "shared-b", from)]);
      console.log(`shared: a ${(a / 2 ** 20).toFixed(2)} MiB/s, b ${(b / 2 ** 20).toFixed(2)} MiB/s, b/a ${b / a}`);
      expect(b / a).toBeGreaterThan(3 * 0.9);
      expect(b / a).toBeLessThan(3 * 1.1);

      // b's readers stop; a has the disk to itself.
      from = machine.output.length;
      machine.send(`kill $P1 $P2; echo stopped-$((2 * 4))\n\x140${window("alone-a")}\n`);
      await machine.waitFor(/\[b\] stopped-8\r?\n/, 60_000, from);
      const alone = await rate(machine, "a", "alone-a", from);
      console.log(`alone: a ${(alone / 2 ** 20).toFixed(2)} MiB/s, ${alone / a} times its shared rate`);
      expect(alone).toBeGreaterThan(2 * a);
      machine.send("kill $P1 $P2; poweroff -f\n\x141poweroff -f\n");
      await machine.waitForExit(120_000);
    } finally {
      machine.kill();
    }
  }, 900_000);
});
