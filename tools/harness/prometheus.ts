// Metrics text read by the Prometheus ecosystem's own parser: the Python
// client library's (Debian's python3-prometheus-client), so that the tests
// of GET /metrics hold the hypervisor to what a real scraper accepts, not
// to a reading of the format of our own. The system's Python, not one on
// the PATH: the package is installed for it.

import { spawnSync } from "node:child_process";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const PARSE = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
families = [{"name": f.name, "type": f.type, "help": f.documentation,
             "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]}
            for f in text_string_to_metric_families(sys.stdin.read())]
print(json.dumps(families))
`;

// The families of `text`; throws with the parser's complaint if it refuses the text.
export function parseMetrics(text: string): MetricFamily[] {
  const run = spawnSync("/usr/bin/python3", ["-c", PARSE], { input: text, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`prometheus_client refused the metrics: ${run.stderr}`);
  return JSON.parse(run.stdout) as MetricFamily[];
}

// The value of the sample `name` whose labels include `labels`, or undefined.
export function sampleValue(
  families: MetricFamily[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const family of families) {
    for (const s of family.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}
