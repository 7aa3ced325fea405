// System test: Debian's unmodified Linux kernel (tools/guests, the cache that
// test/tools/guest-kernels.test.ts builds) in a VM from the configuration
// module. The kernel boots from its bzImage (the 64-bit boot protocol, which
// decompresses it) and from its vmlinux (the PVH entry) under AMD-V (QEMU
// TCG), and from its vmlinux under VT-x (Bochs, where decompressing would
// take minutes), with the busybox initramfs, on the PC platform with no ACPI tables and no
// I/O APIC: its timer ticks come from the PIT through the 8259 pair and the
// local APIC's LINT0 in virtual-wire mode, its console is the COM1 UART.
// /init prints its banner and powers off, which without ACPI halts the CPU
// with interrupts off: the hypervisor stops the VM and shuts down.
// Skipped when the guest kernel cannot be had (no package lists, no network).
import { mkdirSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ensureGuests, guestPaths, Manifest } from "../../tools/guests/debian";
import { GuestError } from "../../tools/guests/errors";
import { BANNER } from "../../tools/guests/initramfs";
import { bootAndWait } from "./run";

const paths = guestPaths();
let manifest: Manifest | null = null;
try {
  manifest = ensureGuests({ log: (s) => console.log(`linux: ${s}`) });
} catch (e) {
  if (!(e instanceof GuestError && e.kind === "unavailable")) throw e;
  console.warn(`linux: skipped, the guest kernel cannot be had:\n${e.message}`);
}

function configModule(kernel: string, cmdline: string): { path: string; args: string } {
  mkdirSync("build/test", { recursive: true });
  const path = `build/test/linux-${kernel}.json`;
  const vm = { name: "linux", memory: 256, cpus: 1, kernel, initrd: "initramfs", cmdline, console: "com1" };
  writeFileSync(path, JSON.stringify({ vms: [vm] }, null, 2) + "\n");
  return { path, args: `linux-${kernel}.json config` };
}

// How the hypervisor's loaders describe each image.
const PVH = /pvh kernel \[0x1000000, 0x[0-9a-f]+\), entry 0x[0-9a-f]+ in 32-bit protected mode/;
const BZIMAGE = /linux kernel \[0x100000, 0x[0-9a-f]+\), entry 0x100200 in 64-bit long mode/;
const RUNS = [
  { kernel: "vmlinux", file: paths.vmlinux, loaded: PVH, platform: "qemu", backend: "AMD-V" },
  { kernel: "bzImage", file: paths.bzImage, loaded: BZIMAGE, platform: "qemu", backend: "AMD-V" },
  { kernel: "vmlinux", file: paths.vmlinux, loaded: PVH, platform: "bochs", backend: "Intel VT-x" },
] as const;

describe.skipIf(!manifest)("Debian's Linux kernel in a VM", () => {
  it.each(RUNS)("boots from its $kernel under $backend ($platform) to /init, with PIT interrupts through the 8259s, and halts", async ({ kernel, file, loaded, platform, backend }) => {
    const run = await bootAndWait({
      platform, memoryMiB: 768,
      modules: [
        { path: file, args: kernel },
        { path: paths.initramfs, args: "initramfs" },
        configModule(kernel, "console=ttyS0 earlyprintk=serial,ttyS0 panic=-1 typervisor.poweroff"),
      ],
    }, 400_000);
    const output = run.output.replace(/\r/g, "");
    expect(output).toMatch(new RegExp(`vm linux: 256 MiB at host 0x[0-9a-f]+, ${loaded.source}, console com1, ${backend}`));
    expect(output).toMatch(new RegExp(`\\[linux\\] \\[ *0\\.000000\\] Linux version ${manifest!.kernel.release.replace(/[.+]/g, "\\$&")} `));
    // The delay loop counts jiffies: the PIT's IRQ0 arrives.
    expect(output).toMatch(/\[linux\] \[ *[\d.]+\] Calibrating delay loop\.\.\. \d+\.\d+ BogoMIPS/);
    expect(output).toContain("[linux] [    0.000000] APIC: Switch to virtual wire mode setup with no configuration");
    expect(output).toMatch(/\[linux\] \[ *[\d.]+\] serial8250: ttyS0 at I\/O 0x3f8 \(irq = 4, base_baud = 115200\) is a 16550A/);
    expect(output).toMatch(/\[linux\] \[ *[\d.]+\] Run \/init as init process/);
    expect(output).toContain(`[linux] ${BANNER} (Linux ${manifest!.kernel.release}, 1 CPU(s), `);
    expect(output).toMatch(/\[linux\] \[ *[\d.]+\] reboot: Power off not available: System halted instead/);
    expect(output).toContain("vm linux: stopped: halted with nothing left to wake it");
    expect(output).not.toMatch(/Kernel panic|BUG:|Oops/);
    expect(output).toContain("typervisor: shutdown");
    expect(run.exit.status).toBe(0);
  }, 450_000);
});
