// The glue between the hypervisor and lwIP (linker/ipstack.c) with lwIP's
// instance as the build makes it (build/lwip.c), built by the Makefile as a
// Linux program (test/unit/c/ipstack-host.c) that plays the kernel's side:
// a frame whose range runs one byte past the kernel's memory is refused
// before any copy; a good one is answered; then lwIP's memory is
// overwritten with 0xff bytes, as a bug might, and the next frame ends in
// a trap the glue catches (a stray access to the process's memory would
// be a segmentation fault instead); after it the stack takes nothing and
// sends nothing, and the program carries on to its end.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";

describe("the glue to lwIP's instance", () => {
  it("checks both ranges, and keeps a trap inside lwIP to lwIP", () => {
    execFileSync("make", ["--no-print-directory", "-s", "build/test/ipstack-host"], { stdio: "inherit" });
    const out = execFileSync("build/test/ipstack-host", { encoding: "utf8" });
    expect(out.split("\n")).toEqual([
      "started 1",
      "one byte past answered 0",
      "answered 1",
      "ipstack: lwIP trapped (out-of-bounds memory access); the management address is down\r",
      "failed 1",
      "after the trap answered 0",
      "",
    ]);
  }, 120_000);
});
