// Log levels for the hypervisor's messages.
//
// Each line is "[level] text". The threshold comes from the command line
// option loglevel=debug|info|warn|error (default info). Messages are built by
// the caller (boot-time code may allocate strings); the VM-exit path and trap
// handlers use console.ts directly instead.

import { print, println } from "./console";

export enum Level {
  Debug = 0,
  Info = 1,
  Warn = 2,
  Error = 3,
}

let threshold: Level = Level.Info;

export function setLogLevel(name: string): bool {
  if (name == "debug") threshold = Level.Debug;
  else if (name == "info") threshold = Level.Info;
  else if (name == "warn") threshold = Level.Warn;
  else if (name == "error") threshold = Level.Error;
  else return false;
  return true;
}

export function enabled(level: Level): bool {
  return level >= threshold;
}

// Prints the "[level] " prefix if the level is enabled; the caller finishes the line.
export function begin(level: Level): bool {
  if (!enabled(level)) return false;
  print(
    level == Level.Debug
      ? "[debug] "
      : level == Level.Info
      ? "[info ] "
      : level == Level.Warn
      ? "[warn ] "
      : "[error] ",
  );
  return true;
}

function line(level: Level, text: string): void {
  if (begin(level)) println(text);
}

export function debug(text: string): void {
  line(Level.Debug, text);
}
export function info(text: string): void {
  line(Level.Info, text);
}
export function warn(text: string): void {
  line(Level.Warn, text);
}
export function error(text: string): void {
  line(Level.Error, text);
}

// "0x" followed by hex digits, for messages that may allocate.
export function hex(v: u64): string {
  return "0x" + v.toString(16);
}

// A byte count in the largest unit that keeps it whole-ish: "512 KiB", "1536 MiB".
export function size(bytes: u64): string {
  if (bytes >= (<u64>16 << 30)) return (bytes >> 30).toString() + " GiB";
  if (bytes >= (<u64>16 << 20)) return (bytes >> 20).toString() + " MiB";
  return (bytes >> 10).toString() + " KiB";
}
