// A running emulator with the hypervisor inside, as the tests see it.
//
// Machine wraps one emulator process: it collects the serial console as text,
// lets a test wait for patterns with a timeout, type on the console, and learn
// how the run ended. The emulator-specific parts (command lines, how the
// serial port is reached, how the exit status is read) live in qemu.ts and
// bochs.ts; both produce a Machine.

import { ChildProcess } from "node:child_process";
import { QemuMonitor } from "./monitor";
import type { BochsScreen } from "./rfb";

export interface Exit {
  // The status the hypervisor reported (its halt status), or null if it did not.
  status: number | null;
  // The emulator process's own exit code and signal.
  code: number | null;
  signal: NodeJS.Signals | null;
  // True when the harness killed the emulator (timeout or kill()).
  killed: boolean;
}

const STATUS_LINE = /typervisor: exit status 0x([0-9a-f]+)/;
// The first line of a Linux oops, BUG or panic report, as the console shows it.
const CRASH_REPORT = /^.*(?:BUG:|Oops|general protection fault|Kernel panic).*$/m;

export class Machine {
  private text = "";
  private waiters: Array<() => void> = [];
  private exitInfo: Exit | null = null;
  private killedByUs = false;
  readonly exited: Promise<Exit>;
  echo = false;
  // QEMU's monitor, when the machine was booted with BootOptions.monitor.
  monitor: QemuMonitor | null = null;
  // Bochs's screen, through its RFB display.
  bochsScreen: BochsScreen | null = null;

  constructor(
    readonly name: string,
    private readonly process: ChildProcess,
    // Types on the console; null when the emulator has no input for us (its
    // console is the terminal).
    private readonly writeInput: ((data: string) => void) | null,
    // Maps the emulator's exit code to the hypervisor's status when the
    // emulator encodes it (QEMU's isa-debug-exit); null otherwise.
    statusFromCode: (code: number | null) => number | null,
    private readonly cleanup: () => void = () => {},
  ) {
    this.exited = new Promise((resolve) => {
      process.on("exit", (code, signal) => {
        // Give the serial reader a moment to deliver the last bytes.
        setTimeout(() => {
          this.cleanup();
          const fromConsole = STATUS_LINE.exec(this.text);
          const status = statusFromCode(code) ?? (fromConsole ? parseInt(fromConsole[1], 16) : null);
          this.exitInfo = { status, code, signal, killed: this.killedByUs };
          this.wake();
          resolve(this.exitInfo);
        }, 200);
      });
    });
  }

  // Serial console output so far.
  get output(): string {
    return this.text;
  }

  // Called by the emulator backends with each piece of console output.
  feed(chunk: string): void {
    this.text += chunk;
    if (this.echo) process.stdout.write(chunk);
    this.wake();
  }

  // Types on the serial console.
  send(text: string): void {
    if (!this.writeInput) throw new Error(`${this.name}: the console takes no input from the harness`);
    this.writeInput(text);
  }

  // Resolves with the first match of `pattern` in the output (searching from
  // `from`), or rejects after `timeoutMs` or when the emulator exits first.
  async waitFor(pattern: RegExp | string, timeoutMs: number, from = 0): Promise<RegExpMatchArray> {
    const regex = typeof pattern === "string" ? new RegExp(escape(pattern)) : pattern;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = regex.exec(this.text.slice(from));
      if (match) return match;
      if (this.exitInfo) throw new Error(`${this.name}: exited before ${regex} appeared\n${this.tail()}`);
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${regex}\n${this.tail()}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  // Waits for the emulator to exit on its own, killing it after `timeoutMs`.
  async waitForExit(timeoutMs: number): Promise<Exit> {
    const timer = setTimeout(() => this.kill(), timeoutMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  kill(): void {
    if (this.exitInfo) return;
    this.killedByUs = true;
    this.process.kill("SIGKILL");
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  // The console's last lines, for a failure's message; a guest kernel's first
  // crash report comes whole before them, since CI keeps only what a failure
  // printed and the report's first lines say which fault it was.
  tail(): string {
    const last = `--- last console output ---\n${this.text.slice(-2000)}`;
    const crash = CRASH_REPORT.exec(this.text);
    if (!crash || crash.index >= this.text.length - 2000) return last;
    return `--- first crash report ---\n${this.text.slice(crash.index, crash.index + 6000)}\n${last}`;
  }
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
