// Adapts wasm2c's output to the hypervisor's memory model.
//
// wasm2c computes every linear-memory address as `mem->data + addr`, reading
// `data` from the instance each time (it may alias any byte store, so clang
// cannot keep it in a register). Our linear memory is at a fixed virtual
// address, so we substitute that constant. wasm2c also pins every loaded
// value with an empty asm statement so that a load whose result is unused
// still faults when out of bounds; that blocks register allocation, and a
// dead load cannot corrupt anything, so we drop it.
// Usage: tsx tools/build/patch-wasm2c.ts build/kernel.c

import { readFileSync, writeFileSync } from "node:fs";

const file = process.argv[2];
let text = readFileSync(file, "utf8");

const substitutions: Array<[RegExp, string]> = [
  [/^#define MEM_ADDR\(mem, addr, n\) &\(\(mem\)->data\[addr\]\)$/m, "#define MEM_ADDR(mem, addr, n) " +
    "((u8*)LINEAR_BASE + (addr))"],
  // Every variant (wasm2c picks the asm constraint per architecture).
  [/^#define FORCE_READ_INT\(var\) __asm__\(.*\);$/gm, "#define FORCE_READ_INT(var)"],
  [/^#define FORCE_READ_FLOAT\(var\) __asm__\(.*\);$/gm, "#define FORCE_READ_FLOAT(var)"],
];

for (const [pattern, replacement] of substitutions) {
  if (!text.match(pattern)) {
    console.error(`patch-wasm2c: ${file}: no match for ${pattern}; has the wasm2c version changed?`);
    process.exit(1);
  }
  text = text.replace(pattern, replacement);
}
// wasm2c initialises each active data segment (AssemblyScript makes one per
// string literal, over a thousand) with its own inlined LOAD_DATA: about 45
// bytes of code each. A table of (offset, size, data) and one loop do the
// same, with the same range check, in a few dozen bytes.
const loadData = /^  LOAD_DATA\(instance->w2c_memory, (\d+)u, (data_segment_data_w2c_kernel_d\d+), (\d+)\);\n/gm;
const segments = [...text.matchAll(loadData)];
if (segments.length === 0) {
  console.error(`patch-wasm2c: ${file}: no data segment initialisation found; has the wasm2c version changed?`);
  process.exit(1);
}
const table = segments.map((m) => `    {${m[1]}u, ${m[3]}u, ${m[2]}},\n`).join("");
const loop = "  static const struct { u32 offset; u32 size; const u8* data; } segments[] = {\n" + table + "  };\n" +
  "#pragma clang loop unroll(disable)\n" +
  "  for (size_t k = 0; k < sizeof(segments) / sizeof(segments[0]); k++)\n" +
  "    LOAD_DATA(instance->w2c_memory, segments[k].offset, segments[k].data, segments[k].size);\n";
let first = true;
text = text.replace(loadData, () => { if (!first) return ""; first = false; return loop; });
writeFileSync(file, text);
