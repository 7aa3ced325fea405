// The "disks" of a VM configuration entry: the virtio-blk disks the VM
// gets, in order (Linux's /dev/vda, /dev/vdb...). Each names what stands
// behind it:
//   "disks": [ { "module": "data.img" }, { "module": "tools.img", "readonly": true } ]
// A "module" is a RAM disk: a boot module holding a disk image
// (storage/ramdisk.ts). No two VMs may name the same one, or each would
// see what the other writes.

import { JsonKind, JsonValue } from "./json";
import { describe, moduleName, quote } from "./fields";

export const MAX_DISKS: i32 = 8;
const DISK_FIELDS: string[] = ["module", "readonly"];

export class DiskConfig {
  module: string = "";
  readOnly: bool = false;
}

// A disk someone already has: its module and the label of the VM.
export class ClaimedDisk {
  constructor(public module: string, public owner: string) {}
}

// The disks in `v` (null: none), each checked; `claimed` holds the disks
// of earlier VMs and gets this VM's (labelled `owner`).
export function checkDisks(
  v: JsonValue | null,
  modules: string[] | null,
  claimed: ClaimedDisk[],
  owner: string,
  prefix: string,
  errors: string[],
): DiskConfig[] {
  const disks: DiskConfig[] = [];
  if (v === null) return disks;
  if (v.kind != JsonKind.Array || v.items.length > MAX_DISKS) {
    errors.push(prefix + "expected a list of at most " + MAX_DISKS.toString() + " disks, got " + describe(v));
    return disks;
  }
  for (let i = 0; i < v.items.length; i++) {
    const label = prefix + i.toString() + ": ", entry = v.items[i];
    if (entry.kind != JsonKind.Object) {
      errors.push(label + "expected an object such as { \"module\": \"disk.img\" }, got " + describe(entry));
      continue;
    }
    for (let k = 0; k < entry.keys.length; k++) {
      if (!DISK_FIELDS.includes(entry.keys[k])) errors.push(label + "unknown field " + quote(entry.keys[k]));
    }
    const disk = new DiskConfig();
    disk.module = moduleName(entry.get("module"), true, modules, label + "module: ", errors);
    const readOnly = entry.get("readonly");
    if (readOnly !== null && readOnly.kind != JsonKind.Bool) {
      errors.push(label + "readonly: expected true or false, got " + describe(readOnly));
    } else if (readOnly !== null) disk.readOnly = readOnly.bool;
    if (disk.module.length == 0) continue;
    const other = ownerOf(claimed, disk.module);
    if (other !== null) {
      errors.push(label + "module: " + quote(disk.module) + " is already a disk of " + other);
      continue;
    }
    claimed.push(new ClaimedDisk(disk.module, owner));
    disks.push(disk);
  }
  return disks;
}

function ownerOf(claimed: ClaimedDisk[], module: string): string | null {
  for (let i = 0; i < claimed.length; i++) if (claimed[i].module == module) return claimed[i].owner;
  return null;
}
