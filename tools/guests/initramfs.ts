// The guests' initramfs: Debian's static busybox, its applets as symlinks,
// Debian's kernel modules for the VMs' devices and disks with the modules.dep
// and modules.alias busybox's modprobe reads (modules.ts), and an /init that
// prints the TSC (tscstamp.c, for make bench), mounts proc, sysfs and
// devtmpfs, loads the drivers of the virtio devices the VM has, starts
// busybox acpid so that the ACPI power button (the management API's
// vm.shutdown, Redfish's GracefulShutdown) powers the VM off cleanly, prints
// a banner and runs a shell with job control on the console. A file system's
// modules load when it is first mounted: the kernel runs modprobe for
// "fs-ext4", then for the "crc32c" or "nls_cp437" the file system asks for.
// Loading a module is not free under emulation: ext4 takes 0.3 s under QEMU's
// TCG, and 30 s in a VM with two vCPUs on one emulated CPU, where each of the
// 1,100 function-call IPIs it sends waits for the other vCPU's turn. So a VM
// pays only for what it uses. Written as a newc cpio (cpio.ts),
// gzip-compressed (Debian's kernels have CONFIG_RD_GZIP), reproducibly.
//
// Kernel command line words /init understands (it reads /proc/cmdline):
//   typervisor.poweroff   print the banner and power off at once (boot timing)
//   typervisor.disk=DEV   mount DEV at /mnt, making an ext2 file system on it
//                         first if it is blank (make run's VM disks)
//   typervisor.ip=A/P     bring eth0 (the first virtio-net card) up with
//                         address A and prefix length P
//   typervisor.diskbench=DEV,PHASE:N,...
//                         run diskbench (diskbench.c) on DEV with those
//                         phases, then power off (make bench, diskbench.ts);
//                         loads the NVMe driver first for a bare machine
//   typervisor.netbench=recv,PORT,BYTES | send,ADDRESS,PORT,BYTES | veth,BYTES[,no-offloads]
//                         one end of a TCP transfer (netbench.c) in a VM
//                         (BYTES may be @DEVICE: the first line there),
//                         or both on a bare machine in two network
//                         namespaces joined by a veth pair, then power
//                         off (make bench, netbench.ts)

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { chardev, CpioEntry, dir, file, symlink, writeCpio } from "./cpio";
import { GUEST_MODULES, GuestModules, modulesAlias, modulesDep } from "./modules";
import { GuestPrograms, PROGRAM_FLAGS, PROGRAM_HEADER, PROGRAM_SOURCES } from "./programs";

export const BANNER = "typervisor-initramfs: ready";
// The shell's prompt (PS1 below, as root): "typervisor:/# ".
export const PROMPT = /typervisor:\S*# /;

