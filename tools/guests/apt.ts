// Debian packages through apt: which linux-image to use, and `apt-get download`
// of it. Only apt's own clients are used (apt-cache, apt-get download, dpkg-deb);
// nothing needs root: apt-get download writes into the current directory.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { failed, unavailable } from "./errors";

export interface PackageRef {
  name: string;
  version: string;
}

export interface DownloadedDeb extends PackageRef {
  // File name inside the download folder, and its SHA-256 (from the archive's index).
  file: string;
  sha256: string;
  size: number;
}

const UPDATE_HINT = `${process.getuid?.() === 0 ? "" : "sudo "}apt-get update`;

// ---------------------------------------------------------------------------
// Debian version ordering (deb-version(7)), as dpkg --compare-versions.

function order(c: string | undefined): number {
  if (c === undefined) return 0;
  if (c === "~") return -1;
  if (/[0-9]/.test(c)) return 0;
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0);
  return c.charCodeAt(0) + 256;
}

function compareFragment(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !/[0-9]/.test(a[i])) || (j < b.length && !/[0-9]/.test(b[j]))) {
      const ac = order(a[i]);
      const bc = order(b[j]);
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (a[i] === "0") i++;
    while (b[j] === "0") j++;
    while (i < a.length && /[0-9]/.test(a[i]) && j < b.length && /[0-9]/.test(b[j])) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (i < a.length && /[0-9]/.test(a[i])) return 1;
    if (j < b.length && /[0-9]/.test(b[j])) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}

function splitVersion(v: string): { epoch: number; upstream: string; revision: string } {
  const colon = v.indexOf(":");
  const epoch = colon >= 0 ? Number(v.slice(0, colon)) : 0;
  const rest = colon >= 0 ? v.slice(colon + 1) : v;
  const dash = rest.lastIndexOf("-");
  return dash >= 0
    ? { epoch, upstream: rest.slice(0, dash), revision: rest.slice(dash + 1) }
    : { epoch, upstream: rest, revision: "" };
}

// <0, 0, >0 as a is older than, the same as, newer than b.
export function compareDebianVersions(a: string, b: string): number {
  const va = splitVersion(a);
  const vb = splitVersion(b);
  if (va.epoch !== vb.epoch) return va.epoch - vb.epoch;
  return compareFragment(va.upstream, vb.upstream) || compareFragment(va.revision, vb.revision);
}

// ---------------------------------------------------------------------------
// Which kernel package.

// linux-image-<abi>-amd64 with a full ABI (6.1.0-56, 6.12.117+deb12): not the
// meta-packages (linux-image-amd64, linux-image-6.12-amd64), not cloud or rt
// flavours, not -dbg. The -unsigned twin holds the same kernel without the
// Secure Boot signature.
export const KERNEL_PACKAGE = /^linux-image-(\d+\.\d+\.\d+[-+][0-9A-Za-z.+]+?)-amd64(-unsigned)?$/;

export interface KernelCandidate extends PackageRef {
  abi: string;
  signed: boolean;
}

// The newest first; for the same version the signed package (the one the
// archive's linux-image-amd64 installs) before its -unsigned twin; then by name.
export function sortKernelCandidates(candidates: KernelCandidate[]): KernelCandidate[] {
  return [...candidates].sort((a, b) =>
    compareDebianVersions(b.version, a.version) || Number(b.signed) - Number(a.signed) || a.name.localeCompare(b.name)
  );
}

function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string } = {},
): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    encoding: "utf8",
    maxBuffer: 64 << 20,
    env: { ...process.env, LC_ALL: "C" },
  });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw unavailable(`${cmd} not found: this tooling needs Debian's apt and dpkg (a Debian host)`);
    }
    throw failed(`${cmd} ${args.join(" ")}: ${r.error.message}`);
  }
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

