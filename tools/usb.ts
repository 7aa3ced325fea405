// Writing the hybrid ISO to a USB stick, carefully.
//
// Refuses anything that is not a whole disk (a partition, a file), a disk
// with a mounted partition, and the disk that holds the root file system;
// then asks for confirmation, showing the disk's model and size.

import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { basename } from "node:path";
import { createInterface } from "node:readline/promises";

interface Disk {
  name: string;
  type: string;
  size: string;
  model: string;
  mountpoints: (string | null)[];
  children?: Disk[];
}

function lsblk(device: string): Disk {
  const json = execFileSync("lsblk", ["--json", "--output", "NAME,TYPE,SIZE,MODEL,MOUNTPOINTS", device], {
    encoding: "utf8",
  });
  return JSON.parse(json).blockdevices[0];
}

function mounts(disk: Disk): string[] {
  const own = (disk.mountpoints ?? []).filter((m): m is string => !!m);
  return own.concat(...(disk.children ?? []).map(mounts));
}

// Returns why `device` must not be written, or null if it may.
export function refusal(device: string): string | null {
  if (!existsSync(device)) return `${device} does not exist`;
  const real = realpathSync(device);
  if (!statSync(real).isBlockDevice()) return `${device} is not a block device`;
  const disk = lsblk(real);
  // A loop device is a whole disk too (an image file attached with losetup).
  if (disk.type !== "disk" && disk.type !== "loop") {
    return `${device} is a ${disk.type}, not a whole disk (use e.g. /dev/sdb, not /dev/sdb1)`;
  }
  const mounted = mounts(disk);
  if (mounted.includes("/")) return `${device} holds the root file system`;
  if (mounted.length) return `${device} has mounted file systems (${mounted.join(", ")}); unmount them first`;
  const rootSource = execFileSync("findmnt", ["-n", "-o", "SOURCE", "/"], { encoding: "utf8" }).trim();
  if (rootSource.startsWith("/dev/") && basename(realpathSync(rootSource)).startsWith(basename(real))) {
    return `${device} holds the root file system`;
  }
  return null;
}

export async function writeUsb(device: string, image: string, assumeYes: boolean): Promise<number> {
  const reason = refusal(device);
  if (reason) {
    console.error(`typervisor usb: refusing: ${reason}`);
    return 1;
  }
  const disk = lsblk(realpathSync(device));
  console.log(`typervisor usb: ${device}: ${disk.model ?? "unknown model"}, ${disk.size}`);
  if (!assumeYes) {
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    const answer = await rl.question(`Erase everything on ${device} and write ${image}? Type "yes": `);
    rl.close();
    if (answer.trim() !== "yes") {
      console.log("typervisor usb: not written");
      return 1;
    }
  }
  const data = readFileSync(image);
  execFileSync("dd", [`of=${device}`, "bs=4M", "conv=fsync", "status=progress"], {
    input: data,
    stdio: ["pipe", "inherit", "inherit"],
  });
  console.log(`typervisor usb: wrote ${data.length} bytes to ${device}`);
  return 0;
}
