// Unit-test entry: the boot information parsers and the command line.
// The last parse result stays in a global; the accessors below read it out
// field by field with plain numbers and strings.

import { BootInfo } from "../../../kernel/boot/bootinfo";
import { parseMultiboot1 } from "../../../kernel/boot/multiboot1";
import { parseMultiboot2 } from "../../../kernel/boot/multiboot2";
import { CommandLine } from "../../../kernel/boot/cmdline";

let boot: BootInfo = new BootInfo();

export function mb1(info: u64): void {
  boot = parseMultiboot1(info);
}
export function mb2(info: u64): void {
  boot = parseMultiboot2(info);
}

export function bootError(): string | null {
  return boot.error;
}
export function bootProtocol(): string {
  return boot.protocol;
}
export function bootCmdline(): string {
  return boot.cmdline;
}
export function bootLoaderName(): string {
  return boot.loaderName;
}
export function bootRsdp(): u64 {
  return boot.rsdp;
}
export function bootInfoStart(): u64 {
  return boot.infoStart;
}
export function bootInfoEnd(): u64 {
  return boot.infoEnd;
}

export function regionCount(): i32 {
  return boot.memory.length;
}
export function regionBase(i: i32): u64 {
  return boot.memory[i].base;
}
export function regionLength(i: i32): u64 {
  return boot.memory[i].length;
}
export function regionType(i: i32): u32 {
  return boot.memory[i].type;
}

export function moduleCount(): i32 {
  return boot.modules.length;
}
export function moduleStart(i: i32): u64 {
  return boot.modules[i].start;
}
export function moduleEnd(i: i32): u64 {
  return boot.modules[i].end;
}
export function moduleCmdline(i: i32): string {
  return boot.modules[i].cmdline;
}

let cmdline: CommandLine = new CommandLine("");

export function cmdlineParse(text: string): void {
  cmdline = new CommandLine(text);
}
export function cmdlineHas(key: string): bool {
  return cmdline.has(key);
}
export function cmdlineGet(key: string, fallback: string): string {
  return cmdline.get(key, fallback);
}
export function cmdlineGetDefault(key: string): string {
  return cmdline.get(key);
}
export function cmdlineHiding(key: string): string {
  return cmdline.hiding(key);
}
