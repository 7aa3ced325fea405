// Turns a file into C: a byte array and its length, for lwIP's instance to
// serve (the dashboard, linker/lwip/http.c). Clang 14 has no #embed.
//
//   tsx tools/build/embed.ts FILE NAME OUT.c

import { readFileSync, writeFileSync } from "node:fs";

const [file, name, out] = process.argv.slice(2);
if (!file || !name || !out) {
  console.error("usage: embed.ts FILE NAME OUT.c");
  process.exit(2);
}
const bytes = readFileSync(file);
const lines: string[] = [];
for (let at = 0; at < bytes.length; at += 16) {
  lines.push("  " + [...bytes.subarray(at, at + 16)].map((b) => `0x${b.toString(16).padStart(2, "0")},`).join(" "));
}
writeFileSync(
  out,
  `/* ${file}, made into C by tools/build/embed.ts. */\n#include <stdint.h>\n\n`
    + `const uint8_t ${name}[] = {\n${lines.join("\n")}\n};\n`
    + `const uint32_t ${name}_length = ${bytes.length};\n`,
);
