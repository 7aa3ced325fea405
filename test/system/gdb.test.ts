// System test: Debian's gdb attached to a running VM through the GDB stub
// (vmm/debug, docs/debugging.md), under QEMU's AMD-V and Bochs' VT-x. The
// hypervisor's COM2 is a TCP socket of 127.0.0.1 (QEMU listens on it; Bochs
// connects to the test, which passes the bytes on to gdb). The guest
// (test/guests/gdbtarget.c) waits for the debugger to release it. gdb, in
// batch mode, reads registers and memory, writes the release flag, breaks
// at gdb_tick(), continues to the breakpoint, steps one instruction,
// continues to gdb_done() past the guest's own INT3, and detaches; the VM
// then finishes its checks and exits with status 0.
import { execFile, execFileSync } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, writeFileSync } from "node:fs";
import { AddressInfo, createServer, Server, Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { boot, Platform } from "../../tools/harness/index";

const GUEST = "build/guests/gdbtarget.bin";

// The address of `symbol` in the guest's ELF.
function addressOf(symbol: string): bigint {
  const nm = execFileSync("llvm-nm", [`${GUEST}.elf`], { encoding: "utf8" });
  const match = new RegExp(`^([0-9a-f]+) [A-Za-z] ${symbol}$`, "m").exec(nm);
  if (!match) throw new Error(`no ${symbol} in ${GUEST}.elf`);
  return BigInt(`0x${match[1]}`);
}

async function listen(server: Server): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

// A TCP port of 127.0.0.1 that nobody listens on now.
async function freePort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// Bochs' COM2 connects to one port and gdb to another; bytes go across.
async function relay(): Promise<{ emulator: number; gdb: number; close: () => void }> {
  const sockets: Socket[] = [];
  const emulatorSide = createServer(), gdbSide = createServer();
  let emulator: Socket | null = null;
  emulatorSide.on("connection", (socket) => {
    sockets.push(socket);
    socket.on("error", () => {});
    emulator = socket;
  });
  gdbSide.on("connection", (socket) => {
    sockets.push(socket);
    socket.on("error", () => {});
    emulator?.on("data", (d) => socket.write(d));
    socket.on("data", (d) => emulator?.write(d));
  });
  const ports = { emulator: await listen(emulatorSide), gdb: await listen(gdbSide) };
  return {
    ...ports,
    close: () => {
      sockets.forEach((s) => s.destroy());
      emulatorSide.close();
      gdbSide.close();
    },
  };
}

const hex = (v: bigint) => `0x${v.toString(16)}`;

// gdb in batch mode with these commands; what it printed.
async function runGdb(commands: string[]): Promise<string> {
  mkdirSync("build/test", { recursive: true });
  const script = `build/test/gdb-commands-${process.pid}.txt`;
  writeFileSync(script, commands.join("\n") + "\n");
  // Asynchronously: the harness reads the console meanwhile.
  return new Promise<string>((resolve) => {
    execFile("gdb", ["-nx", "-batch", "-x", script], { timeout: 180_000 }, (_, stdout, stderr) => {
      resolve(`${stdout}\n${stderr}`);
    });
  });
}

const BACKENDS: [string, Platform, number][] = [["AMD-V (QEMU)", "qemu", 60_000], ["VT-x (Bochs)", "bochs", 300_000]];

describe.each(BACKENDS)("the GDB stub under %s", (_, platform, bootMs) => {
  it("reads registers and memory, breaks, steps and detaches; the VM finishes", async () => {
    const tick = addressOf("gdb_tick"), done = addressOf("gdb_done"), released = addressOf("released");
    const bochsRelay = platform === "bochs" ? await relay() : null;
    const port = bochsRelay ? bochsRelay.gdb : await freePort();
    const machine = await boot({
      platform,
      cmdline: "exit=emulator gdb=target",
      modules: [{ path: GUEST, args: "vm=target mem=4" }],
      extraArgs: bochsRelay
        ? [`com2: enabled=1, mode=socket-client, dev=127.0.0.1:${bochsRelay.emulator}`]
        : ["-serial", `tcp:127.0.0.1:${port},server=on,wait=off`],
    });
    try {
      await machine.waitFor("gdbtarget: waiting for the debugger", bootMs);
      const said = await runGdb([
        "set pagination off",
        "set confirm off",
        "set remotetimeout 30",
        `target remote 127.0.0.1:${port}`,
        "info threads",
        "printf \"RIP %#lx\\n\", $rip",
        `printf "TICK %#x\\n", *(unsigned char *)${hex(tick)}`,
        `printf "RELEASED %d\\n", *(unsigned long long *)${hex(released)}`,
        `set var *(unsigned long long *)${hex(released)} = 1`,
        `break *${hex(tick)}`,
        "continue",
        "printf \"HIT %#lx\\n\", $rip",
        "stepi",
        "printf \"STEPPED %#lx\\n\", $rip",
        "delete",
        `break *${hex(done)}`,
        "continue",
        "printf \"DONE %#lx\\n\", $rip",
        "delete",
        "detach",
      ]);
      // The first instruction byte of gdb_tick, as the ELF has it.
      const objdump = execFileSync("llvm-objdump", ["-d", `${GUEST}.elf`, `--start-address=${hex(tick)}`], {
        encoding: "utf8",
      });
      const firstByte = Number.parseInt(/^\s+[0-9a-f]+:\s+([0-9a-f]{2})/m.exec(objdump)![1], 16);
      expect(said).toMatch(/\* 1 +Thread 1 /);
      expect(said).toMatch(/RIP 0x[0-9a-f]+/);
      expect(said).toContain(`TICK 0x${firstByte.toString(16)}`);
      expect(said).toContain("RELEASED 0");
      expect(said).toContain(`HIT ${hex(tick)}`);
      const stepped = /STEPPED (0x[0-9a-f]+)/.exec(said);
      expect(stepped, said).not.toBeNull();
      expect(BigInt(stepped![1]) > tick && BigInt(stepped![1]) < tick + 16n, said).toBe(true);
      expect(said).toContain(`DONE ${hex(done)}`);
      expect(said).toContain("[Inferior 1 (Remote target) detached]");
      const exit = await machine.waitForExit(bootMs);
      const output = machine.output.replace(/\r/g, "");
      expect(output).toContain("PASS gdb: the ticks ran after the breakpoint");
      expect(output).toContain("PASS gdb: the guest's own INT3 reached its handler");
      expect(output).toContain("vm target: exited with status 0");
      expect(exit.status, output).toBe(0);
    } finally {
      machine.kill();
      bochsRelay?.close();
    }
  }, 600_000);
});