// Candidate versions apt would install, by package name ("(none)" dropped).
export function candidateVersions(names: string[]): Map<string, string> {
  const result = new Map<string, string>();
  if (!names.length) return result;
  const r = run("apt-cache", ["policy", ...names]);
  if (r.status !== 0) throw failed(`apt-cache policy failed:\n${r.stderr}`);
  let current: string | null = null;
  for (const line of r.stdout.split("\n")) {
    const pkg = /^(\S+):$/.exec(line);
    if (pkg) {
      current = pkg[1];
      continue;
    }
    const cand = /^\s+Candidate:\s+(\S+)/.exec(line);
    if (cand && current && cand[1] !== "(none)") result.set(current, cand[1]);
  }
  return result;
}

function noListsError(what: string): Error {
  return unavailable(
    `${what}: apt knows no such package. If the package lists were never downloaded `
      + `(fresh system or container), run:\n  ${UPDATE_HINT}\nthen try again.`,
  );
}

export function kernelCandidates(): KernelCandidate[] {
  const r = run("apt-cache", ["pkgnames", "linux-image-"]);
  if (r.status !== 0) throw failed(`apt-cache pkgnames failed:\n${r.stderr}`);
  const names = r.stdout.split("\n").map((s) => s.trim()).filter((s) => KERNEL_PACKAGE.test(s)).sort();
  const versions = candidateVersions(names);
  return names.filter((n) => versions.has(n)).map((name) => {
    const m = KERNEL_PACKAGE.exec(name)!;
    return { name, version: versions.get(name)!, abi: m[1], signed: !m[2] };
  });
}

// The kernel package to use. `pin` (from --kernel or GUEST_KERNEL):
//   undefined | "newest"  the newest linux-image-<abi>-amd64 apt can install
//   "default"             the one Debian's meta-package linux-image-amd64 depends on
//   "6.1.0-56"            an ABI; "linux-image-6.1.0-56-amd64[-unsigned]" a package name
//   any of these with "=<package version>" appended: that exact version
export function resolveKernel(pin?: string): PackageRef {
  let spec = (pin ?? "").trim() || "newest";
  let version: string | undefined;
  const eq = spec.indexOf("=");
  if (eq >= 0) {
    version = spec.slice(eq + 1);
    spec = spec.slice(0, eq);
  }

  let name: string;
  if (spec === "newest") {
    const sorted = sortKernelCandidates(kernelCandidates());
    if (!sorted.length) throw noListsError("linux-image-<version>-amd64");
    name = sorted[0].name;
    if (!version) return { name, version: sorted[0].version };
  } else if (spec === "default") {
    const r = run("apt-cache", ["depends", "linux-image-amd64"]);
    const dep = /Depends:\s+(linux-image-\S+-amd64)\b/.exec(r.stdout);
    if (r.status !== 0 || !dep) throw noListsError("linux-image-amd64");
    name = dep[1];
  } else {
    name = spec.startsWith("linux-image-") ? spec : `linux-image-${spec}-amd64`;
    if (!KERNEL_PACKAGE.test(name)) {
      throw failed(
        `kernel pin "${pin}": expected an ABI like 6.1.0-56 or 6.12.117+deb12, a package name `
          + `linux-image-<abi>-amd64[-unsigned], "newest" or "default"`,
      );
    }
  }
  return { name, version: version ?? resolveCandidate(name) };
}

export function resolveCandidate(name: string): string {
  const v = candidateVersions([name]).get(name);
  if (!v) {
    const r = run("apt-cache", ["show", "--no-all-versions", name]);
    if (r.status !== 0) throw noListsError(name);
    throw unavailable(`${name}: apt has no installable version of it for this system`);
  }
  return v;
}

// ---------------------------------------------------------------------------
// Downloads.

export function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

// Where apt-get would put pkg=version, and the checksum the archive's index gives.
export function debInfo(pkg: PackageRef): Omit<DownloadedDeb, keyof PackageRef> & { uri: string } {
  const r = run("apt-get", ["download", "--print-uris", `${pkg.name}=${pkg.version}`]);
  const line = /^'([^']+)'\s+(\S+)\s+(\d+)\s+SHA256:([0-9a-f]{64})/m.exec(r.stdout);
  if (r.status !== 0 || !line) {
    if (/Unable to locate|has no installation candidate|not found|Can't select/i.test(r.stderr)) {
      throw noListsError(`${pkg.name}=${pkg.version}`);
    }
    throw failed(`apt-get download --print-uris ${pkg.name}=${pkg.version} failed:\n${r.stderr}${r.stdout}`);
  }
  return { uri: line[1], file: line[2], size: Number(line[3]), sha256: line[4] };
}

