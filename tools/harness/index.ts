// The test harness: boot the hypervisor in an emulator and talk to it.
// Used by the system tests (test/system) and by the CLI (tools/cli.ts).

import { bootBochs } from "./bochs";
import { Machine } from "./machine";
import { BootOptions } from "./options";
import { bootQemu } from "./qemu";

export { makeIso } from "./iso";
export { Machine, type Exit } from "./machine";
export { type BootOptions, type Module, type Platform } from "./options";

// Resolves once the emulator has started, with its console connected.
export async function boot(opts: BootOptions): Promise<Machine> {
  return opts.platform === "bochs" ? bootBochs(opts) : bootQemu(opts);
}
