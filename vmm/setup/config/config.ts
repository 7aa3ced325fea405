// The VM configuration file: which VMs to build, with what memory, CPUs,
// kernel, initrd, command line and console, and their share of the host's CPUs.
//
// It is a JSON boot module:
//   { "vms": [ { "name": "linux0", "memory": 256, "cpus": 1, "kernel": "bzImage",
//                "initrd": "initrd.img", "cmdline": "console=ttyS0", "console": "com1",
//                "affinity": [0, 1], "weight": 256, "cap": 50, "on_reset": "restart",
//                "disks": [ { "module": "disk.img" } ], "nics": [ { "vlan": 10 } ],
//                "boot_sources": { "Recovery": { "kernel": "rescue.bzImage" } } } ] }
// memory is in MiB; kernel and initrd name other boot modules, or GPT
// partitions of the host's disks that hold the images (images.ts), and
// boot_sources the kernels a boot override may pick instead (bootsources.ts); affinity
// lists the host CPUs the VM's vCPUs may run on (default: all), weight is
// its share when CPUs are contended (default 256), cap the most it may use,
// in percent of one CPU (core/cpushare.ts); on_reset what a reset by the
// guest does: "restart" the VM (the default, as a PC reboots) or "stop" it;
// disks its virtio disks (disks.ts), nics its network cards (nics.ts).
// Beside "vms", "uplink" may join the host's Ethernet controller to the
// VMs' switch (uplink.ts), "management" give the hypervisor its own
// address on it (management.ts), and "api" the management API's token
// (api.ts).
// A syntax error anywhere means no VMs at all, reported by line and column
// (json.ts); past that, a VM with any problem is left out, and the
// well-formed VMs are still returned.

import { physRead8 } from "../../../kernel/arch/shim";
import { BootModule } from "../../../kernel/boot/bootinfo";
import { MAX_CPUS as MAX_HOST_CPUS } from "../../../kernel/cpu/smp";
import { ALL_CPUS, DEFAULT_WEIGHT, MAX_WEIGHT } from "../../core/cpushare";
import { checkApi } from "./api";
import { checkDisks, ClaimedDisk, DiskConfig } from "./disks";
import { BootSourceConfig, checkSources } from "./bootsources";
import { checkNics, ClaimedMac, NicConfig } from "./nics";
import { checkManagement, ManagementConfig } from "./management";
import { checkUplink, UplinkConfig } from "./uplink";
import { at, describe, oneOf, quote, wholeNumber } from "./fields";
import { JsonKind, JsonValue, parseJson } from "./json";

export const MAX_MEMORY_MIB: u32 = 65536;
export const MAX_CPUS: u32 = 64;
const MAX_NAME = 32;
const MAX_FILE: u64 = 1 << 20;
const TOP_FIELDS: string[] = ["vms", "uplink", "management", "api"];
const VM_FIELDS: string[] = [
  "name",
  "memory",
  "cpus",
  "kernel",
  "initrd",
  "cmdline",
  "console",
  "affinity",
  "weight",
  "cap",
  "on_reset",
  "disks",
  "nics",
  "boot_sources",
];
// A cap of several CPUs' worth suits a VM with several vCPUs.
export const MAX_CAP: u32 = 100 * MAX_HOST_CPUS;
const CONSOLES: string[] = ["com1", "com2", "none"];
const ON_RESET: string[] = ["restart", "stop"];

export class VmConfig {
  name: string = "";
  memoryMib: u32 = 0;
  cpus: u32 = 1;
  // Its own kernel, initrd and command line first, then the alternates.
  sources: BootSourceConfig[] = [];
  // "com1", "com2" or "none".
  console: string = "com1";
  // Bit n: the vCPUs may run on host CPU n.
  affinity: u32 = ALL_CPUS;
  weight: u32 = DEFAULT_WEIGHT;
  // Percent of one CPU; 0 for no cap.
  cap: u32 = 0;
  // A reset by the guest restarts the VM (else it stops it).
  restartOnReset: bool = true;
  disks: DiskConfig[] = [];
  nics: NicConfig[] = [];

  // The kernel, initrd and command line it boots with no override.
  get own(): BootSourceConfig {
    return this.sources[0];
  }
}

