// Test ISOs: the hypervisor image with a GRUB menu made for one test.
//
// The shipped ISO waits three seconds in its menu and passes no options. A
// test needs the hypervisor started at once with its own command line
// (exit=emulator, so the emulator stops when the hypervisor halts) and its
// own boot modules, so it gets an ISO of its own, cached by content.

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { BUILD, DEFAULT_ELF, Module } from "./options";

export function makeIso(cmdline: string, modules: Module[] = [], elf = DEFAULT_ELF, gfxpayload = ""): string {
  const files = modules.map((m, i) => ({ ...m, name: `module${i}-${basename(m.path)}` }));
  const config = [
    "set timeout=0",
    "insmod all_video",
    "serial --unit=0 --speed=115200",
    "terminal_output serial",
    "menuentry \"Typervisor (test)\" {",
    `  multiboot2 /boot/typervisor.elf ${cmdline}`,
    ...files.map((m) => `  module2 /boot/${m.name} ${m.args}`),
    // After multiboot2, which sets gfxpayload from the image's header; the mode is set at boot.
    ...(gfxpayload ? [`  set gfxpayload=${gfxpayload}`] : []),
    "  boot",
    "}",
  ].join("\n") + "\n";
  // Named by everything that goes in: the image, the menu and the modules.
  const hash = createHash("sha256").update(readFileSync(elf)).update(config);
  for (const m of files) hash.update(readFileSync(m.path));
  const id = hash.digest("hex").slice(0, 16);
  const iso = join(BUILD, "test", `typervisor-${id}.iso`);
  if (existsSync(iso)) return iso;

  const root = join(BUILD, "test", `iso-${id}`);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(join(root, "boot", "grub"), { recursive: true });
  copyFileSync(elf, join(root, "boot", "typervisor.elf"));
  for (const m of files) copyFileSync(m.path, join(root, "boot", m.name));
  writeFileSync(join(root, "boot", "grub", "grub.cfg"), config);
  execFileSync("grub-mkrescue", ["-o", `${iso}.tmp`, root], { stdio: "pipe" });
  execFileSync("mv", [`${iso}.tmp`, iso]);
  rmSync(root, { recursive: true, force: true });
  return iso;
}
