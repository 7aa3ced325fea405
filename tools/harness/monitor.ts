// QEMU's human monitor on a Unix socket, for what the tests do to the
// machine from outside: take a screenshot (screendump, a PPM file), save
// guest-physical memory (pmemsave) and press keys on its PS/2 keyboard
// (sendkey). qemuArgs() opens the socket when
// BootOptions.monitor is set.

import { existsSync, rmSync, statSync } from "node:fs";
import { createConnection, Socket } from "node:net";

const PROMPT = "(qemu) ";
// QEMU's key names (qcodes) for the characters type() knows besides letters and digits.
const KEY_NAMES: Record<string, string> = {
  " ": "spc",
  "\n": "ret",
  "-": "minus",
  "=": "equal",
  ".": "dot",
  ",": "comma",
  "/": "slash",
  ";": "semicolon",
};

export class QemuMonitor {
  private socket: Socket | null = null;
  private text = "";
  private waiters: Array<() => void> = [];

  constructor(readonly path: string) {}

  // Runs `command` and resolves with what the monitor printed before its next prompt.
  async command(command: string, timeoutMs = 10_000): Promise<string> {
    const socket = await this.connect(timeoutMs);
    await this.prompt(timeoutMs);
    this.text = "";
    socket.write(`${command}\n`);
    await this.prompt(timeoutMs);
    return this.text.slice(0, -PROMPT.length);
  }

  // Writes the screen as a PPM file. The machine is paused meanwhile: QEMU
  // 7.2 renders only the display memory marked dirty since the last
  // screendump, and a CPU that writes while it clears those marks can leave
  // rows stale in every later screenshot.
  async screendump(file: string): Promise<void> {
    await this.command("stop");
    await this.command(`screendump ${file}`);
    await this.command("cont");
  }

  // Writes `bytes` of guest-physical memory from `address` to `file`, the
  // machine paused meanwhile: a framebuffer as the CPU wrote it, whatever
  // QEMU's display last rendered of it.
  async physicalMemory(address: bigint, bytes: number, file: string): Promise<void> {
    await this.command("stop");
    rmSync(file, { force: true });
    const reply = await this.command(`pmemsave 0x${address.toString(16)} ${bytes} "${file}"`);
    if (!existsSync(file) || statSync(file).size !== bytes) {
      throw new Error(`pmemsave: ${reply.trim().split("\n").at(-1)}`);
    }
    await this.command("cont");
  }

  // Presses keys: QEMU's names joined by "-" press them together ("ctrl-t", "shift-a", "ret").
  async sendKey(keys: string): Promise<void> {
    await this.command(`sendkey ${keys}`);
  }

  // Types `text` key by key on a US keyboard: lower-case letters, digits,
  // space, newline and the unshifted punctuation below.
  async type(text: string): Promise<void> {
    for (const ch of text) {
      const key = /[a-z0-9]/.test(ch) ? ch : KEY_NAMES[ch];
      if (key === undefined) throw new Error(`type: no key for ${JSON.stringify(ch)}`);
      await this.sendKey(key);
    }
  }

  close(): void {
    this.socket?.destroy();
  }

  // QEMU creates the socket as it starts: retry until it is there.
  private async connect(timeoutMs: number): Promise<Socket> {
    if (this.socket !== null) return this.socket;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = createConnection(this.path, () => resolve(s));
          s.once("error", reject);
        });
        socket.setEncoding("latin1");
        socket.on("data", (chunk: string) => {
          this.text += chunk;
          const waiters = this.waiters;
          this.waiters = [];
          for (const w of waiters) w();
        });
        this.socket = socket;
        return socket;
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`QEMU monitor ${this.path}: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  private async prompt(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.text.endsWith(PROMPT)) {
      if (Date.now() > deadline) throw new Error(`QEMU monitor: no prompt; it said ${JSON.stringify(this.text)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}
