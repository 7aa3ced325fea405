// vitest: unit tests (test/unit, AssemblyScript modules compiled to wasm and
// run in Node), the tools' tests (test/tools) and system tests (test/system,
// the real image booted in QEMU and Bochs). `make test` builds the image
// first and runs them; `make test-long` runs the long tier (test/long,
// TEST_LONG=1) instead.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: process.env.TEST_LONG ? ["test/long/**/*.test.ts"] : ["test/{unit,tools,system}/**/*.test.ts"],
    testTimeout: 20 * 60 * 1000,
    hookTimeout: 5 * 60 * 1000,
    // Each emulator is single-threaded: two at a time fill a 2-core machine.
    maxWorkers: 2,
    minWorkers: 1,
    reporters: ["default"],
  },
});
