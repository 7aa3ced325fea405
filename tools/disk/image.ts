// The host disk of `make run`: a sparse image file that QEMU gives the
// hypervisor as an NVMe drive, with a GPT partition for each Debian VM of
// boot/vms.json, named after the VM (docs/storage.md). It is made once and
// then kept, so what the VMs write there is still there at the next run.
//
//   tsx tools/disk/image.ts PATH   makes PATH unless it exists

import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { gptWrites, LINUX_DATA, PartitionSpec } from "./gpt";

const MiB = 1 << 20;
const BLOCK = 512;
// Each VM's partition: its name (the VM's), its unique GUID (fixed, so a
// new image gets the same ones) and its size.
export const VM_PARTITIONS = [
  { name: "debian", guid: "5459504D-5652-4D00-8000-000000000001", size: 256 * MiB },
  { name: "debian-2", guid: "5459504D-5652-4D00-8000-000000000002", size: 128 * MiB },
];
// Room for the GPT at each end, and partitions aligned to 1 MiB.
const FIRST_LBA = MiB / BLOCK;
const IMAGE_BYTES = VM_PARTITIONS.reduce((sum, p) => sum + p.size, 2 * MiB);

export function makeVmDisk(path: string): void {
  const partitions: PartitionSpec[] = [];
  let lba = FIRST_LBA;
  for (const { name, guid, size } of VM_PARTITIONS) {
    partitions.push({ name, typeGuid: LINUX_DATA, guid, firstLba: lba, lastLba: lba + size / BLOCK - 1 });
    lba += size / BLOCK;
  }
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, "w");
  try {
    ftruncateSync(fd, IMAGE_BYTES);
    for (const w of gptWrites({ blockSize: BLOCK, blocks: IMAGE_BYTES / BLOCK, partitions })) {
      writeSync(fd, w.bytes, 0, w.bytes.length, w.lba * BLOCK);
    }
  } finally {
    closeSync(fd);
  }
}

if (process.argv[1]?.endsWith("image.ts")) {
  const path = process.argv[2];
  if (!path) {
    console.error("usage: tsx tools/disk/image.ts PATH");
    process.exit(2);
  }
  if (existsSync(path)) {
    console.log(`${path}: kept (the VMs' disks)`);
  } else {
    makeVmDisk(path);
    console.log(`${path}: made, ${IMAGE_BYTES / MiB} MiB, partitions ${VM_PARTITIONS.map((p) => p.name).join(", ")}`);
  }
}
