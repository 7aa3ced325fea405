// How the VMM names boot modules, and which one holds the VM configuration.
//
// Boot loaders hand each module over with a command line, but not the same
// one: QEMU's -kernel (multiboot 1) passes the whole -initrd entry, the file's
// path and then its arguments ("build/guests/mbtest.elf mbtest.elf"), while
// GRUB's module2 passes only the arguments after the path. So a module is
// known by the file name (the last path component) of its first word and,
// when that first word is a path (it has a '/'), also by its second word: a
// module given as `path NAME ...` is found as NAME under either loader, and
// under QEMU by its file name too. The configuration (config/config.ts) is
// the module with the word CONFIG_MARKER among its words: `vms.json config`.

import { BootModule } from "../../kernel/boot/bootinfo";

export const CONFIG_MARKER = "config";

function words(cmdline: string): string[] {
  const out: string[] = [];
  const parts = cmdline.split(" ");
  for (let i = 0; i < parts.length; i++) if (parts[i].length > 0) out.push(parts[i]);
  return out;
}

function fileName(word: string): string {
  const slash = word.lastIndexOf("/");
  return slash < 0 ? word : word.substring(slash + 1);
}

// The names a module with this command line answers to (none if it is empty).
export function moduleNames(cmdline: string): string[] {
  const w = words(cmdline);
  const names: string[] = [];
  if (w.length == 0) return names;
  const first = fileName(w[0]);
  if (first.length > 0) names.push(first);
  if (w[0].includes("/") && w.length > 1) {
    const second = fileName(w[1]);
    if (second.length > 0 && !names.includes(second)) names.push(second);
  }
  return names;
}

export function isConfigModule(cmdline: string): bool {
  return words(cmdline).includes(CONFIG_MARKER);
}

// Every name of every module, for the configuration's checks.
export function allModuleNames(modules: BootModule[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < modules.length; i++) {
    const names = moduleNames(modules[i].cmdline);
    for (let j = 0; j < names.length; j++) out.push(names[j]);
  }
  return out;
}

// The first module called `name`, or null.
export function findModule(modules: BootModule[], name: string): BootModule | null {
  for (let i = 0; i < modules.length; i++) {
    if (moduleNames(modules[i].cmdline).includes(name)) return modules[i];
  }
  return null;
}
