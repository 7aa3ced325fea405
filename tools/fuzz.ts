// The fuzzing guest (test/guests/kernels/fuzz.c) beside a well-behaved one.
//
// Each run boots the hypervisor with two VMs: "fuzz", the fuzzing kernel
// from a VM configuration (so on the PC platform, with every device) given
// seed=S ops=N on its command line, and long64, the guest suite's long-mode
// guest (tools/harness/suite.ts), which must still pass all its checks. A
// run passes when the hypervisor neither traps nor hangs, the fuzzer gets
// through its operations and the other VM finishes. The system tests run a
// few seeds briefly on both backends (test/system/fuzz.test.ts);
// `make fuzz SEEDS=N OPS=M [PLATFORM=bochs] [SEED=S]` runs long, and prints
// a JSON summary (operations per second, failures with their seeds).

import { mkdirSync, writeFileSync } from "node:fs";
import { boot, type Platform } from "./harness/index";
import { guestModules } from "./harness/suite";

export const FUZZ_KERNEL = "build/guests/fuzz.elf";
const RUN_TIMEOUT_MS = 900_000;

export interface FuzzRun {
  seed: number;
  ops: number;
  seconds: number;
  passed: boolean;
  // What went wrong, for a failed run; "" when it passed.
  problem: string;
  output: string;
}

// Boots one seed; never throws for a failed run.
export async function fuzzOnce(platform: Platform, seed: number, ops: number, cpus = 1): Promise<FuzzRun> {
  mkdirSync("build/test", { recursive: true });
  const config = `build/test/fuzz-${seed}.json`;
  const vm = { name: "fuzz", memory: 16, kernel: "fuzz.elf", cmdline: `seed=${seed} ops=${ops}` };
  writeFileSync(config, JSON.stringify({ vms: [vm] }) + "\n");
  const started = Date.now();
  const machine = await boot({
    platform,
    cpus,
    memoryMiB: 256,
    cmdline: "exit=emulator",
    modules: [
      { path: FUZZ_KERNEL, args: "fuzz.elf" },
      ...guestModules(["long64"]),
      { path: config, args: `fuzz-${seed}.json config` },
    ],
  });
  let problem = "";
  try {
    const exit = await machine.waitForExit(RUN_TIMEOUT_MS);
    if (exit.status !== 0) problem = `the emulator ended with status ${exit.status}`;
  } catch {
    machine.kill();
    problem = `no end within ${RUN_TIMEOUT_MS / 1000} s: the hypervisor hangs`;
  }
  const output = machine.output.replace(/\r/g, "");
  const trap = /\*\*\* cpu \d+: .*/.exec(output);
  if (trap) problem = `the hypervisor trapped: ${trap[0]}`;
  else if (!output.includes(`[fuzz] fuzz: done: ${ops} operations`)) problem ||= "the fuzzer did not finish";
  else if (!output.includes("vm fuzz: exited with status 0")) problem ||= "the fuzzing VM did not exit with 0";
  else if (!output.includes("[long64] guest: all checks passed")) problem ||= "the other VM did not pass its checks";
  else if (!output.includes("typervisor: shutdown")) problem ||= "no clean shutdown";
  return { seed, ops, seconds: (Date.now() - started) / 1000, passed: problem === "", problem, output };
}

async function main(): Promise<void> {
  const platform = (process.env.PLATFORM ?? "qemu") as Platform;
  const seeds = Number(process.env.SEEDS ?? 4), ops = Number(process.env.OPS ?? 1_000_000);
  const first = Number(process.env.SEED ?? Date.now() % 1_000_000_007);
  const runs: FuzzRun[] = [];
  for (let i = 0; i < seeds; i++) {
    const run = await fuzzOnce(platform, first + i, ops);
    console.error(`seed ${run.seed}: ${run.passed ? "passed" : run.problem} (${run.seconds.toFixed(1)} s)`);
    if (!run.passed) writeFileSync(`build/test/fuzz-${run.seed}.log`, run.output);
    runs.push(run);
  }
  const seconds = runs.reduce((sum, r) => sum + r.seconds, 0);
  const failed = runs.filter((r) => !r.passed);
  console.log(JSON.stringify(
    {
      platform,
      seeds: runs.map((r) => r.seed),
      operations: seeds * ops,
      seconds: Number(seconds.toFixed(1)),
      operationsPerSecond: Math.round(seeds * ops / seconds),
      failures: failed.map((r) => ({ seed: r.seed, problem: r.problem, log: `build/test/fuzz-${r.seed}.log` })),
    },
    null,
    2,
  ));
  if (failed.length > 0) process.exit(1);
}

if (process.argv[1]?.endsWith("fuzz.ts")) main();
