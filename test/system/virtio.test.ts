// System test: Debian's unmodified Linux kernel finds its VM's PCI bus and
// the virtio console on it with its own built-in drivers (virtio_pci,
// virtio_console), under AMD-V (QEMU) and VT-x (Bochs). The host bridge
// comes from the ACPI tables (vmm/platform/pc/acpitables.ts: the DSDT's
// PNP0A08, the MCFG), the device's BARs are where the hypervisor placed
// them (vmm/platform/pc/pcibus.ts), its queues interrupt by MSI-X, and
// what Linux writes to /dev/hvc0 reaches the VM's console. With MSI off
// (pci=nomsi) the device interrupts on INTx# through the I/O APIC
// instead, level-triggered as the _PRT says; a VM without a UART has its
// shell on hvc0, which answers what is typed on the hypervisor's console.
import { describe, expect, it } from "vitest";
import { HOST_MEMORY_MIB, linuxVmModules } from "../../tools/guests/vm";
import { boot } from "../../tools/harness/index";
import { linuxGuests } from "./run";

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
      const machine = await boot({
        platform,
        memoryMiB: HOST_MEMORY_MIB,
        cmdline: "exit=emulator",
        modules: linuxVmModules("vmlinux", "console=ttyS0"),
      });
      try {
        const from = (await machine.waitFor(SHELL, 300_000)).index!;
        expect(machine.output).toContain(`console com1, ${backend}`);
        for (const line of BUS) expect(machine.output).toContain(`] ${line}`);
        // The arithmetic is the shell's: the UART echoes the command as
        // typed, and only hvc0 carries its result.
        machine.send("grep virtio0 /proc/interrupts; echo hvc-$((6 * 7)) > /dev/hvc0; echo done-$((1 + 1))\n");
        await machine.waitFor(/done-2\r?\n/, 60_000, from);
        const after = machine.output.slice(from);
        for (const queue of ["config", "input", "output"]) {
          expect(after).toMatch(new RegExp(String.raw`PCI-MSIX-0000:00:01\.0 +\d-edge +virtio0-${queue}`));
        }
        expect(after).toMatch(/\[linux\] hvc-42\r?\n/);
        machine.send("poweroff -f\n");
        await machine.waitForExit(60_000);
        expect(machine.output).toContain("vm linux: powered off");
      } finally {
        machine.kill();
      }
    },
    600_000,
  );

  it("a VM without a UART has its shell on hvc0, interrupted by INTx# when MSI is off", async () => {
    const machine = await boot({
      platform: "qemu",
      memoryMiB: HOST_MEMORY_MIB,
      cmdline: "exit=emulator",
      modules: linuxVmModules("vmlinux", "console=hvc0 pci=nomsi", { console: "none" }),
    });
    try {
      const from = (await machine.waitFor(SHELL, 300_000)).index!;
      expect(machine.output).toContain("console none, AMD-V");
      machine.send("grep virtio0 /proc/interrupts; echo typed-$((6 * 7))\n");
      await machine.waitFor(/typed-42\r?\n/, 60_000, from);
      // One level-triggered line for the whole device: slot 1's INTA#
      // reaches I/O APIC input 17 (vmm/platform/pc/pcimap.ts).
      expect(machine.output.slice(from)).toMatch(/ 17: +[1-9]\d* +IO-APIC +17-fasteoi +virtio0/);
      machine.send("poweroff -f\n");
      await machine.waitForExit(60_000);
      expect(machine.output).toContain("vm linux: powered off");
    } finally {
      machine.kill();
    }
  }, 600_000);
});
