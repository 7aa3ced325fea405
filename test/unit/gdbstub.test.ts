// The GDB stub's protocol (vmm/debug/gdbpackets.ts, gdbstub.ts) against a
// fake target (as/gdbstub.ts): framing, checksums, acknowledgements and the
// interrupt byte; the commands gdb sends to read and write registers and
// memory, plant breakpoints, continue, step, detach and kill; and replies,
// never traps, to malformed or oversized packets. The system test
// (test/system/gdb.test.ts) drives the same stub with Debian's gdb.
import fc from "fast-check";
import { beforeEach, describe, expect, it } from "vitest";
import { load, type Exports } from "./harness";

interface StubExports {
  reset(canStep: number): void;
  feed(bytes: string): string;
  stopped(thread: number, breakpoint: number): string;
  exited(status: bigint): string;
  hasBreakpoint(address: bigint): number;
  attached(): number;
  held(): number;
  stepped(): number;
  intercepting(): number;
  killed(): number;
  memoryByte(address: number): number;
  setMemoryByte(address: number, v: number): void;
  register(thread: number, n: number): bigint;
  setRegister(thread: number, n: number, v: bigint): void;
}

let e: Exports<StubExports>;
let unit: Awaited<ReturnType<typeof load<StubExports>>>;

beforeEach(async () => {
  unit = await load<StubExports>("gdbstub.ts");
  e = unit.exports;
  e.reset(1);
});

const checksum = (payload: string) =>
  ([...payload].reduce((sum, c) => sum + c.charCodeAt(0), 0) & 0xff).toString(16).padStart(2, "0");
