// System test: Debian's unmodified Linux kernel finds its VM's PCI bus and
// the virtio console on it with its own built-in drivers (virtio_pci,
// virtio_console), under AMD-V (QEMU) and VT-x (Bochs). The host bridge
// comes from the ACPI tables (vmm/platform/pc/acpitables.ts: the DSDT's
// PNP0A08, the MCFG), the device's BARs are where the hypervisor placed
// them (vmm/platform/pc/pcibus.ts), its queues interrupt by MSI-X, and
// what Linux writes to /dev/hvc0 reaches the VM's console; it notifies
// through the function's port (I/O BAR 2), the notification structure
// listed first. With MSI off
// (pci=nomsi) the device interrupts on INTx# through the I/O APIC
// instead, level-triggered as the _PRT says; a VM without a UART has its
// shell on hvc0, which answers what is typed on the hypervisor's console.
// Its disks (virtio_blk, loaded from the initramfs) hold an ext4 file
// system across the VM's reboot, a read-only disk refuses writes, the
// entropy device (virtio_rng) feeds /dev/hwrng, and a disk's caps on
// bytes and operations per second hold within 10 %. Under AMD-V that VM
// has two vCPUs, and each disk a request queue for each (F_MQ): blk-mq
// lists two hardware queues, and reads from the second CPU complete on
// the second queue, as its interrupts tell.
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { HOST_MEMORY_MIB, linuxVmModules } from "../../tools/guests/vm";
import { withSerialApi } from "../../tools/harness/apirun";
import { boot, type Machine } from "../../tools/harness/index";
import { linuxGuests, POWERED_OFF, powerOffAtShell } from "./run";

const manifest = linuxGuests("virtio");
const SHELL = /Enter 'help' for a list of built-in commands\.\r?\n/;
// Linux's lines about the bus, in its boot log.
const BUS = [
  "PCI: ECAM [mem 0xe0000000-0xe00fffff] (base 0xe0000000) for domain 0000 [bus 00-00]",
  "ACPI: PCI Root Bridge [PCI0] (domain 0000 [bus 00])",
  "pci_bus 0000:00: root bus resource [mem 0xc0000000-0xdfffffff window]",
  "pci 0000:00:00.0: [8086:1237] type 00 class 0x060000 conventional PCI endpoint",
  "pci 0000:00:01.0: [1af4:1043] type 00 class 0x078000 conventional PCI endpoint",
  "pci 0000:00:01.0: BAR 1 [mem 0xc0000000-0xc0000fff]",
  "pci 0000:00:01.0: BAR 4 [mem 0xc0004000-0xc0007fff 64bit]",
];

