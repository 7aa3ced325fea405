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

import { execFileSync } from "node:child_process";
import { createReadStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { boot } from "./harness/index";

const IMAGE = "build/typervisor.elf", GUEST = "build/guests/bench.bin", GUEST_ELF = "build/guests/bench.bin.elf";
const ROUNDS = 1000; // test/guests/bench.c
// hflags bit 21 (HF_GUEST_MASK in QEMU's target/i386/cpu.h): the block runs in SVM guest mode.
const GUEST_MODE = 1n << 21n;
const TOP = 25;

interface Symbol {
  address: number;
  name: string;
}

// The text symbols of an ELF file, by address.
function symbols(elf: string): Symbol[] {
  return execFileSync("llvm-nm", ["-n", "--defined-only", elf], { encoding: "utf8" }).split("\n")
    .map((line) => line.split(" "))
    .filter((f) => f.length == 3 && "tTwW".includes(f[1]))
    .map((f) => ({ address: parseInt(f[0], 16), name: f[2] }));
}

// The symbol holding `address`: the last one at or below it.
function holder(table: Symbol[], address: number): string {
  let lo = 0, hi = table.length - 1, found = "?";
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (table[mid].address <= address) {
      found = table[mid].name;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

// wasm2c's mangled name as the AssemblyScript source spells it.
const readable = (name: string) =>
  name.replace(/^w2c_kernel_/, "").replace(/0x([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));

// Per loop: the hypervisor's instructions by function.
async function profile(log: string, host: Symbol[], guest: Symbol[]): Promise<Map<string, Map<string, number>>> {
  const lengths = new Map<number, number>(); // a block's first address -> its instructions
  // In the order the guest runs its loops (the time_ functions of test/guests/bench.c).
  const byLoop = new Map<string, Map<string, number>>();
  let translating = -1, loop: string | null = null;
  for await (const line of createInterface({ input: createReadStream(log) })) {
    if (line.startsWith("IN:")) translating = -1;
    else if (line.startsWith("0x") && line.includes(":  ")) {
      const address = parseInt(line, 16);
      // A block translated again (other flags, or cut short) has the new length.
      if (translating < 0) lengths.set(translating = address, 0);
      lengths.set(translating, lengths.get(translating)! + 1);
    } else if (line.startsWith("Trace")) {
      // "Trace 0: 0x7f.. [cs_base/pc/flags/cflags] name"
      const fields = line.slice(line.indexOf("[") + 1).split("/");
      const pc = parseInt(fields[1], 16);
      if ((BigInt("0x" + fields[2]) & GUEST_MODE) != 0n) {
        // The loop's own function, or what it calls (the hypercall helper); guest_main between loops.
        const name = holder(guest, pc);
        if (name.startsWith("time_")) {
          loop = name.slice("time_".length);
          if (!byLoop.has(loop)) byLoop.set(loop, new Map());
        } else if (name == "guest_main") loop = null;
      } else if (loop !== null) {
        const counts = byLoop.get(loop)!, name = readable(holder(host, pc));
        counts.set(name, (counts.get(name) ?? 0) + (lengths.get(pc) ?? 0));
      }
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
