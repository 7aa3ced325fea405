// Hypercalls (vmm/emul/hypercall.ts, docs/hypercalls.md) as a guest makes
// them: a VMCALL/VMMCALL exit through handleExit() on a VM of fake vCPUs
// (as/exits.ts) with 1 MiB of guest RAM at guest-physical 0. RAX is the
// function and the result, RBX and RCX the arguments: console_write, exit,
// yield, the errors, and 32-bit guests, of whose registers only the low
// halves count.
import { beforeEach, describe, expect, it } from "vitest";
import { enums, type ExitsExports, RAX, RBX, RCX, RDX } from "./exitsentry";
import { CpuidHost } from "./fakehost";
import { load, type Exports, type Unit } from "./harness";

const CONSOLE_WRITE = 1n, EXIT = 2n, YIELD = 3n;
const HC_UNKNOWN = 0xffff_ffff_ffff_ffffn, HC_BAD_ARGUMENT = 0xffff_ffff_ffff_fffen; // -1, -2
const RAM_SIZE = 1n << 20n;
const VMCALL_LENGTH = 3;

let unit: Unit<ExitsExports>;
let e: Exports<ExitsExports>;
let K: ReturnType<typeof enums>;
// The host UART's line status: 0x60, transmitter empty; 0, still sending.
const COM1_LSR = 0x3fd;
let lineStatus = 0x60;

beforeEach(async () => {
  const host = new CpuidHost("GenuineIntel", 0xd, 0x8000_0008);
  lineStatus = 0x60;
  const inb = (port: number) => (port === COM1_LSR ? lineStatus : 0xff);
  unit = await load<ExitsExports>("exits.ts", { shim: { cpuid: host.stub(() => unit.exports.memory), inb } });
  e = unit.exports;
  K = enums(e);
  e.reset(1);
});

const text = (gpa: bigint, s: string) => unit.machine.phys.writeString(e.guestRamHost() + gpa, s, false);
// The guest's VMCALL with these registers; returns handleExit's Next.
function call(fn: bigint, rbx = 0n, rcx = 0n, rdx = 0n): number {
  e.setReg(0, RAX, fn);
  e.setReg(0, RBX, rbx);
  e.setReg(0, RCX, rcx);
  e.setReg(0, RDX, rdx);
  return e.simpleExit(0, K.Exit.Hypercall, VMCALL_LENGTH, 0n, 0n);
}
const rax = () => e.reg(0, RAX);
const reason = () => e.__getString(e.stopReason() >>> 0);
// Guest console lines as the hypervisor prints them.
const guestLines = () => unit.machine.serial().split("\n").filter((l) => l.startsWith("[unit] "));

describe("console_write", () => {
  it("prints the buffer, line by line with the VM's name, returns the length and skips the VMCALL", () => {
    text(0x1000n, "hello\r\nworld\n");
    expect(call(CONSOLE_WRITE, 0x1000n, 13n)).toBe(K.Next.Resume);
    expect(rax()).toBe(13n);
    expect(guestLines()).toEqual(["[unit] hello", "[unit] world"]);
    expect(e.skips(0)).toBe(1);
    expect(e.rip(0)).toBe(BigInt(VMCALL_LENGTH));
  });

  it("shows control characters in caret notation, so the guest cannot drive the operator's terminal", () => {
    const hostile = "\x1b[2J\x1b]0;owned\x07\bx\ty\x7f\n";
    text(0x1000n, hostile);
    call(CONSOLE_WRITE, 0x1000n, BigInt(hostile.length));
    expect(guestLines()).toEqual(["[unit] ^[[2J^[]0;owned^G^Hx\ty^?"]);
    expect(unit.machine.serial()).not.toContain("\x1b");
  });

  it("holds a line until its newline, and flushes it when the VM stops", () => {
    text(0x2000n, "abc");
    call(CONSOLE_WRITE, 0x2000n, 3n);
    expect(guestLines()).toEqual([]);
    text(0x2000n, "def\nghi");
    call(CONSOLE_WRITE, 0x2000n, 7n);
    expect(guestLines()).toEqual(["[unit] abcdef"]);
    call(EXIT, 0n);
    expect(guestLines()).toEqual(["[unit] abcdef", "[unit] ghi"]);
  });

  it("takes up to 4096 bytes, ending at the last byte of RAM", () => {
    unit.machine.phys.fill(e.guestRamHost() + RAM_SIZE - 4096n, 4096, 0x41);
    expect(call(CONSOLE_WRITE, RAM_SIZE - 4096n, 4096n)).toBe(K.Next.Resume);
    expect(rax()).toBe(4096n);
    expect(call(CONSOLE_WRITE, 0n, 0n)).toBe(K.Next.Resume); // nothing, from anywhere in RAM
    expect(rax()).toBe(0n);
  });

  // A guest writing as fast as it can must not hold the hypervisor while
  // the serial line sends (87 us a byte at 115200 baud): it waits instead.
  it("makes the VM wait while the serial line is busy: four lines wait behind the queued one, then none", () => {
    const line = (i: number) => `line ${String(i).padStart(2, "0")} `.padEnd(63, ".") + "\n";
    const lines = Array.from({ length: 64 }, (_, i) => line(i));
    text(0x1000n, lines.join(""));
    lineStatus = 0;
    call(CONSOLE_WRITE, 0x1000n, 4096n);
    expect(rax()).toBe(1088n); // one line queued for the UART, and the VM's queue of four lines
    expect(unit.machine.serial()).toBe("");
    call(CONSOLE_WRITE, 0x1000n + 1088n, 3008n);
    expect(rax()).toBe(0n);
    expect(e.running()).toBe(1);
    lineStatus = 0x60; // the UART caught up
    let written = 1088n;
    while (written < 4096n) {
      call(CONSOLE_WRITE, 0x1000n + written, 4096n - written);
      written += rax();
    }
    call(EXIT, 0n);
    expect(guestLines()).toEqual(lines.map((l) => "[unit] " + l.slice(0, -1)));
    expect(unit.machine.serial()).not.toContain("dropped");
  });

  it("refuses a buffer longer than 4096 bytes, or not entirely in RAM, with -2 (HC_BAD_ARGUMENT)", () => {
    const bad: Array<[bigint, bigint]> = [
      [0n, 4097n],
      [RAM_SIZE - 4n, 5n], // runs past the end of RAM
      [RAM_SIZE, 1n],
      [0xffff_ffff_ffff_fff0n, 0x20n], // wraps around
      [0x10n, 0xffff_ffff_ffff_fff0n],
    ];
    for (const [buffer, length] of bad) {
      expect(call(CONSOLE_WRITE, buffer, length)).toBe(K.Next.Resume);
      expect(rax(), `buffer ${buffer.toString(16)} length ${length.toString(16)}`).toBe(HC_BAD_ARGUMENT);
    }
    expect(e.skips(0)).toBe(bad.length);
    expect(guestLines()).toEqual([]);
    expect(e.running()).toBe(1);
  });
});

