// System test: the fuzzing guest (test/guests/kernels/fuzz.c, tools/fuzz.ts)
// for a few seeds, briefly, on both backends: the hypervisor neither traps
// nor hangs, the fuzzer gets through its operations and the VM beside it
// passes its checks. `make fuzz` runs long.
import { describe, expect, it } from "vitest";
import { fuzzOnce } from "../../tools/fuzz";

// A million and a half operations in all: about a minute on the CI machine.
const SEEDS = [1, 2];
const QEMU_OPS = 500_000, BOCHS_OPS = 250_000;

describe("the fuzzing guest", () => {
  it.each(SEEDS)("leaves the hypervisor and the other VM unharmed under AMD-V (seed %i)", async (seed) => {
    const run = await fuzzOnce("qemu", seed, QEMU_OPS);
    expect(run.problem, run.output.slice(-3000)).toBe("");
  });

  it.each(SEEDS)("leaves the hypervisor and the other VM unharmed under VT-x (seed %i)", async (seed) => {
    const run = await fuzzOnce("bochs", seed, BOCHS_OPS);
    expect(run.problem, run.output.slice(-3000)).toBe("");
  });
});
