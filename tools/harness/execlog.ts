// QEMU's execution log, read block by block, for the profiles
// (tools/exitprofile.ts, tools/netprofile.ts).
//
// With `-d exec,nochain,in_asm` QEMU prints every block it translates,
// one line per guest instruction after an "IN:" line, and every block it
// runs, as a "Trace" line with its address and flags. Under -icount one
// instruction is one TSC tick, so the instructions of the blocks run are
// the ticks spent. The hypervisor's blocks are named by the function that
// holds them (the image's symbols; wasm-opt's inlining folds small
// functions into their callers). A block that runs in SVM guest mode is
// a VM's: QEMU cannot read a VM's memory to print it (nested paging), so
// its length is unknown, only that it was the guest's.

import { execFileSync } from "node:child_process";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";

// hflags bit 21 (HF_GUEST_MASK in QEMU's target/i386/cpu.h): the block runs in SVM guest mode.
const GUEST_MODE = 1n << 21n;

export interface Symbol {
  address: number;
  name: string;
}

// The text symbols of an ELF file, by address.
export function symbols(elf: string): Symbol[] {
  return execFileSync("llvm-nm", ["-n", "--defined-only", elf], { encoding: "utf8" }).split("\n")
    .map((line) => line.split(" "))
    .filter((f) => f.length == 3 && "tTwW".includes(f[1]))
    .map((f) => ({ address: parseInt(f[0], 16), name: f[2] }));
}

// The symbol holding `address`: the last one at or below it.
export function holder(table: Symbol[], address: number): string {
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
export const readable = (name: string) =>
  name.replace(/^w2c_kernel_/, "").replace(/0x([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));

// One block run: its address, whether a guest ran it, and its instructions
// (0 for a guest's, unknown).
export interface BlockRun {
  pc: number;
  guest: boolean;
  instructions: number;
}

// The blocks run, in order, from the log at `path`.
export async function* blocksRun(path: string): AsyncGenerator<BlockRun> {
  const lengths = new Map<number, number>(); // a block's first address -> its instructions
  let translating = -1;
  for await (const line of createInterface({ input: createReadStream(path) })) {
    if (line.startsWith("IN:")) translating = -1;
    else if (line.startsWith("0x") && line.includes(":  ")) {
      const address = parseInt(line, 16);
      // A block translated again (other flags, or cut short) has the new length.
      if (translating < 0) lengths.set(translating = address, 0);
      lengths.set(translating, lengths.get(translating)! + 1);
    } else if (line.startsWith("Trace")) {
      // "Trace 0: 0x7f.. [cs_base/pc/flags/cflags] name"
      const fields = line.slice(line.indexOf("[") + 1).split("/");
      const pc = parseInt(fields[1], 16), guest = (BigInt("0x" + fields[2]) & GUEST_MODE) != 0n;
      yield { pc, guest, instructions: guest ? 0 : lengths.get(pc) ?? 0 };
    }
  }
}
