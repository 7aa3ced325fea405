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

// Where the hypervisor's instructions went in a log: by function, and the
// blocks of the functions whose names hold `blocksOf` (for reading beside
// `llvm-objdump -d --disassemble-symbols=...` of the image). The guests'
// blocks are only counted.
export interface FunctionCost {
  function: string;
  instructions: number;
  calls: number;
}
export interface HostProfile {
  hypervisor: number;
  guestBlocks: number;
  functions: FunctionCost[];
  blocks: { pc: number; runs: number; instructions: number; function: string }[];
}

export async function hostProfile(log: string, image: string, blocksOf?: string): Promise<HostProfile> {
  const host = symbols(image), starts = new Set(host.map((s) => s.address));
  const byFunction = new Map<string, FunctionCost>();
  const byBlock = new Map<number, { runs: number; instructions: number }>();
  let hypervisor = 0, guestBlocks = 0;
  for await (const block of blocksRun(log)) {
    if (block.guest) {
      guestBlocks++;
      continue;
    }
    const name = readable(holder(host, block.pc));
    const f = byFunction.get(name) ?? { function: name, instructions: 0, calls: 0 };
    f.instructions += block.instructions;
    // A block at the function's first address is a call (or a loop back to its start).
    if (starts.has(block.pc)) f.calls++;
    byFunction.set(name, f);
    hypervisor += block.instructions;
    if (blocksOf !== undefined && name.includes(blocksOf)) {
      const b = byBlock.get(block.pc) ?? { runs: 0, instructions: 0 };
      b.runs++;
      b.instructions += block.instructions;
      byBlock.set(block.pc, b);
    }
  }
  return {
    hypervisor,
    guestBlocks,
    functions: [...byFunction.values()].sort((a, b) => b.instructions - a.instructions),
    blocks: [...byBlock].sort((x, y) => x[0] - y[0])
      .map(([pc, b]) => ({ pc, ...b, function: readable(holder(host, pc)) })),
  };
}

// The profile's `top` costliest functions, and its blocks if any, as lines.
export function profileLines(p: HostProfile, top: number, blocksOf?: string): string[] {
  const lines = ["instructions     calls  function"];
  for (const f of p.functions.slice(0, top)) {
    lines.push(`${String(f.instructions).padStart(12)}  ${String(f.calls).padStart(8)}  ${f.function}`);
  }
  if (blocksOf !== undefined) {
    lines.push(`blocks run of the functions named *${blocksOf}*: address, runs, instructions, function`);
    for (const b of p.blocks) {
      lines.push(
        `  ${b.pc.toString(16)}  ${String(b.runs).padStart(8)}  ${String(b.instructions).padStart(10)}  ${b.function}`,
      );
    }
  }
  return lines;
}
