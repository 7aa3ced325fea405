// The boot sources of a VM configuration entry: its own kernel, initrd and
// command line, and the alternates its "boot_sources" names, which a boot
// override picks for a later boot (core/bootoverride.ts), as a fleet
// manager boots a machine from its installer or its rescue system:
//   "boot_sources": { "Recovery": { "kernel": "rescue.bzImage", "initrd": "rescue.cpio",
//                                   "cmdline": "console=ttyS0" },
//                     "Pxe": { "kernel": { "partition": "installer" } } }
// An alternate is named by one of Redfish's BootSource values (DSP0268,
// ComputerSystem "BootSource"), the names a manager asks for; what the VM
// boots under that name is the configuration's choice. Its kernel is
// required; its initrd and command line are its own (none and "" if not
// given), not the VM's.

import { OWN_SOURCE } from "../../core/bootoverride";
import { alternatives, at, describe, isObjectOf, quote } from "./fields";
import { checkImage, ImageConfig } from "./images";
import { JsonKind, JsonValue } from "./json";

// Redfish's BootSource values but "None", which is the VM's own kernel.
export const ALTERNATE_NAMES: string[] = [
  "Pxe",
  "Floppy",
  "Cd",
  "Usb",
  "Hdd",
  "BiosSetup",
  "Utilities",
  "Diags",
  "UefiShell",
  "UefiTarget",
  "SDCard",
  "UefiHttp",
  "RemoteDrive",
  "UefiBootNext",
  "Recovery",
];
const SOURCE_FIELDS: string[] = ["kernel", "initrd", "cmdline"];
const MAX_CMDLINE = 4096;

export class BootSourceConfig {
  kernel: ImageConfig = new ImageConfig();
  // Not `given` when the source has no initrd.
  initrd: ImageConfig = new ImageConfig();
  cmdline: string = "";

  // `name`: OWN_SOURCE for the VM's own, else the alternate's.
  constructor(readonly name: string) {}
}

// The "kernel", "initrd" and "cmdline" of `entry`, a VM entry or an
// alternate, as the source `name`; problems are reported with `prefix`.
export function checkSource(
  entry: JsonValue,
  name: string,
  modules: string[] | null,
  prefix: string,
  errors: string[],
): BootSourceConfig {
  const source = new BootSourceConfig(name);
  source.kernel = checkImage(entry.get("kernel"), true, modules, prefix + "kernel: ", errors);
  source.initrd = checkImage(entry.get("initrd"), false, modules, prefix + "initrd: ", errors);
  const cmdline = entry.get("cmdline");
  if (cmdline === null) return source;
  if (cmdline.kind != JsonKind.String) errors.push(prefix + "cmdline: expected a string, got " + describe(cmdline));
  else if (cmdline.text.length > MAX_CMDLINE) {
    errors.push(
      prefix + "cmdline: " + cmdline.text.length.toString() + " characters; at most " + MAX_CMDLINE.toString(),
    );
  } else source.cmdline = cmdline.text;
  return source;
}

// The alternates in `v` ("boot_sources"; null: none), each checked as a
// source; a bad one is reported with `prefix` and left out.
export function checkAlternates(
  v: JsonValue | null,
  modules: string[] | null,
  prefix: string,
  errors: string[],
): BootSourceConfig[] {
  const sources: BootSourceConfig[] = [];
  if (v === null) return sources;
  if (v.kind != JsonKind.Object) {
    errors.push(
      prefix + "expected an object of boot sources by name, such as {\"Recovery\": {...}}, got " + describe(v),
    );
    return sources;
  }
  for (let i = 0; i < v.keys.length; i++) {
    const name = v.keys[i], where = " (" + at(v.keyValues[i]) + ")";
    if (!ALTERNATE_NAMES.includes(name)) {
      errors.push(
        prefix + quote(name) + " is not a boot source's name" + where + "; expected "
          + alternatives(ALTERNATE_NAMES),
      );
    } else if (v.keys.indexOf(name) != i) {
      errors.push(prefix + name + ": given twice" + where);
    } else if (
      isObjectOf(v.items[i], SOURCE_FIELDS, "{\"kernel\": \"rescue.bzImage\"}", prefix + name + ": ", errors)
    ) {
      sources.push(checkSource(v.items[i], name, modules, prefix + name + ": ", errors));
    }
  }
  return sources;
}

// The sources of a VM entry: its own first, then the alternates.
export function checkSources(
  entry: JsonValue,
  modules: string[] | null,
  prefix: string,
  errors: string[],
): BootSourceConfig[] {
  const own = checkSource(entry, OWN_SOURCE, modules, prefix, errors);
  const alternates = checkAlternates(entry.get("boot_sources"), modules, prefix + "boot_sources: ", errors);
  alternates.unshift(own);
  return alternates;
}
