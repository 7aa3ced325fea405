// The guests' initramfs: Debian's static busybox, its applets as symlinks, and
// an /init that prints the TSC (tscstamp.c, for make bench), mounts proc,
// sysfs and devtmpfs, prints a banner and runs a shell with job control on
// the console. Written as a newc cpio (cpio.ts),
// gzip-compressed (Debian's kernels have CONFIG_RD_GZIP), reproducibly.
//
// Kernel command line words /init understands (it reads /proc/cmdline):
//   typervisor.poweroff   print the banner and power off at once (boot timing)

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { chardev, CpioEntry, dir, file, symlink, writeCpio } from "./cpio";
import { TSCSTAMP_FLAGS, TSCSTAMP_SOURCE } from "./tscstamp";

export const BANNER = "typervisor-initramfs: ready";
// The shell's prompt (PS1 below, as root): "typervisor:/# ".
export const PROMPT = /typervisor:\S*# /;

export const INIT_SCRIPT = `#!/bin/busybox sh
# typervisor initramfs /init (tools/guests/initramfs.ts)
/bin/tscstamp
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TERM=linux
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev || echo "typervisor-initramfs: devtmpfs failed"
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
/bin/busybox --install -s 2>/dev/null
hostname typervisor-guest
echo "${BANNER} (Linux $(uname -r), $(nproc) CPU(s), $(awk '/^MemTotal/ { print int($2 / 1024) }' /proc/meminfo) MiB)"
if grep -qw typervisor.poweroff /proc/cmdline; then poweroff -f; fi
export PS1='typervisor:\\w\\$ '
# A session of its own with the console as controlling terminal, for job control and ^C.
setsid cttyhack /bin/sh
echo "typervisor-initramfs: shell exited, powering off"
sync
poweroff -f
`;

// Symlinks made in the archive (the rest appear at boot from busybox --install -s).
export const APPLETS = [
  "[",
  "ash",
  "awk",
  "cat",
  "chmod",
  "clear",
  "cp",
  "cttyhack",
  "cut",
  "date",
  "dd",
  "df",
  "dmesg",
  "du",
  "echo",
  "env",
  "false",
  "find",
  "free",
  "grep",
  "halt",
  "head",
  "hexdump",
  "hostname",
  "id",
  "ip",
  "kill",
  "less",
  "ln",
  "ls",
  "lsmod",
  "mkdir",
  "mknod",
  "more",
  "mount",
  "mv",
  "nproc",
  "od",
  "poweroff",
  "printf",
  "ps",
  "pwd",
  "reboot",
  "rm",
  "sed",
  "seq",
  "setsid",
  "sh",
  "sleep",
  "sort",
  "stat",
  "stty",
  "sync",
  "sysctl",
  "tail",
  "test",
  "time",
  "top",
  "touch",
  "tr",
  "true",
  "umount",
  "uname",
  "uptime",
  "vi",
  "watch",
  "wc",
  "xargs",
  "yes",
];

// Changes whenever what is put in the archive (other than busybox itself) changes.
export const RECIPE = createHash("sha256").update(
  JSON.stringify({ format: 1, INIT_SCRIPT, APPLETS, tscstamp: readFileSync(TSCSTAMP_SOURCE, "utf8"), TSCSTAMP_FLAGS }),
).digest("hex").slice(0, 16);

// The applets this busybox has, from `busybox --list` when it runs here (it is a
// static x86-64 binary); null when it does not run.
export function busyboxApplets(busyboxPath: string): Set<string> | null {
  const r = spawnSync(busyboxPath, ["--list"], { encoding: "utf8" });
  if (r.status !== 0 || !r.stdout) return null;
  return new Set(r.stdout.split("\n").map((s) => s.trim()).filter(Boolean));
}

export interface Initramfs {
  cpio: Buffer;
  gz: Buffer;
  applets: string[];
  // APPLETS this busybox lacks (left out).
  missing: string[];
}

// `tscstamp` is the executable buildTscStamp() makes.
export function buildInitramfs(busybox: Buffer, available: Set<string> | null, tscstamp: Buffer): Initramfs {
  const applets = available ? APPLETS.filter((a) => available.has(a)) : APPLETS;
  const missing = APPLETS.filter((a) => !applets.includes(a));
  for (const needed of ["sh", "mount", "setsid", "cttyhack", "poweroff"]) {
    if (missing.includes(needed)) throw new Error(`busybox has no "${needed}" applet, which /init needs`);
  }
  const entries: CpioEntry[] = [
    ...["bin", "dev", "etc", "proc", "root", "sbin", "sys", "tmp", "usr", "usr/bin", "usr/sbin", "run"].map((d) =>
      dir(d)
    ),
    // The kernel opens /dev/console for init's stdin/out/err before /init runs.
    chardev("dev/console", 5, 1),
    chardev("dev/null", 1, 3, 0o666),
    chardev("dev/ttyS0", 4, 64),
    file("bin/busybox", busybox, 0o755),
    file("bin/tscstamp", tscstamp, 0o755),
    ...applets.map((a) => symlink(`bin/${a}`, "busybox")),
    file("init", Buffer.from(INIT_SCRIPT), 0o755),
    file("etc/hostname", Buffer.from("typervisor-guest\n")),
    file("etc/passwd", Buffer.from("root:x:0:0:root:/root:/bin/sh\n")),
    file("etc/group", Buffer.from("root:x:0:\n")),
  ];
  const cpio = writeCpio(entries);
  // Node's gzip header has mtime 0: the output only depends on the input.
  return { cpio, gz: gzipSync(cpio, { level: 9 }), applets, missing };
}
