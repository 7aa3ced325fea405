// The sources are formatted (dprint.json: dprint's TypeScript plugin, from
// npm) and no line is longer than 120 characters, the formatter's width,
// including the lines it cannot break (comments, strings) and the one file
// it cannot read (kernel/arch/shim.ts, whose @external decorators are not
// TypeScript).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const MAX_LINE = 120;

function trackedSources(): string[] {
  const r = spawnSync("git", ["ls-files", "-co", "--exclude-standard", "*.ts"], { encoding: "utf8" });
  return r.stdout.split("\n").filter((f) => f.length > 0 && !f.startsWith("node_modules/"));
}

describe("source format", () => {
  it("is what dprint makes of it", () => {
    const r = spawnSync("node_modules/.bin/dprint", ["check", "--list-different"], { encoding: "utf8" });
    expect(r.stdout.trim(), `dprint would reformat these (run: npx dprint fmt)\n${r.stderr}`).toBe("");
    expect(r.status).toBe(0);
  });

  it(`keeps every line of TypeScript within ${MAX_LINE} characters`, () => {
    const long: string[] = [];
    for (const file of trackedSources()) {
      readFileSync(file, "utf8").split("\n").forEach((line, i) => {
        if (line.length > MAX_LINE) long.push(`${file}:${i + 1}: ${line.length} characters`);
      });
    }
    expect(long).toEqual([]);
  });
});
