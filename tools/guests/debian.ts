// Linux guest kernels from Debian's archive, for the hypervisor's Linux guests.
//
//   tsx tools/guests/debian.ts [--kernel newest|default|<abi>|<package>[=<version>]]
//                              [--update] [--force] [--dir .cache/guests] [--json]
//   (make guest-kernels; GUEST_KERNEL=... pins the kernel like --kernel)
//
// Produces, in .cache/guests/ (git-ignored):
//   bzImage             boot/vmlinuz-* of linux-image-<abi>-amd64, as Debian ships it
//   vmlinux             the ELF kernel inside it (decompressed payload, relocation
//                       table cut off), checked: ELF64, x86-64, PVH entry note
//   config              the kernel's build configuration (boot/config-*)
//   initramfs.cpio.gz   busybox-static, tscstamp, the kernel package's modules for
//                       the VMs' devices and disks, and an /init with a shell
//                       (initramfs.ts, modules.ts)
//   manifest.json       packages and versions used, sizes and SHA-256 of the above
//   debs/               the downloaded .deb files
//
// Everything comes from the apt sources this Debian system is configured with,
// through apt-get download; nothing needs root. Kernel choice: the newest
// linux-image-<abi>-amd64 apt knows (signed before -unsigned, which is the same
// kernel); "default" is the one the release's meta-package linux-image-amd64
// depends on. Once built, the outputs are reused as they are (no apt query, so
// it works offline) as long as they match the manifest and any pin; --update
// looks for newer packages, --force rebuilds everything.

import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import { downloadDeb, extractFromDeb, osRelease, PackageRef, resolveCandidate, resolveKernel, sha256File } from "./apt";
import { extractPayload, parseSetupHeader } from "./bzimage";
import { checkKernelElf, hex } from "./elf";
import { failed, GuestError } from "./errors";
import { BANNER, buildInitramfs, busyboxApplets, RECIPE } from "./initramfs";
import { extractModules } from "./modules";
import { buildPrograms } from "./programs";

export const GUEST_DIR = ".cache/guests";
// Bumped when the kernel outputs are made differently.
const KERNEL_FORMAT = 1;
const BUSYBOX_PACKAGE = "busybox-static";

export interface OutputFile {
  file: string;
  size: number;
  sha256: string;
}

export interface KernelRecord {
  format: number;
  package: string;
  version: string;
  // `uname -r` of this kernel, and the version string in its setup header.
  release: string;
  versionString: string;
  // How it was chosen: the pin given, or "newest".
  choice: string;
  deb: string;
  debSha256: string;
  bootProtocol: string;
  compression: string;
  compressedSize: number;
  entry: string;
  pvhEntry: string;
  // Bytes after the ELF contents in the payload (the relocation table), not in vmlinux.
  relocsBytes: number;
}

export interface BusyboxRecord {
  package: string;
  version: string;
  deb: string;
  debSha256: string;
}

export interface InitramfsRecord {
  // initramfs.ts's RECIPE it was made by.
  recipe: string;
  // The kernel package its modules come from: "<package>=<version>".
  kernel: string;
  applets: string[];
  // The modules it holds, each after those it depends on, and those of GUEST_MODULES built into the kernel.
  modules: string[];
  builtin: string[];
}

export interface Manifest {
  generator: string;
  system: string;
  kernel: KernelRecord;
  busybox: BusyboxRecord;
  initramfs: InitramfsRecord;
  outputs: Record<"bzImage" | "vmlinux" | "config" | "initramfs", OutputFile>;
}

export interface GuestPaths {
  dir: string;
  debs: string;
  bzImage: string;
  vmlinux: string;
  config: string;
  initramfs: string;
  manifest: string;
}

export function guestPaths(dir = GUEST_DIR): GuestPaths {
  return {
    dir,
    debs: join(dir, "debs"),
    bzImage: join(dir, "bzImage"),
    vmlinux: join(dir, "vmlinux"),
    config: join(dir, "config"),
    initramfs: join(dir, "initramfs.cpio.gz"),
    manifest: join(dir, "manifest.json"),
  };
}

export interface EnsureOptions {
  dir?: string;
  // Kernel pin (see resolveKernel); default: $GUEST_KERNEL, else the cached one or the newest.
  kernel?: string;
  update?: boolean;
  force?: boolean;
  log?: (line: string) => void;
}