describe.skipIf(!manifest)("virtio on the VM's PCI bus", () => {
  it.each([["qemu", "AMD-V"], ["bochs", "Intel VT-x"]] as const)(
    "Linux drives the virtio console under %s (%s): MSI-X vectors, and hvc0 writes to the console",
    async (platform, backend) => {
      const opts = { platform, memoryMiB: HOST_MEMORY_MIB, modules: linuxVmModules("vmlinux", "console=ttyS0") };
      await withSerialApi(opts, async (machine, client) => {
        const from = (await machine.waitFor(SHELL, 300_000)).index!;
        expect(machine.output).toContain(`console com1, ${backend}`);
        for (const line of BUS) expect(machine.output).toContain(`] ${line}`);
        // The arithmetic is the shell's: the UART echoes the command as
        // typed, and only hvc0 carries its result.
        machine.send(
          "grep virtio0 /proc/interrupts; grep virtio-pci-modern /proc/ioports; echo hvc-$((6 * 7)) > /dev/hvc0; "
            + "echo done-$((1 + 1))\n",
        );
        await machine.waitFor(/done-2\r?\n/, 60_000, from);
        const after = machine.output.slice(from);
        for (const queue of ["config", "input", "output"]) {
          expect(after).toMatch(new RegExp(String.raw`PCI-MSIX-0000:00:01\.0 +\d-edge +virtio0-${queue}`));
        }
        expect(after).toMatch(/\[linux\] hvc-42\r?\n/);
        // The driver took the notification port (I/O BAR 2), the first
        // notification structure, and claimed it.
        expect(after).toMatch(/\[linux\] +[0-9a-f]{4}-[0-9a-f]{4} : virtio-pci-modern\r?\n/);
        const { end, exit } = await powerOffAtShell(machine, client);
        expect(end.info).toMatchObject(POWERED_OFF);
        expect(exit.status).toBe(0);
      });
    },
    600_000,
  );

  it("a VM without a UART has its shell on hvc0, interrupted by INTx# when MSI is off", async () => {
    await withSerialApi({
      platform: "qemu",
      memoryMiB: HOST_MEMORY_MIB,
      modules: linuxVmModules("vmlinux", "console=hvc0 pci=nomsi", { console: "none" }),
    }, async (machine, client) => {
      const from = (await machine.waitFor(SHELL, 300_000)).index!;
      expect(machine.output).toContain("console none, AMD-V");
      machine.send("grep virtio0 /proc/interrupts; echo typed-$((6 * 7))\n");
      await machine.waitFor(/typed-42\r?\n/, 60_000, from);
      // One level-triggered line for the whole device: slot 1's INTA#
      // reaches I/O APIC input 17 (vmm/platform/pc/pcimap.ts).
      expect(machine.output.slice(from)).toMatch(/ 17: +[1-9]\d* +IO-APIC +17-fasteoi +virtio0/);
      const { end, exit } = await powerOffAtShell(machine, client);
      expect(end.info).toMatchObject(POWERED_OFF);
      expect(exit.status).toBe(0);
    });
  }, 600_000);

  // Disk images in build/test, as boot modules: RAM disks.
  function image(name: string, bytes: number, text = ""): string {
    mkdirSync("build/test", { recursive: true });
    const data = Buffer.alloc(bytes);
    data.write(text);
    const path = `build/test/${name}`;
    writeFileSync(path, data);
    return path;
  }
  const NUMBERS = Array.from({ length: 50000 }, (_, i) => `${i + 1}\n`).join("");
  const NUMBERS_SHA = createHash("sha256").update(NUMBERS).digest("hex");

  it.each([["qemu", "AMD-V"], ["bochs", "Intel VT-x"]] as const)(
    "Linux keeps a file system on its virtio disk across a reboot, and reads entropy, under %s (%s)",
    async (platform, backend) => {
      const machine = await boot({
        platform,
        memoryMiB: HOST_MEMORY_MIB,
        cmdline: "exit=emulator",
        modules: linuxVmModules("vmlinux", "console=ttyS0 quiet", {
          cpus: platform === "qemu" ? 2 : 1,
          disks: [
            { path: image(`data-${platform}.img`, 16 << 20) },
            { path: image(`tools-${platform}.img`, 1 << 20, "TYPERVISOR-TOOLS"), readonly: true },
          ],
        }),
      });
      try {
        const from = (await machine.waitFor(SHELL, 300_000)).index!;
        expect(machine.output).toContain(
          `disk disk0.img (RAM, 16 MiB), disk disk1.img (RAM, 1024 KiB, read-only), ${backend}`,
        );
        machine.send(
          "cat /sys/block/vda/size /sys/block/vdb/size /sys/block/vdb/ro /sys/block/vda/serial; "
            + "head -c 16 /dev/vdb; echo; dd if=/dev/zero of=/dev/vdb count=1; "
            + "mke2fs -q /dev/vda && mount -t ext4 /dev/vda /mnt && seq 1 50000 > /mnt/numbers && "
            + "sha256sum /mnt/numbers && umount /mnt && mount -t ext4 /dev/vda /mnt && sha256sum /mnt/numbers; "
            + "cat /sys/class/misc/hw_random/rng_current; head -c 4096 /dev/hwrng | sha256sum; echo end-$((2 * 3))\n",
        );
        await machine.waitFor(/end-6\r?\n/, 300_000, from);
        const out = machine.output.slice(from).replace(/\r/g, "");
        // Sizes in sectors, read-only, the serial (no newline), the read-only disk's first bytes.
        for (const answer of ["32768", "2048", "1", "disk0.imgTYPERVISOR-TOOLS"]) {
          expect(out).toContain(`[linux] ${answer}\n`);
        }
        expect(out).toMatch(/dd: error writing '\/dev\/vdb': Operation not permitted/);
        expect(out.split(`${NUMBERS_SHA}  /mnt/numbers`).length - 1).toBe(2);
        expect(out).toMatch(/\[linux\] virtio_rng\.0\n/);
        // 4 KiB of the host CPU's random bytes: not the hash of zeroes or of nothing.
        const random = out.match(/\[linux\] ([0-9a-f]{64})  -\n/)![1];
        expect(random).not.toBe(createHash("sha256").update(Buffer.alloc(4096)).digest("hex"));
        expect(random).not.toBe(createHash("sha256").update("").digest("hex"));
        if (platform === "qemu") await secondQueue(machine);
        // A reboot restarts the VM on the same disks; the file is still there.
        const beforeReboot = machine.output.length;
        machine.send("sync; reboot -f\n");
        await machine.waitFor(SHELL, 300_000, beforeReboot);
        machine.send("mount -t ext4 /dev/vda /mnt && sha256sum /mnt/numbers; poweroff -f\n");
        await machine.waitForExit(120_000);
        expect(machine.output.slice(beforeReboot)).toContain(`${NUMBERS_SHA}  /mnt/numbers`);
      } finally {
        machine.kill();
      }
    },
    900_000,
  );

  // vda's hardware queues as blk-mq lists them, then 64 direct reads from
  // the second CPU: the second request queue (Linux's req.1) interrupts for them.
  async function secondQueue(machine: Machine): Promise<void> {
    const interrupts = "awk '/virtio[0-9]+-req[.]1/ { n += $2 + $3 } END { print n }' /proc/interrupts";
    const from = machine.output.length;
    machine.send(
      `echo queues $(ls /sys/block/vda/mq); echo before $(${interrupts}); `
        + "taskset -c 1 dd if=/dev/vda of=/dev/null bs=4096 count=64 iflag=direct 2>/dev/null; "
        + `echo after $(${interrupts}); echo mq-$((6 * 7))\n`,
    );
    await machine.waitFor(/mq-42\r?\n/, 120_000, from);
    const out = machine.output.slice(from).replace(/\r/g, "");
    expect(out).toContain("[linux] queues 0 1\n");
    const count = (what: string) => Number(out.match(new RegExp(String.raw`\[linux\] ${what} (\d+)\n`))![1]);
    console.log(`virtio: 64 reads from the second CPU, ${count("after") - count("before")} interrupts of req.1`);
    expect(count("after") - count("before")).toBeGreaterThanOrEqual(32);
  }

  // The shell's `time` reports "real 0m 2.97s" by the guest's clock, which
  // keeps time with the host's. Read-ahead is off, so each read is one
  // request.
  it("holds a disk to its bytes and operations per second within 10 %", async () => {
    const machine = await boot({
      platform: "qemu",
      memoryMiB: HOST_MEMORY_MIB,
      cmdline: "exit=emulator",
      modules: linuxVmModules("vmlinux", "console=ttyS0 quiet", {
        disks: [
          { path: image("capped-bytes.img", 8 << 20), bytesPerSecond: 2 << 20 },
          { path: image("capped-ops.img", 1 << 20), iops: 50 },
        ],
      }),
    });
    try {
      const from = (await machine.waitFor(SHELL, 300_000)).index!;
      expect(machine.output).toContain(
        "disk disk0.img (RAM, 8192 KiB, 2048 KiB/s), disk disk1.img (RAM, 1024 KiB, 50 IOPS)",
      );
      machine.send(
        "blockdev --setra 0 /dev/vda; blockdev --setra 0 /dev/vdb; time dd if=/dev/vda of=/dev/null bs=64k count=96; "
          + "time dd if=/dev/vdb of=/dev/null bs=4k count=150; echo end-$((3 * 3))\n",
      );
      await machine.waitFor(/end-9\r?\n/, 120_000, from);
      const seconds = [...machine.output.slice(from).matchAll(/real\s+(\d+)m ([\d.]+)s/g)].map((m) =>
        Number(m[1]) * 60 + Number(m[2])
      );
      expect(seconds).toHaveLength(2);
      // 6 MiB at 2 MiB/s and 150 operations at 50 a second: 3 s each, less 50 ms of credit.
      for (const s of seconds) {
        expect(s).toBeGreaterThan(3 * 0.9);
        expect(s).toBeLessThan(3 * 1.1);
      }
      machine.send("poweroff -f\n");
      await machine.waitForExit(60_000);
    } finally {
      machine.kill();
    }
  }, 600_000);
});