// Downloads pkg=version into `dir` unless a file with the right checksum is already there.
// `known`: the file and checksum recorded earlier for this very pkg=version,
// used without asking apt (whose lists may have moved on since).
export function downloadDeb(
  pkg: PackageRef,
  dir: string,
  log: (s: string) => void,
  known?: { file: string; sha256: string },
): DownloadedDeb {
  if (known && existsSync(join(dir, known.file)) && sha256File(join(dir, known.file)) === known.sha256) {
    log(`  ${known.file}: already downloaded`);
    return { ...pkg, ...known, size: readFileSync(join(dir, known.file)).length };
  }
  const info = debInfo(pkg);
  const path = join(dir, info.file);
  if (existsSync(path) && sha256File(path) === info.sha256) {
    log(`  ${info.file}: already downloaded`);
    return { ...pkg, file: info.file, sha256: info.sha256, size: info.size };
  }
  rmSync(path, { force: true });
  log(`  downloading ${info.file} (${(info.size / 1e6).toFixed(1)} MB) from ${info.uri}`);
  const args = ["download", `${pkg.name}=${pkg.version}`];
  // As root apt downloads as user _apt, which may not write here: say so up front
  // instead of the "unsandboxed" warning.
  if (process.getuid?.() === 0) args.unshift("-o", "APT::Sandbox::User=root");
  const r = run("apt-get", args, { cwd: dir });
  if (r.status !== 0 || !existsSync(path)) {
    const msg = `${r.stderr}${r.stdout}`.trim();
    const offline = /Could not resolve|Temporary failure|Failed to fetch|Connection|Unable to connect|timed out/i;
    if (offline.test(msg) || /Network is unreachable/i.test(msg)) {
      throw unavailable(`could not download ${pkg.name}=${pkg.version} (no network, or a proxy is needed?):\n${msg}`);
    }
    if (/404\s+Not Found/i.test(msg)) {
      throw unavailable(
        `${pkg.name}=${pkg.version} is gone from the mirror; the package lists are stale: `
          + `run\n  ${UPDATE_HINT}\n${msg}`,
      );
    }
    throw failed(`apt-get download ${pkg.name}=${pkg.version} failed:\n${msg}`);
  }
  const got = sha256File(path);
  if (got !== info.sha256) {
    renameSync(path, `${path}.corrupt`);
    throw failed(`${info.file}: SHA-256 ${got} does not match the archive's ${info.sha256} (kept as .corrupt)`);
  }
  return { ...pkg, file: info.file, sha256: info.sha256, size: info.size };
}

// Files matching the glob patterns (tar --wildcards, paths like ./boot/vmlinuz-*)
// from a .deb's data, into `dest`. dpkg-deb --fsys-tarfile | tar, so that only
// these are written (the kernel package holds about 100 MB of modules).
export function extractFromDeb(deb: string, dest: string, patterns: string[]): string[] {
  const script = `dpkg-deb --fsys-tarfile "$1" | tar -x -v -C "$2" --wildcards ${
    patterns.map((p) => `'${p}'`).join(" ")
  }`;
  const r = run("bash", ["-c", `set -o pipefail; ${script}`, "bash", deb, dest]);
  if (r.status !== 0) throw failed(`extracting ${patterns.join(" ")} from ${deb} failed (corrupt .deb?):\n${r.stderr}`);
  return r.stdout.split("\n").map((s) => s.trim()).filter((s) => s && !s.endsWith("/"));
}

export function osRelease(): string {
  try {
    const text = readFileSync("/etc/os-release", "utf8");
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
}
