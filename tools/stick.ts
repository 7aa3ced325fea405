// The USB stick image: the hybrid ISO that boots under BIOS and UEFI, and
// after it a FAT partition labelled TYPERVISOR with the VMs (docs/usb-stick.md).
//
// grub-mkrescue lays out the ISO with an MBR and a GPT; xorriso's
// -append_partition adds the FAT image after the ISO and enters it in both
// tables (GPT type "basic data", MBR type 0x0C, FAT32 with LBA), so Linux,
// Windows and macOS mount it and a user edits the VMs with any editor. GRUB
// finds the partition by its label (boot/stick.cfg) and loads every file of
// its folder /typervisor as a boot module (boot/grub.cfg). mtools formats and
// fills the partition as a plain file: no root, no loop device.
//
//   tsx tools/stick.ts [OUT]   the stick of `make run`'s Debian VMs (boot/vms.json)

import { execFileSync } from "node:child_process";
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { guestPaths } from "./guests/debian";
import { withoutHostDevices } from "./disk/nodisks";

// The partition's file system label, as boot/stick.cfg searches for it.
export const STICK_LABEL = "TYPERVISOR";
// The folder whose files GRUB loads as modules.
export const VM_FOLDER = "typervisor";
// Room left on the partition for the user's own guests and configurations.
const FREE_MIB = 64;
// The MBR partition entry xorriso gives the appended partition (numbered from 1).
const PARTITION = 3;

export interface StickContents {
  elf: string;
  // Module name (the file's name in /typervisor) -> the file to copy there.
  files: Record<string, string>;
}

const README = `Typervisor USB stick

Every file in the folder typervisor/ is handed to the hypervisor when it
boots, named by its file name. typervisor/vms.json says which VMs to start:
each VM's "kernel" and "initrd" name files in that folder. Edit it with any
text editor, copy in your own kernels, and boot the stick again; a mistake
in vms.json is reported field by field on the screen and on COM1, and the
other VMs start. The project's docs/usb-stick.md has the details.
`;

// Writes the stick image `out` with these contents.
export function makeStick(contents: StickContents, out: string): void {
  const scratch = `${out}.d`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(join(scratch, "iso", "boot", "grub"), { recursive: true });
  copyFileSync(contents.elf, join(scratch, "iso", "boot", "typervisor.elf"));
  copyFileSync("boot/grub.cfg", join(scratch, "iso", "boot", "grub", "grub.cfg"));
  copyFileSync("boot/stick.cfg", join(scratch, "iso", "boot", "grub", "stick.cfg"));

  const fat = join(scratch, "vms.fat");
  const used = Object.values(contents.files).reduce((sum, path) => sum + statSync(path).size, 0);
  const sectors = (Math.ceil(used / (1 << 20)) + FREE_MIB) * 2048;
  writeFileSync(fat, "");
  execFileSync("truncate", ["-s", String(sectors * 512), fat]);
  mtools("mformat", fat, ["-F", "-v", STICK_LABEL, "-T", String(sectors), "-h", "64", "-s", "32", "::"]);
  mtools("mmd", fat, [`::/${VM_FOLDER}`]);
  writeFileSync(join(scratch, "README.txt"), README);
  mtools("mcopy", fat, [join(scratch, "README.txt"), "::/README.txt"]);
  for (const [name, path] of Object.entries(contents.files)) mtools("mcopy", fat, [path, `::/${VM_FOLDER}/${name}`]);

  mkdirSync(dirname(out), { recursive: true });
  // After "--", options for xorriso: the FAT image as partition PARTITION, MBR type 0x0C.
  const append = ["-append_partition", String(PARTITION), "0x0c", fat];
  execFileSync("grub-mkrescue", ["-o", `${out}.tmp`, join(scratch, "iso"), "--", ...append], { stdio: "pipe" });
  execFileSync("mv", [`${out}.tmp`, out]);
  rmSync(scratch, { recursive: true, force: true });
}

// Where the VM partition starts in a stick image, in bytes: its MBR entry's
// first LBA (the entry's bytes 8-11, little-endian; 512-byte sectors).
export function partitionOffset(image: string): number {
  const mbr = Buffer.alloc(512);
  const fd = openSync(image, "r");
  readSync(fd, mbr, 0, 512, 0);
  closeSync(fd);
  const entry = 446 + 16 * (PARTITION - 1);
  if (mbr.readUInt16LE(510) !== 0xaa55 || mbr[entry + 4] !== 0x0c) throw new Error(`${image}: no VM partition`);
  return mbr.readUInt32LE(entry + 8) * 512;
}

// Writes `text` as the file /typervisor/`name` on the stick image's partition,
// as a user would with an editor: mtools reaches the partition at its offset.
export function writeStickFile(image: string, name: string, text: string): void {
  const file = `${image}.${name}`;
  writeFileSync(file, text);
  mtools("mcopy", `${image}@@${partitionOffset(image)}`, ["-o", file, `::/${VM_FOLDER}/${name}`]);
  rmSync(file);
}

function mtools(command: string, image: string, args: string[]): void {
  // MTOOLS_SKIP_CHECK: the partition is in a file, not on a floppy geometry mtools would check.
  execFileSync(command, ["-i", image, ...args], { stdio: "pipe", env: { ...process.env, MTOOLS_SKIP_CHECK: "1" } });
}

// `make run`'s Debian VMs, with the files boot/vms.json names, but no
// disks and no uplink: a PC's partitions and network are its own
// (tools/disk/nodisks.ts).
export function defaultStick(): StickContents {
  const guests = guestPaths();
  const config = "build/stick-vms.json";
  mkdirSync("build", { recursive: true });
  writeFileSync(config, withoutHostDevices(readFileSync("boot/vms.json", "utf8")));
  return {
    elf: "build/typervisor.elf",
    files: { "vms.json": config, vmlinux: guests.vmlinux, initramfs: guests.initramfs },
  };
}

if (process.argv[1]?.endsWith("stick.ts")) {
  const out = process.argv[2] ?? "build/typervisor-usb.img";
  makeStick(defaultStick(), out);
  console.log(`stick: ${out}, ${(statSync(out).size / (1 << 20)).toFixed(0)} MiB`);
}
