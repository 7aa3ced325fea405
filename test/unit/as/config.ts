// Unit-test entry: the VM configuration file (vmm/setup/config/config.ts) and its JSON
// parser (vmm/setup/config/json.ts). The last result stays in a global and is read
// back field by field.

import { BootModule } from "../../../kernel/boot/bootinfo";
import { Config, parseConfig, readConfig } from "../../../vmm/setup/config/config";
import { JsonKind, JsonValue, parseJson } from "../../../vmm/setup/config/json";

let config = new Config();
let modules: string[] | null = null;

export function setModules(names: string): void {
  modules = names.length == 0 ? [] : names.split(",");
}
export function clearModules(): void {
  modules = null;
}
export function parse(text: string): i32 {
  config = parseConfig(text, modules);
  return config.vms.length;
}
export function parseModule(start: u64, end: u64): i32 {
  config = readConfig(new BootModule(start, end, "vms.json"), modules);
  return config.vms.length;
}

export function unreportedCount(): i32 {
  return config.unreported;
}
export function errorCount(): i32 {
  return config.errors.length;
}
export function error(i: i32): string {
  return config.errors[i];
}
export function vmCount(): i32 {
  return config.vms.length;
}
export function vmName(i: i32): string {
  return config.vms[i].name;
}
export function vmMemory(i: i32): u32 {
  return config.vms[i].memoryMib;
}
export function vmCpus(i: i32): u32 {
  return config.vms[i].cpus;
}
export function vmKernel(i: i32): string {
  return config.vms[i].kernel;
}
export function vmInitrd(i: i32): string {
  return config.vms[i].initrd;
}
export function vmCmdline(i: i32): string {
  return config.vms[i].cmdline;
}
export function vmConsole(i: i32): string {
  return config.vms[i].console;
}
export function vmRestartOnReset(i: i32): bool {
  return config.vms[i].restartOnReset;
}
// "module a.img", "partition p (read-only)"..., comma-separated.
export function vmDisks(i: i32): string {
  const disks = config.vms[i].disks, parts: string[] = [];
  for (let d = 0; d < disks.length; d++) parts.push(disks[d].what + (disks[d].readOnly ? " (read-only)" : ""));
  return parts.join(",");
}

// The JSON parser on its own: the value rendered back as compact JSON-like
// text (strings escaped only for quotes and backslashes), or the error.
export function json(text: string): string {
  const r = parseJson(text);
  return r.error !== null ? "error: " + r.error! : render(r.value!);
}

function render(v: JsonValue): string {
  if (v.kind == JsonKind.Null) return "null";
  if (v.kind == JsonKind.Bool) return v.bool ? "true" : "false";
  if (v.kind == JsonKind.Number) return v.number.toString();
  if (v.kind == JsonKind.String) return "\"" + v.text.replaceAll("\\", "\\\\").replaceAll("\"", "\\\"") + "\"";
  const parts: string[] = [];
  for (let i = 0; i < v.items.length; i++) {
    parts.push(v.kind == JsonKind.Object ? "\"" + v.keys[i] + "\":" + render(v.items[i]) : render(v.items[i]));
  }
  const where = "@" + v.line.toString() + ":" + v.column.toString();
  return (v.kind == JsonKind.Object ? "{" + parts.join(",") + "}" : "[" + parts.join(",") + "]") + where;
}
