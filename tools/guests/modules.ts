// The kernel modules the guests' initramfs carries: the drivers of the devices
// Typervisor gives its VMs and the file systems to put on their disks, as
// Debian's kernel has them, with every module they depend on. They come from
// the kernel's own package (its lib/modules/<release>/), decompressed (Debian
// ships them as .ko.xz). The package has no modules.dep (depmod runs when it
// is installed), so a module's dependencies and aliases are its own: the
// "depends=" and "alias=" entries of the NUL-separated key=value strings in its
// .modinfo section. From them come the modules.dep and modules.alias that
// modprobe reads, as depmod would write them. What the kernel has built in
// (modules.builtin) needs no loading and is left out.

import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { extractFromDeb } from "./apt";
import { sectionByName } from "./elf";
import { failed } from "./errors";

// What the VMs need, by module name.
export const GUEST_MODULES: readonly string[] = [
  // Virtio on PCI: the transport and the console (both built into Debian's kernel), disks, entropy, network.
  "virtio_pci",
  "virtio_console",
  "virtio_blk",
  "virtio_rng",
  // The network card; it needs net_failover and failover, which come with it (its "depends=").
  "virtio_net",
  // Intel's 82540EM ("e1000"), for a bare Linux on the other end of the
  // hypervisor's uplink (test/system/uplink.test.ts).
  "e1000",
  // 802.1Q VLAN interfaces, for that Linux to be on a trunk uplink's VLANs.
  "8021q",
  // Also mounts ext2 and ext3 (CONFIG_EXT4_USE_FOR_EXT2).
  "ext4",
  // ext4 asks the crypto API for "crc32c" at every mount and fails without it.
  "crc32c_generic",
  "vfat",
  // vfat's default codepage and character set (CONFIG_FAT_DEFAULT_CODEPAGE=437,
  // CONFIG_FAT_DEFAULT_IOCHARSET="ascii"), which it asks for at every mount.
  "nls_cp437",
  "nls_ascii",
  // The ACPI power button's driver, and the input events busybox acpid reads it through.
  "button",
  "evdev",
  // QEMU's NVMe drive, for make bench's bare machine (diskbench.ts); it needs nvme_core.
  "nvme",
  // Virtual Ethernet pairs (CONFIG_VETH=m in Debian's kernel), for make
  // bench's bare machine: its two network namespaces joined by one (netbench.ts).
  "veth",
];

export interface KernelModule {
  name: string;
  // Relative to lib/modules/<release>/, as in the package but uncompressed ("kernel/fs/ext4/ext4.ko").
  file: string;
  depends: string[];
  // Names the kernel asks modprobe for that mean this module ("fs-ext4", "virtio:d00000002v*").
  aliases: string[];
  // The uncompressed module, an ELF relocatable file.
  data: Buffer;
}

export interface GuestModules {
  // The kernel's `uname -r`.
  release: string;
  // Each after those it depends on.
  modules: KernelModule[];
  // The modules of the list that are built into the kernel.
  builtin: string[];
}

// A module's files use dashes and underscores alike; its name has underscores.
export function moduleName(file: string): string {
  return basename(file).replace(/\.ko(\.\w+)?$/, "").replaceAll("-", "_");
}

// The key=value strings of a module's .modinfo section, by key (a key may recur, like "alias").
export function modinfo(module: Buffer): Map<string, string[]> {
  const section = sectionByName(module, ".modinfo");
  if (!section) throw failed("no .modinfo section: not a kernel module");
  const info = new Map<string, string[]>();
  for (const entry of section.toString("latin1").split("\0")) {
    const eq = entry.indexOf("=");
    if (eq <= 0) continue;
    const key = entry.slice(0, eq);
    info.set(key, [...(info.get(key) ?? []), entry.slice(eq + 1)]);
  }
  return info;
}

