// make exit-profile: where the instructions of one exit round trip go,
// function by function, under the AMD-V backend in QEMU.
//
// `make bench` gives the whole round trip of a CPUID, a hypercall and an OUT
// (test/guests/bench.c). This boots the same guest with QEMU's execution log
// (-d exec,nochain,in_asm): every translated block's instructions, and every
// block as it runs. Each block the hypervisor runs is charged to the
// benchmark loop whose guest instruction ran last (the guest's functions
// time_cpuid, time_hypercall, time_out) and to the hypervisor function that
// holds it (the image's symbols; wasm-opt's inlining folds small functions
// into their callers). Under -icount one instruction is one TSC tick, so the
// sums per round agree with `make bench` within a few percent (a block cut
// short by an exit is counted whole). Results in build/bench/exit-profile.json and on stdout.
//
// The log runs to about 1 GB, in the system's temporary folder, removed at
// the end.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blocksRun, holder, readable, Symbol, symbols } from "./harness/execlog";
import { boot } from "./harness/index";

const IMAGE = "build/typervisor.elf", GUEST = "build/guests/bench.bin", GUEST_ELF = "build/guests/bench.bin.elf";
const ROUNDS = 1000; // test/guests/bench.c
const TOP = 25;

// Per loop: the hypervisor's instructions by function.
async function profile(log: string, host: Symbol[], guest: Symbol[]): Promise<Map<string, Map<string, number>>> {
  // In the order the guest runs its loops (the time_ functions of test/guests/bench.c).
  const byLoop = new Map<string, Map<string, number>>();
  let loop: string | null = null;
  for await (const block of blocksRun(log)) {
    if (block.guest) {
      // The loop's own function, or what it calls (the hypercall helper); guest_main between loops.
      const name = holder(guest, block.pc);
      if (name.startsWith("time_")) {
        loop = name.slice("time_".length);
        if (!byLoop.has(loop)) byLoop.set(loop, new Map());
      } else if (name == "guest_main") loop = null;
    } else if (loop !== null) {
      const counts = byLoop.get(loop)!, name = readable(holder(host, block.pc));
      counts.set(name, (counts.get(name) ?? 0) + block.instructions);
    }
  }
  return byLoop;
}

const scratch = mkdtempSync(join(tmpdir(), "exitprofile-"));
const log = join(scratch, "qemu.log");
try {
  const machine = await boot({
    platform: "qemu",
    icount: true,
    memoryMiB: 256,
    cmdline: "exit=emulator",
    modules: [{ path: GUEST, args: "vm=bench" }],
    extraArgs: ["-d", "exec,nochain,in_asm", "-D", log],
  });
  await machine.waitForExit(600_000);
  const bench = Object.fromEntries([...machine.output.matchAll(/BENCH (\w+) (\d+)/g)].map((m) => [m[1], Number(m[2])]));
  const byLoop = await profile(log, symbols(IMAGE), symbols(GUEST_ELF));
  const results: Record<string, unknown> = {};
  for (const [loop, counts] of byLoop) {
    const perRound = [...counts].map(([name, n]) => ({ function: name, instructions: +(n / ROUNDS).toFixed(1) }))
      .sort((a, b) => b.instructions - a.instructions);
    const total = perRound.reduce((sum, f) => sum + f.instructions, 0);
    results[loop] = { bench: bench[loop], hypervisor: +total.toFixed(1), functions: perRound };
    console.log(
      `${loop}: ${total.toFixed(0)} instructions of the hypervisor per round trip (make bench: ${bench[loop]})`,
    );
    for (const f of perRound.slice(0, TOP).filter((f) => f.instructions > 0)) {
      console.log(`  ${f.instructions.toFixed(1).padStart(7)}  ${f.function}`);
    }
  }
  mkdirSync("build/bench", { recursive: true });
  writeFileSync(
    "build/bench/exit-profile.json",
    JSON.stringify({ unit: "instructions per round trip (QEMU -icount, AMD-V)", loops: results }, null, 2),
  );
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