export function readManifest(dir = GUEST_DIR): Manifest | null {
  try {
    return JSON.parse(readFileSync(guestPaths(dir).manifest, "utf8")) as Manifest;
  } catch {
    return null;
  }
}

function outputValid(dir: string, out: OutputFile | undefined): boolean {
  if (!out) return false;
  const path = join(dir, out.file);
  return existsSync(path) && readFileSync(path).length === out.size && sha256File(path) === out.sha256;
}

// Writes atomically (a half-written output never looks finished) and describes it.
// The test files of a fresh clone may build the same outputs at once, each
// through a file of its own: the last rename wins, with the same bytes.
function writeOutput(dir: string, name: string, data: Buffer): OutputFile {
  const path = join(dir, name);
  writeAtomically(path, data);
  return { file: name, size: data.length, sha256: sha256File(path) };
}

// Also a test's VM configuration (vm.ts), which runs of the same VMs write at once.
export function writeAtomically(path: string, data: string | Buffer): void {
  const scratch = `${path}.${process.pid}-${randomBytes(6).toString("hex")}.tmp`;
  writeFileSync(scratch, data);
  renameSync(scratch, path);
}

// The .deb recorded for exactly this package and version, if any.
function sameDeb(pkg: PackageRef, rec?: { package: string; version: string; deb: string; debSha256: string }) {
  return rec && rec.package === pkg.name && rec.version === pkg.version
    ? { file: rec.deb, sha256: rec.debSha256 }
    : undefined;
}

// Old downloads of the same package (other versions) go once a new one is in.
function pruneDebs(debsDir: string, keep: string, pkg: string): void {
  for (const f of readdirSync(debsDir)) {
    if (f !== keep && f.startsWith(`${pkg}_`) && f.endsWith(".deb")) rmSync(join(debsDir, f), { force: true });
  }
}

