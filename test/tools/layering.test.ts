// The layering rule (docs/vmm.md, "Layers"), checked on the real tree, and
// the checker itself on small graphs that break it.
import { describe, expect, it } from "vitest";
import { checkLayers, checkRepository, cycles, importsOf, parseLayers } from "../../tools/check/layers";

const RULE = `
## Layers

| layer | folders | what |
| --- | --- | --- |
| 1 | \`k/arch\` | facts |
| 2 | \`v/core\` | core |
| 3 | \`v/hw/a\`, \`v/hw/b\` | siblings |
| 4 | \`v\` | the rest |
`;

function graph(entries: Record<string, string[]>): Map<string, string[]> {
  return new Map(Object.entries(entries));
}

describe("layering", () => {
  it("holds for every import of kernel/ and vmm/", () => {
    expect(checkRepository(process.cwd())).toEqual([]);
  });

  it("reads the table's folders and ranks, several folders to a row", () => {
    expect(parseLayers(RULE)).toEqual([
      { rank: 1, folder: "k/arch" },
      { rank: 2, folder: "v/core" },
      { rank: 3, folder: "v/hw/a" },
      { rank: 3, folder: "v/hw/b" },
      { rank: 4, folder: "v" },
    ]);
  });

  it("finds the imports of a module, relative to its folder", () => {
    const source = "import { a } from \"../core/vm\";\nimport * as b from \"./x\";\nexport { c } from "
      + "\"../../k/arch/y\";\nimport \"z\";\n";
    expect(importsOf("v/hw/a.ts", source)).toEqual(["v/core/vm.ts", "v/hw/x.ts", "k/arch/y.ts"]);
  });

  it("allows imports downwards and within a folder's layer", () => {
    const g = graph({
      "k/arch/x.ts": [],
      "v/core/vm.ts": ["k/arch/x.ts"],
      "v/hw/a/s.ts": ["v/core/vm.ts", "v/hw/a/t.ts"],
      "v/hw/a/t.ts": [],
      "v/main.ts": ["v/hw/a/s.ts"],
    });
    expect(checkLayers(g, parseLayers(RULE))).toEqual([]);
  });

  it("names the file, the import and both layers when an import goes up", () => {
    const g = graph({ "k/arch/x.ts": ["v/core/vm.ts"], "v/core/vm.ts": [] });
    expect(checkLayers(g, parseLayers(RULE))).toEqual([
      "k/arch/x.ts: imports v/core/vm.ts: k/arch (layer 1) may not import the higher layer v/core (layer 2)",
    ]);
  });

  it("refuses imports between siblings", () => {
    const g = graph({ "v/hw/a/s.ts": ["v/hw/b/t.ts"], "v/hw/b/t.ts": [] });
    expect(checkLayers(g, parseLayers(RULE))[0]).toContain("may not import its sibling v/hw/b");
  });

  it("finds cycles, even within one folder, and files in no layer", () => {
    const g = graph({
      "v/core/a.ts": ["v/core/b.ts"],
      "v/core/b.ts": ["v/core/c.ts"],
      "v/core/c.ts": ["v/core/a.ts"],
      "elsewhere/x.ts": [],
    });
    const problems = checkLayers(g, parseLayers(RULE));
    expect(problems).toContain("elsewhere/x.ts: in no layer of docs/vmm.md");
    expect(problems).toContain("import cycle: v/core/a.ts -> v/core/b.ts -> v/core/c.ts");
    expect(cycles(graph({ "a.ts": ["b.ts"], "b.ts": [] }))).toEqual([]);
  });
});
