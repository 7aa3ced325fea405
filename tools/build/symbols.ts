// The image's symbol table, so that a backtrace names functions on a machine
// with no host tools (linker/console.c, tv_print_symbol).
//
// The image is linked twice. The first link holds an empty table; this tool
// reads its text symbols (`llvm-nm -n --defined-only`), turns wasm2c's names
// back into AssemblyScript's, and writes the table as assembly for the second
// link. linker/typervisor.ld puts the table after all code and data, so the
// second link cannot move a function: the addresses it records are final.
// `--check` proves it on the final image (tools/build/check-image.sh).
//
// Layout, little-endian, in section .tv_symbols:
//   u32 count; { u32 address; u32 name; } entry[count]; names
// sorted by address, each entry naming the code from its address up to the
// next one's. `name` is the offset of a NUL-terminated name from the table's
// start; the last entry, at the end of .text, has the empty name.
//
// Usage: tsx tools/build/symbols.ts --empty OUT.S
//        tsx tools/build/symbols.ts ELF OUT.S
//        tsx tools/build/symbols.ts --check ELF

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Entry {
  address: number;
  name: string;
}

// wasm2c's C name for a wasm function: the module prefix, then the name from
// the name section with every character outside [A-Za-z0-9_] (and the second
// of two underscores) written as 0xXX. `wrap_` marks its funcref wrappers.
// (A name that itself holds "0x" and two capital hex digits would print
// wrongly; in practice none does.)
export function demangle(symbol: string): string {
  const dot = symbol.indexOf("."); // clang's suffixes (.cold, .llvm.N): wasm2c escapes '.'
  const head = dot < 0 ? symbol : symbol.slice(0, dot);
  const tail = dot < 0 ? "" : symbol.slice(dot);
  const m = /^(wrap_)?w2c_kernel_(.+)$/.exec(head);
  if (!m) return symbol;
  const name = m[2].replace(/0x([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return (m[1] ?? "") + shorten(name) + tail;
}

// AssemblyScript names carry their file's path: vmm/core/vm/Vm#finish. Kept
// at the top level; type arguments keep only the class (Array<BootModule>),
// and a standard library class loses its path (~lib/array/Array -> Array).
export function shorten(name: string): string {
  return name.replace(/(?<=[<,])(?:[^<>,/]*\/)+/g, "").replace(/^~lib\/(?:[^<>/]+\/)*(?=[A-Z])/, "");
}

function run(tool: string, args: string[]): string {
  return execFileSync(tool, args, { encoding: "utf8", maxBuffer: 64 << 20 });
}

// The functions of `elf`, sorted, with an end marker at the end of .text.
export function readSymbols(elf: string): Entry[] {
  const text = /^\.text\s+(\d+)\s+(\d+)$/m.exec(run("llvm-size", ["-A", elf]));
  if (!text) throw new Error(`${elf}: no .text section`);
  const start = Number(text[2]), end = start + Number(text[1]);
  const byAddress = new Map<number, { name: string; rank: number }>();
  for (const line of run("llvm-nm", ["-n", "--defined-only", elf]).split("\n")) {
    const m = /^([0-9a-f]+) ([tTwW]) (\S+)$/.exec(line);
    if (!m) continue;
    const address = parseInt(m[1], 16);
    if (address < start || address >= end) continue;
    // Several names at one address: a function before a label, a global before a local.
    const rank = (m[3].startsWith("__") ? 0 : 2) + (m[2] === "T" ? 1 : 0);
    const seen = byAddress.get(address);
    if (!seen || rank > seen.rank) byAddress.set(address, { name: m[3], rank });
  }
  const symbols = [...byAddress].map(([address, s]) => ({ address, name: demangle(s.name) }));
  symbols.sort((a, b) => a.address - b.address);
  symbols.push({ address: end, name: "" });
  return symbols;
}

// The table's bytes, and the name offsets the assembly uses.
export function encode(symbols: Entry[]): { bytes: Buffer; offsets: number[] } {
  const header = 4 + 8 * symbols.length;
  const blob: Buffer[] = [];
  const offsets: number[] = [];
  const where = new Map<string, number>();
  let size = 0;
  for (const { name } of symbols) {
    let offset = where.get(name);
    if (offset === undefined) {
      offset = header + size;
      where.set(name, offset);
      const bytes = Buffer.from(name + "\0", "latin1");
      blob.push(bytes);
      size += bytes.length;
    }
    offsets.push(offset);
  }
  const table = Buffer.alloc(header);
  table.writeUInt32LE(symbols.length, 0);
  symbols.forEach((s, i) => {
    table.writeUInt32LE(s.address, 4 + 8 * i);
    table.writeUInt32LE(offsets[i], 8 + 8 * i);
  });
  return { bytes: Buffer.concat([table, ...blob]), offsets };
}

export function assembly(symbols: Entry[], from: string): string {
  const { offsets } = encode(symbols);
  const hex = (n: number) => "0x" + n.toString(16);
  const entries = symbols.map((s, i) => `  .long ${hex(s.address)}, ${offsets[i]}\n`).join("");
  const names = [...new Set(symbols.map((s) => s.name))]
    .map((n) => `  .asciz "${n.replace(/[\\"]/g, "\\$&")}"\n`).join("");
  return `/* Generated by tools/build/symbols.ts from ${from}; ${symbols.length} entries. */\n`
    + `  .section .tv_symbols, "a"\n  .balign 4\n  .globl tv_symbols\ntv_symbols:\n  .long ${symbols.length}\n`
    + entries + names;
}

// Every entry of the table embedded in `elf` must name a function at the
// address that `elf` itself gives it, and nothing may be missing.
export function check(elf: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), "symbols-"));
  let embedded: Buffer;
  try {
    run("llvm-objcopy", ["-O", "binary", "--only-section=.tv_symbols", elf, join(dir, "table")]);
    embedded = readFileSync(join(dir, "table"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const expected = readSymbols(elf);
  if (embedded.equals(encode(expected).bytes)) return [];
  const problems: string[] = [];
  const count = embedded.length >= 4 ? embedded.readUInt32LE(0) : 0;
  if (count !== expected.length) problems.push(`${count} entries, the image has ${expected.length} functions`);
  for (let i = 0; i < Math.min(count, expected.length) && problems.length < 10; i++) {
    const address = embedded.readUInt32LE(4 + 8 * i);
    const offset = embedded.readUInt32LE(8 + 8 * i);
    const name = embedded.toString("latin1", offset, embedded.indexOf(0, offset));
    const want = expected[i];
    if (address !== want.address || name !== want.name) {
      problems.push(
        `entry ${i}: ${name} at 0x${address.toString(16)}, the image has ${want.name} at `
          + `0x${want.address.toString(16)}`,
      );
    }
  }
  return problems.length > 0 ? problems : ["the table's bytes differ from the image's symbols"];
}

if (process.argv[1]?.endsWith("symbols.ts")) {
  const [first, second] = process.argv.slice(2);
  if (first === "--empty") {
    writeFileSync(second, assembly([], "nothing (the first link)"));
  } else if (first === "--check") {
    const problems = check(second);
    for (const p of problems) console.error(`symbols: ${second}: ${p}`);
    process.exit(problems.length > 0 ? 1 : 0);
  } else {
    writeFileSync(second, assembly(readSymbols(first), first));
  }
}
