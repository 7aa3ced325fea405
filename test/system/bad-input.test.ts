// System tests: bad input and failures give a clear message and a clean halt
// (an exit status from the hypervisor, never a reboot loop or a hang).
import { describe, expect, it } from "vitest";
import { guestModules } from "../../tools/harness/suite";
import { bootAndWait } from "./run";

const PANIC = 1;
const WASM_TRAP = 3;
const CPU_EXCEPTION = 4;

// A backtrace line names the function the address is in: "    at 0x<address> <function>+0x<offset>".
const FRAME = /^ {4}at 0x[0-9a-f]{16} (\S+)\+0x[0-9a-f]+\r?$/gm;

// The backtrace starts in `functions[0]` (the one that failed) and passes
// through the others in order, further down the stack; every frame is named.
function expectBacktrace(output: string, functions: string[]): void {
  const frames = [...output.matchAll(FRAME)].map((m) => m[1]);
  expect(output).not.toMatch(/^ {4}at 0x[0-9a-f]{16} \?/m);
  expect(frames[0]).toBe(functions[0]);
  let at = -1;
  for (const f of functions) {
    at = frames.indexOf(f, at + 1);
    expect(at, `${f} in the backtrace ${frames.join(", ")}`).toBeGreaterThanOrEqual(0);
  }
}

describe("failures stop the hypervisor cleanly with a reason", () => {
  it("refuses a CPU with neither VT-x nor AMD-V", async () => {
    const { output, exit } = await bootAndWait({ platform: "qemu", qemuCpu: "qemu64,-svm", memoryMiB: 128 });
    expect(output).toContain("typervisor panic: no hardware virtualization: this CPU has neither Intel VT-x nor AMD-V");
    expect(exit.status).toBe(PANIC);
  });

  it("refuses a machine with too little RAM", async () => {
    const { output, exit } = await bootAndWait({ platform: "qemu", memoryMiB: 32 });
    expect(output).toMatch(/typervisor panic: not enough memory: \d+ MiB usable RAM, Typervisor needs at least 48 MiB/);
    expect(exit.status).toBe(PANIC);
  });

  it("refuses a VM whose RAM would overlap the test device's MMIO window, and starts the others", async () => {
    const modules = [
      { path: "build/guests/spin.bin", args: "vm=big mem=4076" },
      { path: "build/guests/spin.bin", args: "vm=spin" },
    ];
    const { output, exit } = await bootAndWait({ platform: "qemu", memoryMiB: 128, modules });
    expect(output).toContain("vm big: mem=4076 MiB would overlap the MMIO window at 0xfeb00000; not started");
    expect(output).toContain("vm spin: exited with status 0");
    expect(exit.status).toBe(0);
  });

  it("reports a wasm out-of-bounds access caught by the guard region", async () => {
    const { output, exit } = await bootAndWait({ platform: "qemu", memoryMiB: 128, cmdline: "crash=oob" });
    expect(output).toMatch(/wasm trap: out-of-bounds memory access at linear address 0x[0-9a-f]+ \(rip 0x[0-9a-f]+\)/);
    expectBacktrace(output, ["kernel/boot/selftest/crash", "kernel/main/boot", "kmain"]); // the first is the rip
    expect(output).not.toContain("typervisor: shutdown");
    expect(exit.status).toBe(WASM_TRAP);
  });

  it("reports a wasm unreachable trap with a backtrace", async () => {
    const { output, exit } = await bootAndWait({ platform: "qemu", memoryMiB: 128, cmdline: "crash=unreachable" });
    expect(output).toContain("wasm trap: unreachable executed");
    expectBacktrace(output, ["kernel/boot/selftest/crash", "kernel/main/boot", "kmain"]);
    expect(exit.status).toBe(WASM_TRAP);
  });

  // Each CPU runs one of two guests; CPU 1 traps as its guest's first slice
  // ends: the report is the last thing anyone prints.
  it("stops every CPU when one of them traps, and reports which", async () => {
    const { output, exit } = await bootAndWait({
      platform: "qemu",
      memoryMiB: 256,
      cpus: 2,
      cmdline: "crash=unreachable@1",
      modules: guestModules(["long64", "protected32"]),
    });
    const text = output.replace(/\r/g, "");
    const trap = text.indexOf("*** cpu 1: wasm trap: unreachable executed");
    expect(trap).toBeGreaterThan(0);
    expect(text.slice(0, trap)).toMatch(/vm (long64|protected32): entered at tsc/); // the guests were running
    const after = text.slice(trap).split("\n").slice(1).filter((l) => l.length > 0);
    expect(after[0]).toMatch(/^ {2}frame 0x[0-9a-f]{16}$/);
    expect(after.length).toBeGreaterThan(2);
    // No VM said more: only the backtrace, every frame named, then the vCPU
    // CPU 1 was running and the exits it took last, oldest first.
    const witness = after.findIndex((l) => l.startsWith("*** cpu 1 was running"));
    expect(witness).toBeGreaterThan(1);
    for (const line of after.slice(1, witness)) expect(line).toMatch(/^ {4}at 0x[0-9a-f]{16} \S+\+0x[0-9a-f]+$/);
    expect(after[witness]).toMatch(
      /^\*\*\* cpu 1 was running vm (long64|protected32) vcpu 0; its last exits to the VMM, oldest first:$/,
    );
    const exits = after.slice(witness + 1, -1);
    expect(exits.length).toBeGreaterThan(0);
    expect(exits.length).toBeLessThanOrEqual(8);
    for (const line of exits) {
      expect(line).toMatch(/^ {4}[a-z-]+ \(code 0x[0-9a-f]+, qualification 0x[0-9a-f]+\) at rip 0x[0-9a-f]+, tsc \d+$/);
    }
    // CPU 1 is an application processor: its loop, called from the start-up trampoline.
    expectBacktrace(text, ["kernel/boot/selftest/crash", "vmm/sched/scheduler/cpuNext", "cpu_loop", "ap_main"]);
    expect(after[after.length - 1]).toMatch(/^typervisor: exit status 0x0+3$/);
    expect(exit.status).toBe(WASM_TRAP);
  });

  it("reports a failed AssemblyScript runtime check with its source location", async () => {
    const { output, exit } = await bootAndWait({ platform: "qemu", memoryMiB: 128, cmdline: "crash=abort" });
    expect(output).toMatch(/wasm trap: abort: Index out of range at ~lib\/array\.ts:\d+:\d+/);
    expectBacktrace(output, ["kernel/boot/selftest/crash", "kernel/main/boot", "kmain"]);
    expect(exit.status).toBe(WASM_TRAP);
  });

  it("reports a hypervisor stack overflow caught by the guard page", async () => {
    const { output, exit } = await bootAndWait({ platform: "qemu", memoryMiB: 128, cmdline: "crash=stack" });
    expect(output).toContain("*** hypervisor stack overflow");
    expect(output).toContain("CPU exception 08 (double fault)");
    expectBacktrace(output, ["kernel/boot/selftest/recurse", "kernel/boot/selftest/recurse"]);
    expect(exit.status).toBe(CPU_EXCEPTION);
  });
});
