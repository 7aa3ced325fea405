// System tests: the real image boots on every platform, reports the machine
// it was given, lists its modules and shuts down cleanly.
import { describe, expect, it } from "vitest";
import { bootAndWait, testModules, usableMiB } from "./run";
import { Platform } from "../../tools/harness/index";

const BANNER = "Typervisor 0.1.0: a hypervisor in AssemblyScript, compiled to native code";

interface Case {
  name: string;
  platform: Platform;
  useIso?: boolean;
  usb?: boolean;
  loader: RegExp;
  virt: string;
  slackMiB: number;
}

const cases: Case[] = [
  {
    name: "QEMU -kernel (multiboot 1)",
    platform: "qemu",
    loader: /boot: multiboot1 from qemu/,
    virt: "AMD-V",
    slackMiB: 2,
  },
  {
    name: "QEMU SeaBIOS + GRUB ISO (multiboot 2)",
    platform: "qemu",
    useIso: true,
    loader: /boot: multiboot2 from GRUB/,
    virt: "AMD-V",
    slackMiB: 2,
  },
  // OVMF keeps several MiB for its runtime services and ACPI tables.
  {
    name: "QEMU OVMF (UEFI) + GRUB ISO",
    platform: "uefi",
    loader: /boot: multiboot2 from GRUB/,
    virt: "AMD-V",
    slackMiB: 24,
  },
  // The hybrid ISO written to a USB stick boots on BIOS and UEFI alike.
  {
    name: "QEMU SeaBIOS + USB stick",
    platform: "qemu",
    usb: true,
    loader: /boot: multiboot2 from GRUB/,
    virt: "AMD-V",
    slackMiB: 2,
  },
  {
    name: "QEMU OVMF (UEFI) + USB stick",
    platform: "uefi",
    usb: true,
    loader: /boot: multiboot2 from GRUB/,
    virt: "AMD-V",
    slackMiB: 24,
  },
  {
    name: "Bochs + GRUB ISO",
    platform: "bochs",
    loader: /boot: multiboot2 from GRUB/,
    virt: "Intel VT-x",
    slackMiB: 2,
  },
];

describe.each(cases)("$name", ({ platform, useIso, usb, loader, virt, slackMiB }) => {
  it.each([128, 512])("boots with %i MiB, reports its RAM and modules, and shuts down", async (memoryMiB) => {
    const modules = testModules();
    const { output, exit } = await bootAndWait({ platform, useIso, usb, memoryMiB, modules });
    expect(output).toContain(BANNER);
    expect(output).toMatch(loader);
    const usable = usableMiB(output);
    expect(usable).toBeLessThanOrEqual(memoryMiB);
    expect(usable).toBeGreaterThanOrEqual(memoryMiB - slackMiB);
    expect(output).toContain("modules: 2");
    expect(output).toMatch(/module 0: 0x[0-9a-f]+-0x[0-9a-f]+ \(3000 bytes\) '[^']*module-0 role=test0'/);
    expect(output).toMatch(/module 1: 0x[0-9a-f]+-0x[0-9a-f]+ \(70000 bytes\) '[^']*module-1 role=test1'/);
    expect(output).toContain(`hardware virtualization: ${virt}`);
    expect(output).toContain("typervisor: shutdown");
    expect(exit.killed).toBe(false);
    expect(exit.status).toBe(0);
  });
});
