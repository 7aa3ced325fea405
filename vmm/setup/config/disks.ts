// The "disks" of a VM configuration entry: the virtio-blk disks the VM
// gets, in order (Linux's /dev/vda, /dev/vdb...). Each names what stands
// behind it:
//   "disks": [ { "partition": "vm-a", "iops": 500, "bytes_per_second": 8388608, "weight": 300 },
//              { "module": "tools.img", "readonly": true } ]
// A "partition" is a GPT partition of a host disk, by its name or its
// unique GUID (storage/hostdisks.ts); a "module" is a RAM disk, a boot
// module holding a disk image (storage/ramdisk.ts). No two VMs may name
// the same one, or each would see what the other writes. "iops" and
// "bytes_per_second" cap what the VM may do with the disk (storage/budget.ts).
// A partition's "weight" is the VM's share of its host disk when other VMs
// use the disk's other partitions at the same time (storage/diskarbiter.ts);
// a RAM disk is the VM's own, and takes none.

import { JsonKind, JsonValue } from "./json";
import { describe, isObjectOf, listOf, moduleName, partitionName, wholeNumber } from "./fields";
import { DEFAULT_WEIGHT } from "../../storage/diskshare";

export const MAX_DISKS: i32 = 8;
const MAX_IOPS: u32 = 10_000_000;
// Below a sector a second a disk would be of no use.
const MIN_BYTES_PER_SECOND: u32 = 512;
const MAX_WEIGHT: u32 = 1000;
const DISK_FIELDS: string[] = ["module", "partition", "readonly", "iops", "bytes_per_second", "weight"];

export class DiskConfig {
  // One of the two is set.
  module: string = "";
  partition: string = "";
  readOnly: bool = false;
  // Caps, 0 for none (storage/budget.ts).
  iops: u32 = 0;
  bytesPerSecond: u32 = 0;
  // Its share of a host disk against other VMs' (storage/diskarbiter.ts).
  weight: u32 = DEFAULT_WEIGHT;

  // "module data.img", "partition vm-a": how messages name it.
  get what(): string {
    return this.module.length > 0 ? "module " + this.module : "partition " + this.partition;
  }
}

// A disk someone already has: what it is (DiskConfig.what) and the label of the VM.
export class ClaimedDisk {
  constructor(public what: string, public owner: string) {}
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
  const entries = listOf(v, MAX_DISKS, "disks", prefix, errors);
  for (let i = 0; i < entries.length; i++) {
    const label = prefix + i.toString() + ": ", entry = entries[i];
    if (!isObjectOf(entry, DISK_FIELDS, "{ \"module\": \"disk.img\" }", label, errors)) continue;
    const disk = new DiskConfig();
    const module = entry.get("module"), partition = entry.get("partition");
    if ((module === null) == (partition === null)) {
      errors.push(label + "expected one of \"module\" (a boot module) or \"partition\" (a host disk's GPT partition)");
      continue;
    }
    if (module !== null) disk.module = moduleName(module, true, modules, label + "module: ", errors);
    else disk.partition = partitionName(partition!, label + "partition: ", errors);
    const readOnly = entry.get("readonly");
    if (readOnly !== null && readOnly.kind != JsonKind.Bool) {
      errors.push(label + "readonly: expected true or false, got " + describe(readOnly));
    } else if (readOnly !== null) disk.readOnly = readOnly.bool;
    if (entry.get("iops") !== null) {
      disk.iops = wholeNumber(entry.get("iops"), 1, MAX_IOPS, false, label + "iops: ", "operations per second", errors);
    }
    if (entry.get("bytes_per_second") !== null) {
      const bytes = entry.get("bytes_per_second");
      disk.bytesPerSecond = wholeNumber(
        bytes,
        MIN_BYTES_PER_SECOND,
        u32.MAX_VALUE,
        false,
        label + "bytes_per_second: ",
        "bytes per second",
        errors,
      );
    }
    const weight = entry.get("weight");
    if (weight !== null && module !== null) {
      errors.push(label + "weight: a RAM disk is the VM's own; only a \"partition\" shares a host disk");
    } else if (weight !== null) {
      disk.weight = wholeNumber(weight, 1, MAX_WEIGHT, false, label + "weight: ", "a weight", errors);
    }
    if (disk.module.length == 0 && disk.partition.length == 0) continue;
    const other = ownerOf(claimed, disk.what);
    if (other !== null) {
      errors.push(label + disk.what + " is already a disk of " + other);
      continue;
    }
    claimed.push(new ClaimedDisk(disk.what, owner));
    disks.push(disk);
  }
  return disks;
}

function ownerOf(claimed: ClaimedDisk[], what: string): string | null {
  for (let i = 0; i < claimed.length; i++) if (claimed[i].what == what) return claimed[i].owner;
  return null;
}