function buildKernel(
  p: GuestPaths,
  pkg: PackageRef,
  choice: string,
  log: (s: string) => void,
  known?: KernelRecord,
): { record: KernelRecord; bzImage: OutputFile; vmlinux: OutputFile; config: OutputFile } {
  log(`kernel: ${pkg.name} ${pkg.version}`);
  const deb = downloadDeb(pkg, p.debs, log, sameDeb(pkg, known));
  pruneDebs(p.debs, deb.file, pkg.name);
  const tmp = join(p.dir, `tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const files = extractFromDeb(join(p.debs, deb.file), tmp, ["./boot/vmlinuz-*", "./boot/config-*"]);
    const vmlinuz = files.find((f) => basename(f).startsWith("vmlinuz-"));
    const config = files.find((f) => basename(f).startsWith("config-"));
    if (!vmlinuz) throw failed(`${deb.file} has no boot/vmlinuz-*: not a kernel image package?`);
    const release = basename(vmlinuz).slice("vmlinuz-".length);

    const image = readFileSync(join(tmp, vmlinuz));
    const hdr = parseSetupHeader(image);
    log(`  bzImage: ${image.length} bytes, boot protocol ${hdr.protocolText}, "${hdr.kernelVersion}"`);
    const payload = extractPayload(image);
    const elf = checkKernelElf(payload.data);
    const relocsBytes = payload.data.length - elf.end;
    log(
      `  payload: ${payload.compression}, ${payload.compressedSize} -> ${payload.data.length} bytes `
        + `(ELF ${elf.end}, relocations ${relocsBytes})`,
    );
    const vmlinuxData = payload.data.subarray(0, elf.end);
    checkKernelElf(vmlinuxData);

    const outputs = {
      bzImage: writeOutput(p.dir, "bzImage", image),
      vmlinux: writeOutput(p.dir, "vmlinux", vmlinuxData),
      config: writeOutput(p.dir, "config", config ? readFileSync(join(tmp, config)) : Buffer.alloc(0)),
    };
    const record: KernelRecord = {
      format: KERNEL_FORMAT,
      package: pkg.name,
      version: pkg.version,
      release,
      versionString: hdr.kernelVersion,
      choice,
      deb: deb.file,
      debSha256: deb.sha256,
      bootProtocol: hdr.protocolText,
      compression: payload.compression,
      compressedSize: payload.compressedSize,
      entry: hex(elf.entry),
      pvhEntry: hex(elf.pvhEntry),
      relocsBytes,
    };
    return { record, ...outputs };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const kernelId = (kernel: KernelRecord) => `${kernel.package}=${kernel.version}`;

// The initramfs, from busybox-static `pkg` and the modules of the kernel's package.
function buildGuestInitramfs(
  p: GuestPaths,
  pkg: PackageRef,
  kernel: KernelRecord,
  log: (s: string) => void,
  known?: BusyboxRecord,
): { busybox: BusyboxRecord; record: InitramfsRecord; initramfs: OutputFile } {
  log(`initramfs: ${pkg.name} ${pkg.version}, modules of ${kernel.package} ${kernel.version}`);
  const deb = downloadDeb(pkg, p.debs, log, sameDeb(pkg, known));
  pruneDebs(p.debs, deb.file, pkg.name);
  const kernelPackage = { name: kernel.package, version: kernel.version };
  const kernelDeb = downloadDeb(kernelPackage, p.debs, log, sameDeb(kernelPackage, kernel));
  const tmp = join(p.dir, `tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, "kernel"), { recursive: true });
  try {
    extractFromDeb(join(p.debs, deb.file), tmp, ["./bin/busybox"]);
    const busyboxPath = join(tmp, "bin/busybox");
    if (!existsSync(busyboxPath)) throw failed(`${deb.file} has no bin/busybox`);
    const busybox = readFileSync(busyboxPath);
    try {
      checkStaticX86_64(busybox);
    } catch (e) {
      throw failed(`${deb.file}: bin/busybox: ${(e as Error).message}`);
    }
    const modules = extractModules(join(p.debs, kernelDeb.file), join(tmp, "kernel"));
    if (modules.release !== kernel.release) {
      throw failed(`${kernelDeb.file}: modules for Linux ${modules.release}, but its kernel is ${kernel.release}`);
    }
    const built = buildInitramfs(busybox, busyboxApplets(busyboxPath), buildPrograms(), modules);
    if (built.missing.length) log(`  busybox lacks ${built.missing.join(" ")} (left out)`);
    const initramfs = writeOutput(p.dir, "initramfs.cpio.gz", built.gz);
    const held = modules.modules.map((m) => m.name);
    log(`  modules: ${held.join(" ")} (built in: ${modules.builtin.join(" ") || "none"})`);
    log(
      `  initramfs.cpio.gz: ${built.cpio.length} bytes of cpio, ${built.gz.length} gzip'ed, `
        + `${built.applets.length} applet links`,
    );
    return {
      busybox: { package: pkg.name, version: pkg.version, deb: deb.file, debSha256: deb.sha256 },
      record: {
        recipe: RECIPE,
        kernel: kernelId(kernel),
        applets: built.applets,
        modules: held,
        builtin: modules.builtin,
      },
      initramfs,
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// busybox-static must be a static x86-64 ELF (a dynamic one would not run in the initramfs).
function checkStaticX86_64(bin: Buffer): void {
  if (bin.length < 64 || bin.readUInt32BE(0) !== 0x7f454c46 || bin[4] !== 2 || bin.readUInt16LE(18) !== 62) {
    throw new Error("not an ELF64 x86-64 executable");
  }
  const phoff = Number(bin.readBigUInt64LE(32));
  const phnum = bin.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) {
    if (bin.readUInt32LE(phoff + i * 56) === 3) {
      throw new Error("dynamically linked (has PT_INTERP); expected busybox-static");
    }
  }
}

// Makes sure the outputs exist and are current; returns the manifest describing them.
export function ensureGuests(opts: EnsureOptions = {}): Manifest {
  const log = opts.log ?? ((s: string) => console.log(s));
  const p = guestPaths(opts.dir);
  mkdirSync(p.debs, { recursive: true });
  const old = opts.force ? null : readManifest(p.dir);
  const pin = (opts.kernel ?? process.env.GUEST_KERNEL ?? "").trim() || undefined;

  // Kernel: reuse unless asked to look again, or pinned to something else.
  let kernel = old?.kernel;
  let kernelOutputs = old
    ? { bzImage: old.outputs.bzImage, vmlinux: old.outputs.vmlinux, config: old.outputs.config }
    : undefined;
  let kernelOk = !!kernel && kernel.format === KERNEL_FORMAT && !!kernelOutputs
    && outputValid(p.dir, kernelOutputs.bzImage) && outputValid(p.dir, kernelOutputs.vmlinux)
    && outputValid(p.dir, kernelOutputs.config);
  if (!kernelOk || opts.update || pin) {
    // Outputs damaged or made by an older version of this tool: remake the same kernel.
    const want = kernel && !pin && !opts.update
      ? { name: kernel.package, version: kernel.version }
      : resolveKernel(pin);
    if (!kernelOk || kernel!.package !== want.name || kernel!.version !== want.version) {
      const built = buildKernel(
        p,
        want,
        pin ?? (opts.update ? "newest" : kernel?.choice ?? "newest"),
        log,
        old?.kernel,
      );
      kernel = built.record;
      kernelOutputs = { bzImage: built.bzImage, vmlinux: built.vmlinux, config: built.config };
      kernelOk = true;
    }
  }

  // Busybox and the initramfs: the same, and rebuilt when its recipe or the kernel changed.
  let busybox = old?.busybox;
  let initramfs = old?.initramfs;
  let initramfsOutput = old?.outputs.initramfs;
  const initramfsOk = !!busybox && initramfs?.recipe === RECIPE && initramfs.kernel === kernelId(kernel!)
    && outputValid(p.dir, initramfsOutput);
  if (!initramfsOk || opts.update) {
    const want = {
      name: BUSYBOX_PACKAGE,
      version: busybox && !opts.update ? busybox.version : resolveCandidate(BUSYBOX_PACKAGE),
    };
    if (!initramfsOk || busybox!.version !== want.version) {
      const built = buildGuestInitramfs(p, want, kernel!, log, old?.busybox);
      busybox = built.busybox;
      initramfs = built.record;
      initramfsOutput = built.initramfs;
    }
  }

  const manifest: Manifest = {
    generator: "tools/guests/debian.ts",
    system: old?.system && kernel === old.kernel && busybox === old.busybox ? old.system : osRelease(),
    kernel: kernel!,
    busybox: busybox!,
    initramfs: initramfs!,
    outputs: { ...kernelOutputs!, initramfs: initramfsOutput! },
  };
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  if (!existsSync(p.manifest) || readFileSync(p.manifest, "utf8") !== text) writeAtomically(p.manifest, text);
  return manifest;
}

export function summary(m: Manifest, dir = GUEST_DIR): string {
  const p = guestPaths(dir);
  const size = (o: OutputFile) => `${(o.size / 1048576).toFixed(1)} MiB`;
  return [
    `kernel   ${m.kernel.package} ${m.kernel.version} (uname -r ${m.kernel.release}; from ${m.system})`,
    `         ${p.bzImage}: ${
      size(m.outputs.bzImage)
    }, boot protocol ${m.kernel.bootProtocol}, ${m.kernel.compression} payload`,
    `         ${p.vmlinux}: ${
      size(m.outputs.vmlinux)
    }, ELF64 x86-64, entry ${m.kernel.entry}, PVH entry ${m.kernel.pvhEntry}`,
    `initrd   ${p.initramfs}: ${
      size(m.outputs.initramfs)
    }, ${m.busybox.package} ${m.busybox.version}, banner "${BANNER}"`,
    `         modules ${m.initramfs.modules.join(" ")} (built in: ${m.initramfs.builtin.join(" ") || "none"})`,
    `boot     qemu-system-x86_64 -kernel ${p.bzImage} -initrd ${p.initramfs} `
    + `-append "console=ttyS0 panic=-1" -nographic -m 256 -no-reboot`,
  ].join("\n");
}

function main(): void {
  const { values } = parseArgs({
    options: {
      kernel: { type: "string" },
      update: { type: "boolean", default: false },
      force: { type: "boolean", default: false },
      dir: { type: "string", default: GUEST_DIR },
      json: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    // The comment this file opens with.
    const lines = readFileSync(new URL(import.meta.url), "utf8").split("\n");
    console.log(lines.slice(0, lines.findIndex((l) => !l.startsWith("//"))).map((l) => l.slice(3)).join("\n"));
    return;
  }
  try {
    const m = ensureGuests({ dir: values.dir, kernel: values.kernel, update: values.update, force: values.force });
    console.log(values.json ? JSON.stringify(m, null, 2) : summary(m, values.dir));
  } catch (e) {
    if (e instanceof GuestError) {
      console.error(`guest-kernels: ${e.message}`);
      process.exit(e.kind === "unavailable" ? 2 : 1);
    }
    throw e;
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) main();
