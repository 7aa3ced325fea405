// make bench, the screen part: what the PC's screen costs while Linux's boot
// log scrolls on it. The Linux bench's VM (linuxbench.ts: the same kernel,
// command line, CPU model and instruction-counting clock) boots from the ISO
// under SeaBIOS, so GRUB leaves a 1024x768x32 framebuffer, the dearest
// display to draw. When it shuts down the hypervisor reports the screen's
// work (kernel/console/screen.ts, screenCosts()): the lines it took, at how
// many TSC ticks each, and the redraws, at how many each. Their product over
// the VM's run from its first entry to /init is the share of the machine the
// screen took while the log scrolled (docs/console.md).

import { BootFailure, parseVm, vmBootOptions } from "./linuxbench";
import { boot } from "./harness/index";

const BOOT_TIMEOUT_MS = 900_000;

export interface ScreenCosts {
  display: string;
  lines: number;
  ticksPerLine: number;
  redraws: number;
  ticksPerRedraw: number;
}

export interface ScreenBench extends ScreenCosts {
  unit: string;
  // The screen's ticks in all, and the VM's from its first entry to /init.
  screenTicks: number;
  vmEntryToInit: number;
  // The first over the second: what the screen took from the VM's boot.
  share: number;
}

// The display line and the costs line of a hypervisor's console.
export function parseScreenCosts(output: string): ScreenCosts {
  const display = /screen: ([^\r\n]*framebuffer[^\r\n]*|VGA text mode[^\r\n]*)\r?\n/.exec(output);
  const costs = /screen: (\d+) lines at (\d+) TSC ticks each, (\d+) redraws at (\d+) each/.exec(output);
  if (!display || !costs) throw new BootFailure("screen: no display or no costs line on the console");
  return {
    display: display[1],
    lines: Number(costs[1]),
    ticksPerLine: Number(costs[2]),
    redraws: Number(costs[3]),
    ticksPerRedraw: Number(costs[4]),
  };
}

export async function measureScreen(): Promise<ScreenBench> {
  const machine = await boot({ ...vmBootOptions(), useIso: true });
  await machine.waitForExit(BOOT_TIMEOUT_MS);
  const costs = parseScreenCosts(machine.output);
  const vm = parseVm(machine.output);
  const screenTicks = costs.lines * costs.ticksPerLine + costs.redraws * costs.ticksPerRedraw;
  return {
    unit: "TSC ticks (virtual ns, one per instruction)",
    ...costs,
    screenTicks,
    vmEntryToInit: vm.entryToInit,
    share: Math.round(screenTicks / vm.entryToInit * 10_000) / 10_000,
  };
}

export function summary(b: ScreenBench): string {
  return `Screen          ${b.display}: ${b.lines} lines at ${b.ticksPerLine}, ${b.redraws} redraws at `
    + `${b.ticksPerRedraw}: ${(b.share * 100).toFixed(2)} % of the VM's boot to /init`;
}
