// System tests of the USB stick image (make usb-image, tools/stick.ts): QEMU
// boots it as a USB mass-storage device on an xHCI controller, under SeaBIOS
// and under OVMF, as a PC boots a stick `make usb` wrote. GRUB loads the VMs
// from the stick's FAT partition, and the hypervisor starts make run's two
// Debian VMs. Someone at the PC types a command on its keyboard, and the
// focused VM's answer shows on the screen. Then the configuration is edited
// on a copy of the image with mtools, as a user would on any OS, and the
// change takes effect at the next boot, its mistake reported on the screen.
// Skipped when the guest kernel cannot be had (no package lists, no network).
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { boot, Machine, Platform } from "../../tools/harness/index";
import { screenShowing } from "../../tools/harness/screenshot";
import { defaultStick, makeStick, writeStickFile } from "../../tools/stick";
import { linuxGuests } from "./run";

const OUT = "build/test/stick";
const STICK = `${OUT}/stick.img`;
const manifest = linuxGuests("stick");

// The shell's greeting, the last full line before its prompt.
const shellOf = (vm: string) => new RegExp(`\\[${vm}\\] Enter 'help' for a list of built-in commands\\.`);

// Boots `image` as a USB stick on the PC make run emulates.
function bootStick(platform: Platform, image: string): Promise<Machine> {
  return boot({ platform, usb: true, iso: image, memoryMiB: 1024, cpus: 2, monitor: true });
}

const firmwares: Array<{ name: string; platform: Platform }> = [
  { name: "SeaBIOS", platform: "qemu" },
  ...(existsSync("/usr/share/OVMF/OVMF_CODE_4M.fd") ? [{ name: "OVMF", platform: "uefi" as const }] : []),
];

describe.skipIf(!manifest)("the USB stick", () => {
  beforeAll(() => {
    mkdirSync(OUT, { recursive: true });
    makeStick(defaultStick(), STICK);
  });

  it.each(firmwares)("boots under $name into make run's Debian VMs, and answers the PC's keyboard", async ({
    name,
    platform,
  }) => {
    const machine = await bootStick(platform, STICK);
    try {
      await machine.waitFor(shellOf("debian"), 400_000);
      await machine.waitFor(shellOf("debian-2"), 400_000);
      expect(machine.output).toMatch(/module \d+: .* \(\d+ bytes\) 'vms\.json config'/);
      expect(machine.output).toMatch(/vm debian: 256 MiB at host .* pvh kernel/);
      expect(machine.output).toMatch(/vm debian-2: 192 MiB at host .* pvh kernel/);
      // Typed on the PS/2 keyboard: the console's focus is vm debian.
      const from = machine.output.length;
      await machine.monitor!.type("seq 41 43\n");
      await machine.waitFor(/\[debian\] 41\r?\n\[debian\] 42\r?\n\[debian\] 43\r?\n/, 60_000, from);
      const text = await screenShowing(machine, OUT, `${name.toLowerCase()}-shell`, /\[debian\] 43/);
      expect(text).toMatch(/^\[debian\] 42 *$/m);
    } finally {
      machine.kill();
    }
  });

  describe("edited with mtools", () => {
    const edited = `${OUT}/edited.img`;
    beforeAll(() => {
      copyFileSync(STICK, edited);
      const vms = [
        { name: "edited", memory: 160, kernel: "vmlinux", initrd: "initramfs", cmdline: "console=ttyS0 quiet" },
        { name: "broken", memory: 128, kernel: "bzImage", initrd: "initramfs" },
      ];
      writeStickFile(edited, "vms.json", JSON.stringify({ vms }, null, 2) + "\n");
    });

    it("boots the VMs of the new configuration, and shows its mistake on the screen", async () => {
      const machine = await bootStick("qemu", edited);
      try {
        await machine.waitFor(shellOf("edited"), 400_000);
        expect(machine.output).toMatch(/vm edited: 160 MiB at host/);
        expect(machine.output).not.toMatch(/vm debian/);
        const problem = /config: vm 1 \(broken\): kernel: no boot module named "bzImage"/;
        expect(machine.output).toMatch(problem);
        const text = await screenShowing(machine, OUT, "edited", problem);
        expect(text).toMatch(problem);
      } finally {
        machine.kill();
      }
    });
  });
});
