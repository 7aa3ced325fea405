// System tests of the console on the PC's own screen (kernel/console/screen.ts):
// QEMU takes a screenshot through its monitor, and the harness reads the
// text back by matching the font's glyphs (tools/harness/screenshot.ts).
// Keys are pressed on its PS/2 keyboard through the monitor too. Bochs's
// screen is read from its RFB display (tools/harness/rfb.ts). The
// screenshots stay in build/test/screen/ as PNG files.
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { boot, BootOptions, Machine } from "../../tools/harness/index";
import { screenShowing as showing } from "../../tools/harness/screenshot";
import { guestModules } from "../../tools/harness/suite";

const OUT = "build/test/screen";
const screenShowing = (machine: Machine, name: string, expected: RegExp) => showing(machine, OUT, name, expected);
const BANNER = "Typervisor 0.1.0: a hypervisor in AssemblyScript, compiled to native code";

// Boots without exit=emulator, so that the machine stays up (halted) for the screenshot.
async function bootHalted(opts: BootOptions, until: RegExp): Promise<Machine> {
  const machine = await boot({ ...opts, monitor: true, memoryMiB: 256 });
  await machine.waitFor(until, 120_000);
  return machine;
}

const displays: Array<{ name: string; opts: BootOptions; display: RegExp }> = [
  { name: "vga-text", opts: { platform: "qemu" }, display: /screen: VGA text mode, 80x25 cells/ },
  {
    name: "seabios-vbe",
    opts: { platform: "qemu", useIso: true },
    display: /screen: 1024x768x32 framebuffer at 0x[0-9a-f]+, write-combining, 128x48 cells/,
  },
  ...(existsSync("/usr/share/OVMF/OVMF_CODE_4M.fd")
    ? [{ name: "ovmf-gop", opts: { platform: "uefi" as const }, display: /screen: \d+x\d+x32 framebuffer at/ }]
    : []),
];

describe.each(displays)("the screen: $name", ({ name, opts, display }) => {
  it("shows the banner and the memory summary", async () => {
    const machine = await bootHalted(opts, /typervisor: shutdown/);
    try {
      expect(machine.output).toMatch(display);
      const text = await screenShowing(machine, `${name}-boot`, /typervisor: shutdown/);
      expect(text).toContain(BANNER);
      expect(text).toMatch(/memory: \d+ MiB usable RAM, \d+ MiB free for guests/);
      expect(text).toMatch(/screen: \d+ lines at \d+ TSC ticks each/);
    } finally {
      machine.kill();
    }
  });

  it("shows a VM's output with its name, and the VMs on the status line", async () => {
    const machine = await bootHalted({ ...opts, modules: guestModules(["long64"]) }, /typervisor: shutdown/);
    try {
      const text = await screenShowing(machine, `${name}-vm`, /typervisor: shutdown/);
      expect(text).toContain("[long64] guest: all checks passed");
      expect(text).toContain("vm long64: exited with status 0");
      expect(text.trimEnd().split("\n").at(-1)).toMatch(/^ Typervisor \| 0 long64\*? \w+ \d+%/);
    } finally {
      machine.kill();
    }
  });
});

// Bochs (VT-x) draws its VGA on its RFB display, where the harness reads it
// (tools/harness/rfb.ts). Its VGA BIOS offers no VBE modes, and GRUB would
// fall back to 640x480 in 16 colours, which the hypervisor cannot draw on
// (it says so): the test ISO keeps the VGA's text mode (gfxpayload=text).
describe("the screen under Bochs: VGA text mode", () => {
  it("shows a VM's output with its name, and the VMs on the status line", async () => {
    const opts: BootOptions = { platform: "bochs", gfxpayload: "text", modules: guestModules(["long64"]) };
    const machine = await bootHalted(opts, /typervisor: shutdown/);
    try {
      expect(machine.output).toMatch(/screen: VGA text mode, 80x25 cells/);
      const text = await screenShowing(machine, "bochs-vga-text", /typervisor: shutdown/);
      expect(text).toContain("[long64] guest: all checks passed");
      expect(text).toContain("vm long64: exited with status 0");
      expect(text.trimEnd().split("\n").at(-1)).toMatch(/^ Typervisor \| 0 long64\*? \w+ \d+%/);
    } finally {
      machine.kill();
    }
  });
});

describe("the screen after a failure", () => {
  it("says the hypervisor stopped, with the reason and the backtrace", async () => {
    const machine = await bootHalted({ platform: "qemu", useIso: true, cmdline: "crash=abort" }, /\*\*\* wasm trap/);
    try {
      const text = await screenShowing(machine, "panic", /kmain\+0x/);
      expect(text).toContain("TYPERVISOR HAS STOPPED");
      expect(text).toMatch(/\*\*\* wasm trap: abort: /);
      expect(text).toMatch(/^ {4}at 0x[0-9a-f]{16} \S+\+0x[0-9a-f]+$/m);
    } finally {
      machine.kill();
    }
  });
});

describe("the PC's keyboard", () => {
  it("reaches the console: Ctrl-T then s prints every vCPU's status", async () => {
    // Three guests that compute for about 1.5 s each, sharing one CPU: time to type.
    const modules = ["a", "b", "c"].map((n) => ({ path: "build/guests/spin.bin", args: `vm=spin-${n}` }));
    const machine = await bootHalted({ platform: "qemu", modules }, /vm spin-a: entered/);
    try {
      await machine.monitor!.sendKey("ctrl-t");
      await machine.monitor!.sendKey("s");
      await machine.waitFor(/status: vm spin-c vcpu 0 \w+ cpu 0 time/, 30_000);
      const text = await screenShowing(machine, "keyboard", /status: vm spin-c vcpu 0/);
      expect(text).toMatch(/status: vm spin-a vcpu 0 \w+ cpu 0 time \d+ ns/);
    } finally {
      machine.kill();
    }
  });
});
