// make bench's scale figures (tools/scalebench.ts) read from a console log
// shaped like the real one: several bench VMs' BENCH lines, interleaved.
import { describe, expect, it } from "vitest";
import { figuresOf, roundTrips } from "../../tools/scalebench";

const LOG = [
  "[info ] vm bench0: hypervisor memory 51 KiB (pages 40 KiB, heap 11 KiB, frames 0 KiB)",
  "[bench1] BENCH cpuid 92",
  "[bench0] BENCH cpuid 4100",
  "[bench2] BENCH cpuid 93",
  "[bench0] BENCH out 85",
  "[bench1] BENCH out 85",
  "[bench2] BENCH device_out 832",
  "[bench2] BENCH out 86",
].join("\n");

describe("scale bench", () => {
  it("reads every VM's figure of one loop, and no other loop's", () => {
    expect(figuresOf(LOG, "cpuid")).toEqual([92, 4100, 93]);
    expect(figuresOf(LOG, "out")).toEqual([85, 85, 86]);
  });

  it("reports the smallest figure, which no preemption inflated, and the median", () => {
    expect(roundTrips([92, 4100, 93])).toEqual({ min: 92, median: 93 });
    expect(roundTrips([85])).toEqual({ min: 85, median: 85 });
  });
});
