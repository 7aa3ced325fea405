// make bench's screen figures (tools/screenbench.ts) read from a console log
// shaped like the hypervisor's: the display line at boot, the costs line at
// shutdown.
import { describe, expect, it } from "vitest";
import { BootFailure } from "../../tools/linuxbench";
import { parseScreenCosts } from "../../tools/screenbench";

describe("screen bench", () => {
  it("reads the display and the screen's costs", () => {
    const log = [
      "[info ] screen: 1024x768x32 framebuffer at 0xfd000000, write-combining, 128x48 cells",
      "[info ] boot: multiboot2 from GRUB 2.06-13+deb12u2, command line 'exit=emulator'",
      "[info ] screen: 315 lines at 104 TSC ticks each, 8 redraws at 4544903 each",
      "typervisor: shutdown",
      "",
    ].join("\r\n");
    expect(parseScreenCosts(log)).toEqual({
      display: "1024x768x32 framebuffer at 0xfd000000, write-combining, 128x48 cells",
      lines: 315,
      ticksPerLine: 104,
      redraws: 8,
      ticksPerRedraw: 4544903,
    });
  });

  it("reads VGA text mode, and fails without the costs line", () => {
    const boot = "[info ] screen: VGA text mode, 80x25 cells\r\n";
    expect(() => parseScreenCosts(boot)).toThrow(BootFailure);
    const costs = parseScreenCosts(boot + "[info ] screen: 23 lines at 97 TSC ticks each, 1 redraws at 69060 each\r\n");
    expect(costs.display).toBe("VGA text mode, 80x25 cells");
    expect(costs.redraws).toBe(1);
  });
});
