// The initramfs's own programs, each a freestanding static x86-64 Linux
// executable from one C file of this folder: tscstamp.c, the clock at /init
// (tools/linuxbench.ts), diskbench.c, the disk benchmark
// (tools/diskbench.ts), and netbench.c, the network benchmark's TCP
// transfer and veth pair (tools/netbench.ts); the two benchmarks share
// program.h. Built with the project's clang and lld; they go to the
// initramfs's /bin (initramfs.ts).

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const PROGRAM_SOURCES = {
  tscstamp: join(import.meta.dirname, "tscstamp.c"),
  diskbench: join(import.meta.dirname, "diskbench.c"),
  netbench: join(import.meta.dirname, "netbench.c"),
};

// What the programs include, which the initramfs's recipe counts as theirs.
export const PROGRAM_HEADER = join(import.meta.dirname, "program.h");

export type GuestPrograms = Record<keyof typeof PROGRAM_SOURCES, Buffer>;

// No libc, no start files, not position-independent; no build ID, so the same
// compiler gives the same bytes.
export const PROGRAM_FLAGS = [
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

export function buildPrograms(): GuestPrograms {
  const scratch = mkdtempSync(join(tmpdir(), "guest-programs-"));
  try {
    const build = (source: string) => {
      const out = join(scratch, "program");
      execFileSync("clang", [...PROGRAM_FLAGS, "-o", out, source], { stdio: ["ignore", "ignore", "pipe"] });
      return readFileSync(out);
    };
    return {
      tscstamp: build(PROGRAM_SOURCES.tscstamp),
      diskbench: build(PROGRAM_SOURCES.diskbench),
      netbench: build(PROGRAM_SOURCES.netbench),
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
