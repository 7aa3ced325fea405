// The "kernel" and "initrd" of a VM configuration entry: where the VM's
// kernel and initrd images come from.
//   "kernel": "bzImage"                                    a boot module, by name
//   "kernel": { "partition": "vm-kernel" }                 a host disk's GPT partition
//   "initrd": { "partition": "vm-initrd", "size": 4194304 }
// A partition holds the raw image from its first byte on, written to it as
// a file is (dd), with no file system: how much of it is read, the "size"
// bytes or what the image's own header says, is decided at load time
// (setup/bootimages.ts). The partition is named as a disk's is, by its GPT
// name or unique GUID (disks.ts).

import { describe, isObjectOf, moduleName, partitionName, wholeNumber } from "./fields";
import { JsonKind, JsonValue } from "./json";

// The most bytes of a partition read as one image: far beyond any kernel
// or initramfs, and the bound on what one load takes of the host's memory.
export const MAX_IMAGE_BYTES: u32 = 256 << 20;
const IMAGE_FIELDS: string[] = ["partition", "size"];

export class ImageConfig {
  // At most one of the two is set; neither for a VM without an initrd.
  module: string = "";
  partition: string = "";
  // Bytes to read from the partition; 0: as the image's header says, or all of it.
  size: u32 = 0;

  get given(): bool {
    return this.module.length > 0 || this.partition.length > 0;
  }

  // The module's or the partition's name: a multiboot module's command line.
  get name(): string {
    return this.module.length > 0 ? this.module : this.partition;
  }

  // How messages and the log name it: "bzImage", "partition vm-kernel".
  get what(): string {
    return this.module.length > 0 ? this.module : "partition " + this.partition;
  }
}

// The image in `v` (null: none, which is reported if `required`); a bad one
// is reported with `prefix` ("vm 0 (a): kernel: ") and comes back empty.
export function checkImage(
  v: JsonValue | null,
  required: bool,
  modules: string[] | null,
  prefix: string,
  errors: string[],
): ImageConfig {
  const image = new ImageConfig();
  if (v !== null && (v.kind == JsonKind.Number || v.kind == JsonKind.Bool || v.kind == JsonKind.Array)) {
    errors.push(prefix + "expected the name of a boot module or { \"partition\": NAME }, got " + describe(v));
    return image;
  }
  if (v === null || v.kind != JsonKind.Object) {
    image.module = moduleName(v, required, modules, prefix, errors);
    return image;
  }
  if (!isObjectOf(v, IMAGE_FIELDS, "{ \"partition\": \"vm-kernel\" }", prefix, errors)) return image;
  const partition = v.get("partition");
  if (partition === null) {
    errors.push(prefix + "partition: missing (a host disk's GPT partition, by name or GUID)");
    return image;
  }
  const size = v.get("size");
  if (size !== null) {
    image.size = wholeNumber(size, 1, MAX_IMAGE_BYTES, false, prefix + "size: ", "a number of bytes", errors);
  }
  image.partition = partitionName(partition, prefix + "partition: ", errors);
  return image;
}
