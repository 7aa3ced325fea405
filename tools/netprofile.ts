// make net-profile: where the hypervisor's instructions go while one VM
// sends to another (the network bench's transfer, docs/net-bench.md),
// function by function, under the AMD-V backend in QEMU.
//
// It boots the bench's two VMs (tools/netbench.ts) with QEMU's log of the
// blocks it translates, and turns on the log of every block run (QEMU's
// monitor) only for the transfer: from the receiver's "eth0 before" line
// to its "received" line (tools/guests/netbench.c). The hypervisor's
// blocks are charged to their functions (harness/execlog.ts); the guests'
// are only counted. Results in build/bench/net-profile.json and on stdout.
//
//   tsx tools/netprofile.ts [--bytes N] [--blocks NAME]
//
// --blocks lists, for each function whose name holds NAME, its blocks
// run: address, runs and instructions, to read beside
// `llvm-objdump -d --disassemble-symbols=...` of the image (where in a
// function its instructions go). N is 8 MiB unless told: the log of the transfer is about 3 GB, in the
// system's temporary folder, removed at the end. Figures for the bench's
// 64 MiB are about eight times these.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ensureGuests } from "./guests/debian";
import { hostProfile, profileLines } from "./harness/execlog";
import { countDisk, parseCounters, RECEIVER, twoVms } from "./netbench";

const IMAGE = "build/typervisor.elf";
const MiB = 1024 * 1024;
const TOP = 40;
const TIMEOUT_MS = 1_800_000;

const { values } = parseArgs({
  options: { bytes: { type: "string", default: String(8 * MiB) }, blocks: { type: "string" } },
});
const bytes = Number(values.bytes);
ensureGuests({ log: (s) => console.log(`guest-kernels: ${s}`) });
mkdirSync("build/bench", { recursive: true });
const scratch = mkdtempSync(join(tmpdir(), "netprofile-"));
const log = join(scratch, "qemu.log");
try {
  const machine = await twoVms(1, countDisk(bytes, bytes), {
    monitor: true,
    extraArgs: ["-d", "in_asm,nochain", "-D", log],
  });
  const vm = `[${RECEIVER.name}] `;
  try {
    await machine.waitFor(`${vm}netbench: eth0 before`, TIMEOUT_MS);
    await machine.monitor!.command("log in_asm,exec,nochain");
    await machine.waitFor(`${vm}netbench: received`, TIMEOUT_MS);
    await machine.monitor!.command("log none");
    await machine.waitForExit(TIMEOUT_MS);
  } finally {
    machine.kill();
  }
  const p = await hostProfile(log, IMAGE, values.blocks);
  const packets = parseCounters(machine.output, "eth0", RECEIVER.name), frames = packets.received + packets.sent;
  console.log(
    `${bytes} bytes, ${frames} frames at the receiver both ways: the hypervisor ran ${p.hypervisor} `
      + `instructions (${Math.round(p.hypervisor / frames)} a frame), the guests ${p.guestBlocks} blocks`,
  );
  for (const line of profileLines(p, TOP, values.blocks)) console.log(line);
  writeFileSync(
    "build/bench/net-profile.json",
    JSON.stringify(
      { unit: "instructions (QEMU -icount, AMD-V)", bytes, frames, hypervisor: p.hypervisor, functions: p.functions },
      null,
      2,
    ),
  );
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
