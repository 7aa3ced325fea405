// make disk-profile: where the hypervisor's instructions go while Linux in
// a VM reads or writes its virtio disk (one phase of the disk bench,
// docs/disk-bench.md), function by function, under the AMD-V backend in
// QEMU.
//
// It boots the bench's VM (tools/diskbench.ts) for one phase with QEMU's
// log of the blocks it translates, and turns on the log of every block run
// (QEMU's monitor) only from /init's "diskbench on" line to diskbench's
// idle line for the phase: the phase, with diskbench's start and its
// first lines. The hypervisor's blocks are charged to their functions
// (harness/execlog.ts); the guest's are only counted. Results on stdout.
//
//   tsx tools/diskprofile.ts [--phase seq-read:16] [--blocks NAME]
//
// --blocks lists the blocks run of each function whose name holds NAME,
// as tools/netprofile.ts does.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { makeImage, vmOptions } from "./diskbench";
import { ensureGuests } from "./guests/debian";
import { boot } from "./harness/index";
import { hostProfile, profileLines } from "./harness/execlog";

const IMAGE = "build/typervisor.elf";
const TOP = 40;
const TIMEOUT_MS = 1_800_000;

const { values } = parseArgs({
  options: { phase: { type: "string", default: "seq-read:16" }, blocks: { type: "string" } },
});
ensureGuests({ log: (s) => console.log(`guest-kernels: ${s}`) });
const scratch = mkdtempSync(join(tmpdir(), "diskprofile-"));
const log = join(scratch, "qemu.log"), disk = join(scratch, "disk.img");
try {
  makeImage(disk);
  const options = vmOptions([values.phase], disk);
  const machine = await boot({
    ...options,
    monitor: true,
    extraArgs: [...(options.extraArgs ?? []), "-d", "in_asm,nochain", "-D", log],
  });
  try {
    await machine.waitFor("typervisor-initramfs: diskbench on", TIMEOUT_MS);
    await machine.monitor!.command("log in_asm,exec,nochain");
    await machine.waitFor(/diskbench: \S+ idle: /, TIMEOUT_MS);
    await machine.monitor!.command("log none");
    await machine.waitForExit(TIMEOUT_MS);
  } finally {
    machine.kill();
  }
  for (const line of machine.output.split("\n").filter((l) => l.includes("diskbench: "))) console.log(line.trim());
  const p = await hostProfile(log, IMAGE, values.blocks);
  console.log(`the hypervisor ran ${p.hypervisor} instructions, the guest ${p.guestBlocks} blocks`);
  for (const line of profileLines(p, TOP, values.blocks)) console.log(line);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
