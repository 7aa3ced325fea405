// Builds tscstamp.c, the initramfs's clock at /init, with the project's clang
// and lld into a static x86-64 Linux executable, and reads its line back out
// of a console log (tools/linuxbench.ts).

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const TSCSTAMP_SOURCE = join(import.meta.dirname, "tscstamp.c");

// No libc, no start files, not position-independent; no build ID, so the same
// compiler gives the same bytes.
export const TSCSTAMP_FLAGS = [
  "--target=x86_64-unknown-linux-gnu",
  "-ffreestanding",
  "-nostdlib",
  "-static",
  "-fno-pic",
  "-fno-pie",
  "-fno-stack-protector",
  "-mgeneral-regs-only",
  "-Os",
  "-Wall",
  "-Werror",
  "-fuse-ld=lld",
  "-Wl,--build-id=none",
];

export function buildTscStamp(): Buffer {
  const scratch = mkdtempSync(join(tmpdir(), "tscstamp-"));
  try {
    const out = join(scratch, "tscstamp");
    execFileSync("clang", [...TSCSTAMP_FLAGS, "-o", out, TSCSTAMP_SOURCE], { stdio: ["ignore", "ignore", "pipe"] });
    return readFileSync(out);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const STAMP_LINE = /tscstamp: \/init at tsc (\d+)\r?\n/;

// The TSC tscstamp printed, or null if the output has no such line.
export function parseTscStamp(output: string): number | null {
  const match = STAMP_LINE.exec(output);
  return match ? Number(match[1]) : null;
}