// The modules `wanted` needs, each after the ones it depends on, in the order
// of `wanted` otherwise; `read` gives a module by name.
export function loadOrder(wanted: readonly string[], read: (name: string) => KernelModule): KernelModule[] {
  const order: KernelModule[] = [];
  const placed = new Set<string>();
  const visiting: string[] = [];
  const visit = (name: string) => {
    if (placed.has(name)) return;
    if (visiting.includes(name)) throw failed(`modules that depend on each other: ${[...visiting, name].join(" -> ")}`);
    visiting.push(name);
    const module = read(name);
    module.depends.forEach(visit);
    visiting.pop();
    placed.add(name);
    order.push(module);
  };
  wanted.forEach(visit);
  return order;
}

// modules.dep for `modules` (in load order): a line per module, its file, a
// colon, and the files of everything it needs, directly or not, in the reverse
// of the order to load them (modprobe loads from the end of the line).
export function modulesDep(modules: KernelModule[]): string {
  const byName = new Map(modules.map((m) => [m.name, m]));
  const needs = (m: KernelModule): string[] => m.depends.flatMap((d) => [d, ...needs(byName.get(d)!)]);
  return modules.map((m) => {
    const needed = new Set(needs(m));
    const files = modules.filter((d) => needed.has(d.name)).reverse().map((d) => ` ${d.file}`);
    return `${m.file}:${files.join("")}\n`;
  }).join("");
}

// modules.alias for `modules`: "alias <name or pattern> <module>" lines.
export function modulesAlias(modules: KernelModule[]): string {
  return modules.flatMap((m) => m.aliases.map((a) => `alias ${a} ${m.name}\n`)).join("");
}

// Linux's module compressions (CONFIG_MODULE_COMPRESS_*) and the programs that undo them.
const DECOMPRESSORS: Record<string, string> = { ".gz": "gzip", ".xz": "xz", ".zst": "zstd" };
const MODULE_FILE = /\.ko(\.gz|\.xz|\.zst)?$/;

function decompressModule(path: string): Buffer {
  const compression = MODULE_FILE.exec(path)![1];
  if (!compression) return readFileSync(path);
  const program = DECOMPRESSORS[compression];
  const r = spawnSync(program, ["-dc", path], { maxBuffer: 256 << 20 });
  if (r.error || r.status !== 0) {
    throw failed(`${program} -dc ${path} failed: ${r.error?.message ?? r.stderr.toString().trim()}`);
  }
  return r.stdout;
}

// The modules of `wanted` and their dependencies from a linux-image .deb,
// extracted into `scratch` (an empty folder, about 100 MB of modules).
export function extractModules(deb: string, scratch: string, wanted = GUEST_MODULES): GuestModules {
  extractFromDeb(deb, scratch, ["./lib/modules/*"]);
  const releases = readdirSync(join(scratch, "lib/modules"));
  if (releases.length !== 1) throw failed(`${basename(deb)}: lib/modules/ holds ${releases.length} kernels, not one`);
  const release = releases[0];
  const root = join(scratch, "lib/modules", release);
  const builtin = new Set(
    readFileSync(join(root, "modules.builtin"), "utf8").split("\n").filter(Boolean).map(moduleName),
  );
  const files = new Map<string, string>();
  for (const file of readdirSync(root, { recursive: true, encoding: "utf8" })) {
    if (MODULE_FILE.test(file)) files.set(moduleName(file), file);
  }
  const read = (name: string): KernelModule => {
    const file = files.get(name);
    if (!file) throw failed(`${basename(deb)}: no module ${name}, and the kernel does not have it built in`);
    const data = decompressModule(join(root, file));
    let info: Map<string, string[]>;
    try {
      info = modinfo(data);
    } catch (e) {
      throw failed(`${basename(deb)}: ${file}: ${(e as Error).message}`);
    }
    return {
      name,
      file: file.replace(MODULE_FILE, ".ko"),
      // Named as their files are: nvme's says "nvme-core".
      depends: (info.get("depends")?.[0] ?? "").split(",").filter(Boolean).map(moduleName),
      aliases: info.get("alias") ?? [],
      data,
    };
  };
  return {
    release,
    modules: loadOrder(wanted.filter((name) => !builtin.has(name)), read),
    builtin: wanted.filter((name) => builtin.has(name)),
  };
}