// At most this many VMs in one file, and problems reported one by one:
// beyond them a file is more likely a mistake (or an attack) than a machine.
export const MAX_VMS = 256;
const MAX_REPORTED = 20;

export class Config {
  vms: VmConfig[] = [];
  // The uplink the file asks for, or null for none.
  uplink: UplinkConfig | null = null;
  // The hypervisor's own address, or null for none.
  management: ManagementConfig | null = null;
  // The management API's token, or "" for none.
  apiToken: string = "";
  // The first MAX_REPORTED problems, and how many more there were.
  errors: string[] = [];
  unreported: i32 = 0;
}

// Parses and checks a configuration. `modules`, if given, are the names of the
// boot modules: a kernel or initrd given by name must then name one of them. Each VM entry is
// checked on its own, and every problem is reported by VM and field ("vm 1
// (linux1): memory: expected a number of MiB from 1 to 65536, got \"lots\"").
// VMs are numbered from 0 in file order; unknown fields are errors (a
// misspelt "memroy" must not silently fall back to a default).
export function parseConfig(text: string, modules: string[] | null = null): Config {
  const config = new Config();
  const parsed = parseJson(text);
  if (parsed.error !== null) {
    config.errors.push(parsed.error!);
    return config;
  }
  const root = parsed.value!;
  if (root.kind != JsonKind.Object) {
    config.errors.push(at(root) + ": the configuration must be an object with a \"vms\" list, got " + describe(root));
    return config;
  }
  for (let i = 0; i < root.keys.length; i++) {
    const key = root.keys[i];
    if (!TOP_FIELDS.includes(key)) {
      config.errors.push(
        at(root.keyValues[i]) + ": unknown field \"" + key
          + "\" (the file holds only \"vms\", \"uplink\" and \"management\")",
      );
    } else if (root.keys.indexOf(key) != i) {
      config.errors.push(at(root.keyValues[i]) + ": \"" + key + "\" given twice");
    }
  }
  const uplink = root.get("uplink");
  if (uplink !== null) config.uplink = checkUplink(uplink, config.errors);
  const api = root.get("api");
  if (api !== null) config.apiToken = checkApi(api, config.errors);
  const vms = root.get("vms");
  if (vms === null) {
    config.errors.push("vms: missing (a list of VMs)");
    return config;
  }
  if (vms.kind != JsonKind.Array) {
    config.errors.push("vms: expected a list of VMs, got " + describe(vms));
    return config;
  }
  if (vms.items.length > MAX_VMS) {
    config.errors.push("vms: " + vms.items.length.toString() + " entries; at most " + MAX_VMS.toString() + " VMs");
    return config;
  }
  const names: string[] = [];
  const disks: ClaimedDisk[] = [];
  const macs: ClaimedMac[] = [];
  const errors = config.errors;
  for (let i = 0; i < vms.items.length; i++) {
    const vm = checkVm(i, vms.items[i], names, disks, macs, modules, errors);
    if (vm !== null) config.vms.push(vm);
    if (errors.length > MAX_REPORTED) {
      config.unreported += errors.length - MAX_REPORTED;
      errors.length = MAX_REPORTED;
    }
  }
  // After the VMs: its MAC may be none of their NICs'.
  const management = root.get("management");
  if (management !== null) config.management = checkManagement(management, macs, errors);
  return config;
}

// The configuration in a boot module (UTF-8 text; trailing NULs are padding).
export function readConfig(module: BootModule, modules: string[] | null = null): Config {
  const size = module.end >= module.start ? module.end - module.start : 0;
  if (size > MAX_FILE) {
    const config = new Config();
    config.errors.push(
      "the configuration is " + size.toString() + " bytes; at most " + MAX_FILE.toString() + " are read",
    );
    return config;
  }
  let length = <i32>size;
  while (length > 0 && physRead8(module.start + <u64>(length - 1)) == 0) length--;
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = physRead8(module.start + <u64>i);
  return parseConfig(String.UTF8.decode(bytes.buffer), modules);
}

