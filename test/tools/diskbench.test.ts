// make bench's disk figures (tools/diskbench.ts) read from console logs
// shaped like the real ones, and the machines it boots: the same NVMe drive
// and command line but for the device, bare and under the hypervisor.
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { guestQemuArgs } from "../../tools/guests/boot";
import { ICOUNT_SLEEP_ARGS, qemuArgs } from "../../tools/harness/qemu";
import {
  bareOptions,
  benchCmdline,
  DiskBench,
  exitsOf,
  makeImage,
  nvmeArgs,
  parsePhases,
  PHASES,
  summary,
  vmOptions,
} from "../../tools/diskbench";
import { CMDLINE } from "../../tools/linuxbench";

const BARE = [
  "tscstamp: /init at tsc 2061205396",
  "[    2.839439]  nvme0n1: p1",
  "diskbench: seq-read idle: 1389811 ticks",
  "diskbench: seq-read 8 requests of 1048576 bytes: 15759887 ticks",
  "diskbench: rand-read idle: 0 ticks",
  "diskbench: rand-read 64 requests of 4096 bytes: 16991378 ticks",
  "diskbench: seq-write 8 requests of 1048576 bytes: 16991378 ticks",
  "",
].join("\r\n");

const vmLog = (io: number, exits: number) =>
  [
    "[info ] vm linux: entered at tsc 27134512",
    "[linux] tscstamp: /init at tsc 2142881868",
    `[linux] diskbench: seq-write exits: ${exits} io ${io} mmio 0 msr-read 0 msr-write 3 hlt 0`,
    "[linux] diskbench: seq-write idle: 7767 ticks",
    "[linux] diskbench: seq-write 8 requests of 1048576 bytes: 9534653 ticks",
    "diskbench: seq-read exits: 7 io 7",
    "diskbench: seq-read idle: 0 ticks",
    "diskbench: seq-read 1 requests of 1048576 bytes: 5 ticks",
    "vm linux: stopped after 100100 exits",
    "",
  ].join("\r\n");

describe("disk bench", () => {
  it("reads each phase's requests, size, ticks and idle ticks; a phase without its idle line is none", () => {
    expect(parsePhases(BARE)).toEqual({
      "seq-read": { requests: 8, bytes: 1048576, ticks: 15759887, idle: 1389811 },
      "rand-read": { requests: 64, bytes: 4096, ticks: 16991378, idle: 0 },
    });
  });

  it("takes a VM's phases only from the VM's own lines", () => {
    expect(parsePhases(vmLog(95000, 100000), "linux")).toEqual({
      "seq-write": { requests: 8, bytes: 1048576, ticks: 9534653, idle: 7767 },
    });
  });

  it("takes a phase's exits from what the VM's diskbench counted, the kinds that were any", () => {
    expect(exitsOf(vmLog(149, 178), "seq-write", "in a VM")).toEqual({
      exits: 178,
      exitsByKind: { io: 149, "msr-write": 3 },
    });
    expect(() => exitsOf(vmLog(1, 1), "rand-read", "in a VM")).toThrow("in a VM: no exits line for rand-read");
    expect(() => exitsOf(vmLog(1, 1), "seq-read", "in a VM")).toThrow("no exits line"); // not the VM's line
  });

  it("sums up each phase's ratio of instructions and exits per request", () => {
    const r: DiskBench = {
      unit: "instructions",
      platform: "QEMU",
      drive: "NVMe",
      phases: {
        "rand-read": {
          requests: 128,
          bytesPerRequest: 4096,
          bare: 3945899,
          vm: 7678085,
          ratio: 1.946,
          bareTicks: 4000000,
          vmTicks: 7700000,
          exits: 282,
          exitsByKind: { mmio: 259, io: 16 },
          exitsPerRequest: 2.2,
        },
      },
      target: 1.25,
      met: false,
      loadedExitsTarget: 0.25,
      loadedExitsMet: true,
    };
    expect(summary(r)).toContain(
      "rand-read  128 x 4096 B: bare 3945899, VM 7678085 instructions, ratio 1.946; 282 exits, "
        + "2.2 per request (mmio 259, io 16)",
    );
    expect(summary(r)).toContain("sequential target at most 1.25: not met");
    expect(summary(r)).toContain("under load (queued-read) at most 0.25 exits per request: met");
  });

  it("runs one phase per boot, each named with its count", () => {
    expect(PHASES.map((p) => p.split(":")[0])).toEqual(["seq-read", "seq-write", "rand-read", "queued-read"]);
    for (const p of PHASES) expect(Number(p.split(":")[1])).toBeGreaterThan(0);
    expect(benchCmdline("/dev/vda", ["seq-read:4"])).toBe(
      `${CMDLINE} cryptomgr.notests=1 typervisor.diskbench=/dev/vda,seq-read:4`,
    );
  });

  it("gives both machines the same NVMe drive, command line but for the device, and clock that sleeps", () => {
    const drive = nvmeArgs("build/bench/x.img").join(" ");
    const bare = guestQemuArgs(bareOptions("seq-read:4", "build/bench/x.img"), "/scratch/serial.txt");
    const vm = vmOptions(["seq-read:4"], "build/bench/x.img"), host = qemuArgs(vm, "/scratch");
    for (const args of [bare, host]) {
      expect(args.join(" ")).toContain(drive);
      expect(args.join(" ")).toContain(ICOUNT_SLEEP_ARGS.join(" "));
    }
    expect(bare.join(" ")).toContain(benchCmdline("/dev/nvme0n1p1", ["seq-read:4"]));
    const config = vm.modules!.map((m) => readFileSync(m.path, "latin1")).find((t) => t.includes("\"cmdline\""));
    expect(JSON.parse(config!).vms[0].cmdline).toBe(benchCmdline("/dev/vda", ["seq-read:4"]));
  });

  it("makes an image with a GPT whose one partition is named bench, 1 MiB in", () => {
    mkdirSync("build/test", { recursive: true });
    const path = "build/test/diskbench-image.img";
    makeImage(path);
    try {
      const image = readFileSync(path);
      expect(image.length).toBe(66 << 20);
      expect(image.subarray(512, 520).toString("latin1")).toBe("EFI PART");
      const entry = image.subarray(1024, 1024 + 128);
      expect(Number(entry.readBigUInt64LE(32))).toBe(2048);
      expect(Number(entry.readBigUInt64LE(40))).toBe(2048 + (64 << 20) / 512 - 1);
      expect(entry.subarray(56, 66).toString("utf16le")).toBe("bench");
    } finally {
      rmSync(path, { force: true });
    }
  });
});
