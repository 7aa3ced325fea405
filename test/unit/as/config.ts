// Unit-test entry: the VM configuration file (vmm/setup/config/config.ts) and its JSON
// parser (vmm/setup/config/json.ts). The last result stays in a global and is read
// back field by field.

import { BootModule } from "../../../kernel/boot/bootinfo";
import { Config, parseConfig, readConfig } from "../../../vmm/setup/config/config";
import { ImageConfig } from "../../../vmm/setup/config/images";
import { formatMac } from "../../../vmm/net/ethernet";
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
  return config.vms[i].own.kernel.module;
}
export function vmInitrd(i: i32): string {
  return config.vms[i].own.initrd.module;
}
// "partition NAME SIZE" of the kernel or initrd, "" for a boot module or none.
export function vmKernelPartition(i: i32): string {
  return partitionOf(config.vms[i].own.kernel);
}
export function vmInitrdPartition(i: i32): string {
  return partitionOf(config.vms[i].own.initrd);
}
function partitionOf(image: ImageConfig): string {
  return image.partition.length > 0 ? "partition " + image.partition + " " + image.size.toString() : "";
}
export function vmCmdline(i: i32): string {
  return config.vms[i].own.cmdline;
}
// The alternate boot sources, "NAME kernel=K initrd=I cmdline=C" each
// (an image by its module's name or "partition P"), ";"-separated.
export function vmAlternates(i: i32): string {
  const sources = config.vms[i].sources, parts: string[] = [];
  for (let s = 1; s < sources.length; s++) {
    const source = sources[s];
    parts.push(
      source.name + " kernel=" + source.kernel.what + " initrd=" + (source.initrd.given ? source.initrd.what : "")
        + " cmdline=" + source.cmdline,
    );
  }
  return parts.join(";");
}
export function vmConsole(i: i32): string {
  return config.vms[i].console;
}
export function vmRestartOnReset(i: i32): bool {
  return config.vms[i].restartOnReset;
}
// "module a.img", "partition p (read-only)", "partition q weight 300"..., comma-separated.
export function vmDisks(i: i32): string {
  const disks = config.vms[i].disks, parts: string[] = [];
  for (let d = 0; d < disks.length; d++) {
    const disk = disks[d];
    parts.push(disk.what + (disk.readOnly ? " (read-only)" : "") + " weight " + disk.weight.toString());
  }
  return parts.join(",");
}

// "52:54:00:12:00:00 vlan 1", "02:00:00:00:00:01 trunk 10,20 1500 B/s"..., comma-separated.
export function vmNics(i: i32): string {
  const nics = config.vms[i].nics, parts: string[] = [];
  for (let n = 0; n < nics.length; n++) {
    const nic = nics[n], cap = nic.bytesPerSecond != 0 ? " " + nic.bytesPerSecond.toString() + " B/s" : "";
    parts.push(formatMac(nic.mac) + (nic.trunk ? " trunk " : " vlan ") + nic.vlans.join(",") + cap);
  }
  return parts.join(", ");
}

// "trunk 10,20", "vlan 1", or "" when the file asks for no uplink.
export function uplink(): string {
  const u = config.uplink;
  return u === null ? "" : (u.trunk ? "trunk " : "vlan ") + u.vlans.join(",");
}

// "10.0.2.20/24 on VLAN 1, 52:54:00:13:00:01", or "" when the file gives the hypervisor no address.
export function apiToken(): string {
  return config.apiToken;
}

export function management(): string {
  const m = config.management;
  return m === null ? "" : m.describe();
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