// One VM entry, the file's number `index`, or null (with its errors added)
// if anything about it is wrong; `names`, `disks` and `macs` hold what the
// VMs before it have and get its own. A VM made after the boot (the
// management API's vm.create) is checked here too (setup/kernelvms.ts).
export function checkVm(
  index: i32,
  entry: JsonValue,
  names: string[],
  disks: ClaimedDisk[],
  macs: ClaimedMac[],
  modules: string[] | null,
  errors: string[],
): VmConfig | null {
  let label = "vm " + index.toString();
  if (entry.kind != JsonKind.Object) {
    errors.push(label + ": expected an object, got " + describe(entry) + " (" + at(entry) + ")");
    return null;
  }
  const before = errors.length;
  const vm = new VmConfig();
  // The name first: it labels every other message.
  const name = entry.get("name");
  if (name !== null && name.kind == JsonKind.String && validName(name.text)) label += " (" + name.text + ")";
  for (let i = 0; i < entry.keys.length; i++) {
    const key = entry.keys[i];
    if (!VM_FIELDS.includes(key)) {
      errors.push(label + ": unknown field \"" + key + "\" (" + at(entry.keyValues[i]) + ")");
    } else if (entry.keys.indexOf(key) != i) {
      errors.push(label + ": " + key + ": given twice (" + at(entry.keyValues[i]) + ")");
    }
  }

  if (name === null) errors.push(label + ": name: missing");
  else if (name.kind != JsonKind.String || !validName(name.text)) {
    errors.push(
      label + ": name: expected 1 to " + MAX_NAME.toString() + " letters, digits, '-', '_' or '.', got "
        + describe(name),
    );
  } else if (names.includes(name.text)) {
    errors.push(
      label + ": name: \"" + name.text + "\" is already the name of vm " + names.indexOf(name.text).toString(),
    );
  } else {
    vm.name = name.text;
  }
  names.push(name !== null && name.kind == JsonKind.String ? name.text : "");

  vm.memoryMib = wholeNumber(
    entry.get("memory"),
    1,
    MAX_MEMORY_MIB,
    true,
    label + ": memory: ",
    "a number of MiB",
    errors,
  );
  vm.cpus = wholeNumber(entry.get("cpus"), 1, MAX_CPUS, false, label + ": cpus: ", "a number of CPUs", errors);
  vm.sources = checkSources(entry, modules, label + ": ", errors);
  if (entry.get("weight") !== null) {
    vm.weight = wholeNumber(entry.get("weight"), 1, MAX_WEIGHT, false, label + ": weight: ", "a weight", errors);
  }
  if (entry.get("cap") !== null) {
    vm.cap = wholeNumber(entry.get("cap"), 1, MAX_CAP, false, label + ": cap: ", "a percentage of one CPU", errors);
  }
  const affinity = entry.get("affinity");
  if (affinity !== null) vm.affinity = cpuList(affinity, label + ": affinity: ", errors);
  vm.console = oneOf(entry.get("console"), CONSOLES, vm.console, label + ": console: ", errors);
  vm.restartOnReset = oneOf(entry.get("on_reset"), ON_RESET, "restart", label + ": on_reset: ", errors) == "restart";
  vm.disks = checkDisks(entry.get("disks"), modules, disks, label, label + ": disks: ", errors);
  vm.nics = checkNics(entry.get("nics"), index, macs, label, label + ": nics: ", errors);
  return errors.length == before ? vm : null;
}

// A non-empty list of host CPU numbers, as a bit mask.
function cpuList(v: JsonValue, prefix: string, errors: string[]): u32 {
  const expected = "expected a list of host CPU numbers from 0 to " + (MAX_HOST_CPUS - 1).toString();
  if (v.kind != JsonKind.Array || v.items.length == 0) {
    errors.push(prefix + expected + ", got " + describe(v));
    return ALL_CPUS;
  }
  let mask: u32 = 0;
  for (let i = 0; i < v.items.length; i++) {
    const item = v.items[i];
    if (
      item.kind != JsonKind.Number || !F64.isInteger(item.number) || item.number < 0
      || item.number >= <f64>MAX_HOST_CPUS
    ) {
      errors.push(prefix + expected + ", got " + describe(item) + " at " + at(item));
      return ALL_CPUS;
    }
    mask |= <u32>1 << <u32>item.number;
  }
  return mask;
}

function validName(text: string): bool {
  if (text.length == 0 || text.length > MAX_NAME) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x2d
      || c == 0x5f || c == 0x2e;
    if (!ok) return false;
  }
  return true;
}