describe("exit", () => {
  it("stops the VM with the status, without skipping the VMCALL", () => {
    expect(call(EXIT, 42n)).toBe(K.Next.Stopped);
    expect(e.running()).toBe(0);
    expect(e.exitStatus()).toBe(42n);
    expect(reason()).toBe("exited with status 42");
    expect(unit.machine.serial()).toContain("vm unit: exited with status 42\n");
    expect(e.skips(0)).toBe(0);
  });

  it("reports a negative status as the guest's signed RBX", () => {
    call(EXIT, 0xffff_ffff_ffff_fffdn);
    expect(reason()).toBe("exited with status -3");
  });
});

describe("yield and unknown functions", () => {
  it("yield returns 0 and gives the CPU away", () => {
    e.setReg(0, RAX, 0x1234n);
    expect(call(YIELD)).toBe(K.Next.Yield);
    expect(rax()).toBe(0n);
    expect(e.skips(0)).toBe(1);
  });

  it("an unknown function returns -1 (HC_UNKNOWN) and the guest goes on", () => {
    for (const fn of [0n, 4n, 0x100n, 1n << 32n | CONSOLE_WRITE]) {
      expect(call(fn, 0x1000n, 1n)).toBe(K.Next.Resume);
      expect(rax(), `function ${fn.toString(16)}`).toBe(HC_UNKNOWN);
    }
    expect(e.skips(0)).toBe(4);
    expect(e.running()).toBe(1);
  });
});

describe("from user mode", () => {
  it("is refused with #UD for every function, as VMCALL/VMMCALL is outside a VM", () => {
    for (const cpl of [3, 1]) {
      e.setCpl(0, cpl);
      text(0x1000n, "user\n");
      for (const fn of [CONSOLE_WRITE, EXIT, YIELD]) {
        e.setReg(0, RAX, fn);
        expect(call(fn, 0x1000n, 5n)).toBe(K.Next.Resume);
        expect(e.__getString(e.exception(0) >>> 0)).toBe("6");
        expect(rax()).toBe(fn);
      }
    }
    expect(e.exceptions(0)).toBe(6);
    expect(e.skips(0)).toBe(0);
    expect(guestLines()).toEqual([]);
    expect(e.running()).toBe(1);
  });
});

describe("in 32-bit mode", () => {
  beforeEach(() => e.setBits(0, 32));

  it("only the low 32 bits of the function and the arguments count", () => {
    text(0x3000n, "x\n");
    expect(call(0xdead_beef_0000_0000n | CONSOLE_WRITE, 0xffff_ffff_0000_3000n, 0x1_0000_0002n)).toBe(K.Next.Resume);
    expect(rax()).toBe(2n);
    expect(guestLines()).toEqual(["[unit] x"]);
    expect(call(0x7_0000_0000n | YIELD)).toBe(K.Next.Yield);
    expect(call(0x1_0000_0000n | EXIT, 0xffff_ffff_0000_0007n)).toBe(K.Next.Stopped);
    expect(e.exitStatus()).toBe(7n);
  });

  it("a 64-bit-only address is cut to 32 bits and a bad one still refused", () => {
    text(0x10n, "y\n");
    call(CONSOLE_WRITE, 0x1_0000_0010n, 2n);
    expect(rax()).toBe(2n);
    call(CONSOLE_WRITE, 0xffff_f000n, 2n);
    expect(rax() & 0xffff_ffffn).toBe(0xffff_fffen);
  });
});