// What busybox acpid runs when the power button is pressed (its action for
// the event it names "PWRF", parameter 00000080).
export const POWER_BUTTON_SCRIPT = `#!/bin/sh
echo "typervisor-initramfs: power button pressed, powering off" > /dev/console
sync
poweroff -f
`;

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
# Drivers for the VM's virtio devices that the kernel does not have built in.
for device in /sys/bus/virtio/devices/*; do
  if [ -e "$device/modalias" ] && [ ! -e "$device/driver" ]; then
    modalias=$(cat "$device/modalias")
    modprobe "$modalias" 2>/dev/null || echo "typervisor-initramfs: cannot load a driver for $modalias"
  fi
done
# The ACPI power button: Linux's button driver reports it as a key of an
# input device (evdev), and acpid runs /etc/acpi/PWRF/00000080 for it
# (logging to /dev/null: the initramfs has no /var/log).
if modprobe evdev && modprobe button; then acpid -l /dev/null
else echo "typervisor-initramfs: no power button driver"; fi
# typervisor.disk=DEVICE: the VM's own disk, mounted at /mnt, in the background
# (the first mount loads ext4); a blank one gets an ext2 file system first.
disk=$(sed -n 's/.*typervisor[.]disk=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
if [ -n "$disk" ]; then (
  if [ ! -b "$disk" ]; then echo "typervisor-initramfs: no disk $disk to mount at /mnt"; exit; fi
  if ! mount -t ext4 "$disk" /mnt 2>/dev/null && [ -z "$(head -c 65536 "$disk" | tr -d '\\000')" ]; then
    mke2fs -q "$disk" >/dev/null 2>&1 && echo "typervisor-initramfs: $disk was blank: made an ext2 file system"
    mount -t ext4 "$disk" /mnt 2>/dev/null
  fi
  if grep -q " /mnt " /proc/mounts; then echo "typervisor-initramfs: $disk mounted at /mnt"
  else echo "typervisor-initramfs: $disk holds no file system it can mount; left alone"; fi
) & fi
# typervisor.ip=ADDRESS/PREFIX: the first network card, up with that address
# (its driver, virtio_net, loaded above for the virtio-net device 1af4:1041).
address=$(sed -n 's/.*typervisor[.]ip=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
if [ -n "$address" ]; then
  ip link set lo up
  if ip link set eth0 up 2>/dev/null && ip addr add "$address" dev eth0; then
    echo "typervisor-initramfs: eth0 up at $address"
  else echo "typervisor-initramfs: no network card for $address"; fi
fi
# typervisor.diskbench=DEVICE,PHASE:COUNT,...: make bench's disk benchmark.
# On a bare machine the disk is QEMU's NVMe drive, whose driver probes it
# in the background: wait for the device node. diskbench takes the ticks
# Linux spent idle from its cpu_idle trace events, stamped with the TSC.
bench=$(sed -n 's/.*typervisor[.]diskbench=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
if [ -n "$bench" ]; then
  mount -t tracefs nodev /sys/kernel/tracing
  echo x86-tsc > /sys/kernel/tracing/trace_clock
  echo 1 > /sys/kernel/tracing/events/power/cpu_idle/enable
  device=\${bench%%,*}
  [ -b "$device" ] || modprobe nvme
  tries=0
  while [ ! -b "$device" ] && [ $tries -lt 100 ]; do sleep 0.1; tries=$((tries + 1)); done
  echo "typervisor-initramfs: diskbench on $device"
  /bin/diskbench $(echo "$bench" | tr , " ")
  poweroff -f
fi
# typervisor.netbench=recv,PORT,BYTES | send,ADDRESS,PORT,BYTES | veth,BYTES[,no-offloads]:
# make bench's network benchmark (netbench.c, tools/netbench.ts), then power
# off. recv and send are the two ends of one TCP transfer, each in its own VM
# with eth0 up (typervisor.ip). veth runs both ends on a bare machine, in two
# network namespaces joined by a veth pair (with no-offloads, without the
# offloads the VMs' cards lack): each namespace is held by a process that
# unshare -n made, and nsenter -n runs commands in it. The receiving side's
# packet counters come before and after, and the sending side's TCP
# retransmissions, retransmission timeouts and tail loss probes after:
# /proc/PID/net/ is PID's network namespace's (/proc/net/, the reader's).
# Fixed widths, as netbench.c's.
netbench=$(sed -n 's/.*typervisor[.]netbench=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
if [ -n "$netbench" ]; then
  counters() {
    tr : ' ' < "$1" | awk -v i="$2" -v when="$3" \\
      '$1 == i { printf "netbench: %s %s: received %8d packets, sent %8d packets\\n", i, when, $3, $11 }'
  }
  retransmissions() {
    awk '$1 == "Tcp:" && n++ { s = $12; r = $13 }
      $1 == "TcpExt:" && !m++ { for (i = 2; i <= NF; i++) name[i] = $i; next }
      $1 == "TcpExt:" { for (i = 2; i <= NF; i++) x[name[i]] = $i }
      END { printf "netbench: tcp sent %8d segments, retransmitted %6d, %4d timeouts, %4d loss probes\\n",
        s, r, x["TCPTimeouts"], x["TCPLossProbes"] }' "$1" "$2"
  }
  # A byte count of @DEVICE is the first line of that block device's first
  # block (the VMs' benchmark: the command line seeds Linux's random numbers,
  # so a baseline that only transfers fewer bytes has them on a disk).
  count() {
    case "$1" in
    @*)
      tries=0
      while [ ! -b "\${1#@}" ] && [ $tries -lt 100 ]; do sleep 0.1; tries=$((tries + 1)); done
      head -n 1 "\${1#@}"
      ;;
    *) echo "$1" ;;
    esac
  }
  # Linux is busy for about half a second after /init starts (by
  # /proc/stat, in system time that no process left running accounts for):
  # a transfer begun then counted it, 150 M ticks of bare Linux's 373 M.
  # After a pause of 0.5 s or more the bare figure is the same (223 M).
  sleep 2
  set -- $(echo "$netbench" | tr , " ")
  case "$1" in
  recv)
    counters /proc/net/dev eth0 before
    /bin/netbench recv "$2" "$(count "$3")"
    counters /proc/net/dev eth0 after
    ;;
  send)
    /bin/netbench send "$2" "$3" "$(count "$4")"
    retransmissions /proc/net/snmp /proc/net/netstat
    ;;
  veth)
    modprobe veth
    unshare -n sleep 1000000 &
    a=$!
    unshare -n sleep 1000000 &
    b=$!
    # Until each has its own namespace (unshare makes it, then runs sleep).
    own=$(readlink /proc/$$/ns/net)
    while [ "$(readlink /proc/$a/ns/net)" = "$own" ] || [ "$(readlink /proc/$b/ns/net)" = "$own" ]; do
      sleep 0.01
    done
    /bin/netbench veth nb-a $a nb-b $b
    if [ "$3" = no-offloads ]; then
      nsenter -t $a -n /bin/netbench no-offloads nb-a
      nsenter -t $b -n /bin/netbench no-offloads nb-b
    fi
    nsenter -t $a -n sh -c 'ip link set lo up && ip addr add 10.0.0.1/24 dev nb-a && ip link set nb-a up'
    nsenter -t $b -n sh -c 'ip link set lo up && ip addr add 10.0.0.2/24 dev nb-b && ip link set nb-b up'
    counters /proc/$a/net/dev nb-a before
    nsenter -t $a -n /bin/netbench recv 5001 "$2" &
    receiver=$!
    nsenter -t $b -n /bin/netbench send 10.0.0.1 5001 "$2"
    wait $receiver
    counters /proc/$a/net/dev nb-a after
    retransmissions /proc/$b/net/snmp /proc/$b/net/netstat
    ;;
  *) echo "typervisor-initramfs: no such netbench command: $1" ;;
  esac
  poweroff -f
fi
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
  "acpid",
  "ash",
  "awk",
  "blockdev",
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
  "insmod",
  "ip",
  "kill",
  "less",
  "ln",
  "ls",
  "lsmod",
  "mkdir",
  "mkdosfs",
  "mke2fs",
  "mknod",
  "modprobe",
  "more",
  "mount",
  "mv",
  "nc",
  "nproc",
  "od",
  "poweroff",
  "printf",
  "ps",
  "ping",
  "pwd",
  "reboot",
  "rm",
  "rmmod",
  "sed",
  "seq",
  "setsid",
  "sh",
  "sha256sum",
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

// Changes whenever what is put in the archive changes, other than busybox and
// the modules themselves (the manifest records the packages they come from).
export const RECIPE = createHash("sha256").update(
  JSON.stringify({
    format: 2,
    INIT_SCRIPT,
    POWER_BUTTON_SCRIPT,
    APPLETS,
    GUEST_MODULES,
    programs: [...Object.values(PROGRAM_SOURCES), PROGRAM_HEADER].map((source) => readFileSync(source, "utf8")),
    PROGRAM_FLAGS,
  }),
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

// Every folder a path is in, outermost first: "a/b/c" -> "a", "a/b".
function foldersOf(path: string): string[] {
  return path.split("/").slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join("/"));
}

// `programs` are the executables buildPrograms() makes; `modules` what extractModules() found.
export function buildInitramfs(
  busybox: Buffer,
  available: Set<string> | null,
  programs: GuestPrograms,
  modules: GuestModules,
): Initramfs {
  const applets = available ? APPLETS.filter((a) => available.has(a)) : APPLETS;
  const missing = APPLETS.filter((a) => !applets.includes(a));
  for (const needed of ["sh", "mount", "setsid", "cttyhack", "poweroff", "modprobe"]) {
    if (missing.includes(needed)) throw new Error(`busybox has no "${needed}" applet, which /init needs`);
  }
  const moduleFolder = `lib/modules/${modules.release}`;
  const moduleFiles = [
    ...modules.modules.map((m) => file(`${moduleFolder}/${m.file}`, m.data)),
    file(`${moduleFolder}/modules.dep`, Buffer.from(modulesDep(modules.modules))),
    file(`${moduleFolder}/modules.alias`, Buffer.from(modulesAlias(modules.modules))),
  ];
  const folders = [
    ...[
      "bin",
      "dev",
      "etc",
      "etc/acpi",
      "etc/acpi/PWRF",
      "mnt",
      "proc",
      "root",
      "sbin",
      "sys",
      "tmp",
      "usr",
      "usr/bin",
      "usr/sbin",
      "run",
    ],
    ...new Set(moduleFiles.flatMap((f) => foldersOf(f.name)).sort()),
  ];
  const entries: CpioEntry[] = [
    ...folders.map((d) => dir(d)),
    // The kernel opens /dev/console for init's stdin/out/err before /init runs.
    chardev("dev/console", 5, 1),
    chardev("dev/null", 1, 3, 0o666),
    chardev("dev/ttyS0", 4, 64),
    file("bin/busybox", busybox, 0o755),
    ...Object.entries(programs).map(([name, executable]) => file(`bin/${name}`, executable, 0o755)),
    ...applets.map((a) => symlink(`bin/${a}`, "busybox")),
    file("init", Buffer.from(INIT_SCRIPT), 0o755),
    file("etc/acpi/PWRF/00000080", Buffer.from(POWER_BUTTON_SCRIPT), 0o755),
    file("etc/hostname", Buffer.from("typervisor-guest\n")),
    file("etc/passwd", Buffer.from("root:x:0:0:root:/root:/bin/sh\n")),
    file("etc/group", Buffer.from("root:x:0:\n")),
    ...moduleFiles,
  ];
  const cpio = writeCpio(entries);
  // Node's gzip header has mtime 0: the output only depends on the input.
  return { cpio, gz: gzipSync(cpio, { level: 9 }), applets, missing };
}
