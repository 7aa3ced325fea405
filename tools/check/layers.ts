// The layering rule of kernel/ and vmm/, checked: which folder may import
// which, and no import cycles.
//
// The rule is the table under "## Layers" in docs/vmm.md, so the book and
// the check cannot disagree. Each row gives a layer number and folders. A
// file belongs to the row whose folder is the longest prefix of its path. It
// may import files of its own row and of rows with a lower number; rows that
// share a number are siblings and never import each other (hw/vmx and
// hw/svm, say). Run as a command it prints every problem and exits 1 if
// there are any: `npx tsx tools/check/layers.ts`.

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";

export interface Layer {
  rank: number;
  folder: string;
}

// The rows of the "## Layers" table of `markdown`: `| 3 | \`kernel/boot\` | ... |`.
export function parseLayers(markdown: string): Layer[] {
  const section = markdown.split(/^## /m).find((s) => s.startsWith("Layers"));
  if (!section) throw new Error("no \"## Layers\" section");
  const layers: Layer[] = [];
  for (const line of section.split("\n")) {
    const m = /^\|\s*(\d+)\s*\|([^|]+)\|/.exec(line);
    if (!m) continue;
    for (const folder of m[2].matchAll(/`([^`]+)`/g)) layers.push({ rank: Number(m[1]), folder: folder[1] });
  }
  if (layers.length === 0) throw new Error("the \"## Layers\" table has no rows");
  return layers;
}

// A file's row: the longest folder that contains it.
function layerOf(file: string, layers: Layer[]): Layer | null {
  let best: Layer | null = null;
  for (const l of layers) {
    if (file.startsWith(l.folder + "/") && (best === null || l.folder.length > best.folder.length)) best = l;
  }
  return best;
}

// Repository-relative paths of the modules `source` (the text of `file`) imports.
export function importsOf(file: string, source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"(\.{1,2}\/[^"]+)"/gms)) {
    out.push(normalize(join(dirname(file), m[1])) + ".ts");
  }
  return out;
}

// Every problem with `graph` (file -> the files it imports) under `layers`.
export function checkLayers(graph: Map<string, string[]>, layers: Layer[]): string[] {
  const problems: string[] = [];
  for (const [file, targets] of graph) {
    const from = layerOf(file, layers);
    if (from === null) {
      problems.push(`${file}: in no layer of docs/vmm.md`);
      continue;
    }
    for (const target of targets) {
      if (!graph.has(target)) {
        problems.push(`${file}: imports ${target}, which does not exist`);
        continue;
      }
      const to = layerOf(target, layers);
      if (to === null || to === from || to.rank < from.rank) continue;
      const why = to.rank === from.rank ? "its sibling" : "the higher layer";
      problems.push(
        `${file}: imports ${target}: ${from.folder} (layer ${from.rank}) `
          + `may not import ${why} ${to.folder} (layer ${to.rank})`,
      );
    }
  }
  for (const cycle of cycles(graph)) problems.push(`import cycle: ${cycle.join(" -> ")}`);
  return problems;
}

// The strongly connected components of more than one file (Tarjan), each
// as one path around it.
export function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>(),
    low = new Map<string, number>(),
    stack: string[] = [],
    onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.reverse());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

// The import graph of every .ts file under `roots` of the repository at `repo`.
export function importGraph(repo: string, roots: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(join(repo, dir), { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (path.endsWith(".ts")) graph.set(path, importsOf(path, readFileSync(join(repo, path), "utf8")));
    }
  };
  roots.forEach(walk);
  return graph;
}

export function checkRepository(repo: string): string[] {
  const layers = parseLayers(readFileSync(join(repo, "docs/vmm.md"), "utf8"));
  return checkLayers(importGraph(repo, ["kernel", "vmm"]), layers);
}

if (process.argv[1] && relative(process.cwd(), process.argv[1]).replace(/\\/g, "/").endsWith("tools/check/layers.ts")) {
  const problems = checkRepository(process.cwd());
  for (const p of problems) console.log(p);
  console.log(
    problems.length === 0 ? "layers: every import follows docs/vmm.md" : `layers: ${problems.length} problems`,
  );
  process.exit(problems.length === 0 ? 0 : 1);
}