const packet = (payload: string) => `$${payload}#${checksum(payload)}`;
const str = (ptr: number) => e.__getString(ptr >>> 0);
// What the stub answers to `payload`, sent as a good packet: "+" and the reply packet.
function ask(payload: string): string {
  return str(e.feed(e.__newString(packet(payload))));
}
// The reply's payload, checked to be framed and acknowledged.
function reply(payload: string): string {
  const out = ask(payload);
  const m = /^\+\$([^#]*)#([0-9a-f]{2})$/.exec(out);
  expect(m, `reply to ${payload}: ${out}`).not.toBeNull();
  expect(m![2]).toBe(checksum(m![1]));
  return m![1];
}
const le = (v: bigint, bytes: number) =>
  [...Array(bytes)].map((_, i) => ((v >> BigInt(8 * i)) & 0xffn).toString(16).padStart(2, "0")).join("");

describe("framing", () => {
  it("acknowledges a good packet with + and frames its reply with a checksum", () => {
    expect(ask("?")).toBe(`+${packet("T05thread:1;")}`);
  });

  it("answers a bad checksum with - and nothing else", () => {
    expect(str(e.feed(e.__newString("$?#00")))).toBe("-");
    expect(e.attached()).toBe(0);
  });

  it("sends its last packet again when gdb answers -", () => {
    const first = ask("qC");
    expect(str(e.feed(e.__newString("-")))).toBe(first.slice(1));
  });

  it("the first packet holds the target; 0x03 while it runs stops it with SIGINT", () => {
    expect(e.held()).toBe(0);
    reply("qSupported:swbreak+");
    expect(e.held()).toBe(1);
    expect(ask("c")).toBe("+");
    expect(e.held()).toBe(0);
    expect(str(e.feed(e.__newString("\x03")))).toBe(packet("T02thread:1;"));
    expect(e.held()).toBe(1);
  });

  it("a packet longer than PacketSize is acknowledged and refused", () => {
    expect(ask("m" + "0".repeat(5000))).toBe(`+${packet("E01")}`);
  });

  it("unescapes } in payloads and escapes $ # } * in replies", () => {
    // M to address 0x7d with one byte given escaped; the reply is OK.
    expect(str(e.feed(e.__newString(packet("M10,1:}]"))))).toBe(`+${packet("E01")}`);
    expect(reply("M10,1:2a")).toBe("OK");
    const out = ask("m10,1");
    expect(out).toBe(`+${packet("2a")}`);
  });
});

describe("queries", () => {
  it("announces the packet size, the target description and swbreak", () => {
    expect(reply("qSupported:multiprocess+;swbreak+")).toBe("PacketSize=1000;qXfer:features:read+;swbreak+");
  });

  it("serves target.xml in pieces: an x86-64 core feature with the x87 registers, and SSE", () => {
    let xml = "", offset = 0;
    for (;;) {
      const part = reply(`qXfer:features:read:target.xml:${offset.toString(16)},80`);
      xml += part.slice(1);
      offset += part.length - 1;
      if (part[0] === "l") break;
      expect(part[0]).toBe("m");
    }
    expect(xml).toContain("<architecture>i386:x86-64</architecture>");
    expect(xml).toContain("<feature name=\"org.gnu.gdb.i386.core\">");
    expect(xml).toContain("name=\"st7\" bitsize=\"80\" type=\"i387_ext\" regnum=\"31\"");
    expect(xml).toContain("name=\"mxcsr\" bitsize=\"32\" type=\"int\" regnum=\"56\"");
    expect(reply("qXfer:features:read:target.xml:zz,10")).toBe("E01");
  });

  it("lists one thread per vCPU and selects them", () => {
    expect(reply("qfThreadInfo")).toBe("m1,2");
    expect(reply("qsThreadInfo")).toBe("l");
    expect(reply("T2")).toBe("OK");
    expect(reply("T3")).toBe("E03");
    expect(reply("Hg2")).toBe("OK");
    expect(reply("Hg3")).toBe("E03");
    expect(reply("Hc-1")).toBe("OK");
    expect(reply("qAttached")).toBe("1");
    expect(reply("vMustReplyEmpty")).toBe("");
  });
});

describe("registers", () => {
  it("g reads the block in gdb's amd64 layout: 16 general, RIP, EFLAGS, selectors, x87, SSE", () => {
    e.setRegister(1, 0, 0x1122334455667788n); // RAX
    e.setRegister(1, 16, 0x8000n); // RIP
    e.setRegister(1, 17, 0x246n); // EFLAGS
    const block = reply("g");
    expect(block.length).toBe(2 * (17 * 8 + 7 * 4 + 8 * 10 + 8 * 4 + 16 * 16 + 4));
    expect(block.slice(0, 16)).toBe("8877665544332211");
    expect(block.slice(16 * 16, 17 * 16)).toBe(le(0x8000n, 8));
    expect(block.slice(17 * 16, 17 * 16 + 8)).toBe("46020000");
  });

  it("Hg picks the thread g reads; G writes the general registers, RIP and EFLAGS", () => {
    e.setRegister(2, 3, 42n);
    reply("Hg2");
    const block = reply("g");
    expect(block.slice(3 * 16, 4 * 16)).toBe(le(42n, 8));
    const changed = le(7n, 8) + block.slice(16);
    expect(reply(`G${changed}`)).toBe("OK");
    expect(e.register(2, 0)).toBe(7n);
    expect(reply(`G${changed.slice(2)}`)).toBe("E01");
  });

  it("p and P read and write one register", () => {
    e.setRegister(1, 16, 0xabcdn);
    expect(reply("p10")).toBe(le(0xabcdn, 8));
    expect(reply(`P10=${le(0x1234n, 8)}`)).toBe("OK");
    expect(e.register(1, 16)).toBe(0x1234n);
    expect(reply("p28")).toBe("0".repeat(32)); // xmm0
    expect(reply("p99")).toBe("E01");
    expect(reply("pb0000000")).toBe("E01"); // negative as an i32: refused, not an index
    expect(reply("Pb0000000=0000000000000000")).toBe("E01");
    expect(reply("P10=xyz")).toBe("E01");
  });
});

describe("memory", () => {
  it("m reads bytes; beyond the mapped memory it stops short or answers E02", () => {
    e.setMemoryByte(0x100, 0xc3);
    e.setMemoryByte(0xffff, 0x90);
    expect(reply("m100,2")).toBe("c300");
    expect(reply("mfffe,4")).toBe("0090");
    expect(reply("m10000,4")).toBe("E02");
    expect(reply("m100")).toBe("E01");
    expect(reply("m100,100000")).toBe("E01");
  });

  it("M writes bytes, checking the hex and the length", () => {
    expect(reply("M200,3:0a0b0c")).toBe("OK");
    expect([e.memoryByte(0x200), e.memoryByte(0x201), e.memoryByte(0x202)]).toEqual([10, 11, 12]);
    expect(reply("M200,2:0a")).toBe("E01");
    expect(reply("M200,1:zz")).toBe("E01");
    expect(reply("M10000,1:00")).toBe("E02");
  });
});

describe("running", () => {
  it("Z0 plants an INT3 and z0 restores the byte; INT3s are intercepted while any is planted", () => {
    e.setMemoryByte(0x300, 0x55);
    expect(reply("Z0,300,1")).toBe("OK");
    expect(e.memoryByte(0x300)).toBe(0xcc);
    expect(e.intercepting()).toBe(1);
    expect(e.hasBreakpoint(0x300n)).toBe(1);
    expect(reply("z0,300,1")).toBe("OK");
    expect(e.memoryByte(0x300)).toBe(0x55);
    expect(e.intercepting()).toBe(0);
    expect(reply("Z0,20000,1")).toBe("E02");
    expect(reply("Z1,300,1")).toBe(""); // hardware breakpoints: not offered
  });

  it("c resumes without a reply; a breakpoint's stop reports swbreak and the thread", () => {
    reply("Z0,300,1");
    expect(ask("c")).toBe("+");
    expect(e.held()).toBe(0);
    expect(str(e.stopped(2, 1))).toBe(packet("T05swbreak:;thread:2;"));
    expect(e.held()).toBe(1);
    expect(reply("qC")).toBe("QC2");
    expect(reply("?")).toBe("T05swbreak:;thread:2;");
  });

  it("s steps the thread Hc names, or the one that stopped", () => {
    reply("?");
    expect(ask("s")).toBe("+");
    expect(e.stepped()).toBe(1);
    expect(str(e.stopped(1, 0))).toBe(packet("T05thread:1;"));
    reply("Hc2");
    ask("s");
    expect(e.stepped()).toBe(2);
  });

  it("a target that cannot step answers E04", () => {
    e.reset(0);
    expect(reply("s")).toBe("E04");
  });

  it("D takes the breakpoints out and lets the target run", () => {
    e.setMemoryByte(0x300, 0x55);
    reply("Z0,300,1");
    expect(reply("D")).toBe("OK");
    expect(e.memoryByte(0x300)).toBe(0x55);
    expect(e.intercepting()).toBe(0);
    expect(e.held()).toBe(0);
    expect(e.attached()).toBe(0);
    expect(e.hasBreakpoint(0x300n)).toBe(0);
  });

  it("k kills the target; a target that ends while gdb waits reports W or X", () => {
    reply("?");
    ask("k");
    expect(e.killed()).toBe(1);
    e.reset(1);
    reply("?");
    ask("c");
    expect(str(e.exited(3n))).toBe(packet("W03"));
    e.reset(1);
    reply("?");
    ask("c");
    expect(str(e.exited(-1n))).toBe(packet("X09"));
  });
});

describe("a hostile client", () => {
  it("any bytes at all get replies, never a trap", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 600 }), (bytes) => {
        e.reset(1);
        e.feed(e.__newString(String.fromCharCode(...bytes)));
      }),
      { numRuns: 200 },
    );
  });

  it("well-framed packets of random commands get replies, never a trap", () => {
    const command = fc.tuple(
      fc.constantFrom(..."?gGpPmMcsZzHTDqvX"),
      fc.array(fc.constantFrom(..."0123456789abcdefxyz,:;=-"), { maxLength: 80 }).map((a) => a.join("")),
    ).map(([c, rest]) => c + rest);
    fc.assert(
      fc.property(fc.array(command, { maxLength: 8 }), (commands) => {
        e.reset(1);
        for (const c of commands) expect(ask(c).startsWith("+")).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
