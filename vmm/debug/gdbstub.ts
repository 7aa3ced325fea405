// The commands of GDB's remote serial protocol, against a DebugTarget.
//
// GdbStub answers the packets gdb sends (GDB manual, "Remote Protocol":
// "Packets", "General Query Packets", "Stop Reply Packets") for a target of
// numbered threads, the vCPUs of one VM (session.ts). It keeps the
// debugger's side of the conversation: whether the target is held, which
// thread registers are read from, the software breakpoints it planted.
// gdb runs in all-stop mode: a stop of one thread stops them all, `c`
// lets them all go, `s` one of them for one instruction. Whatever gdb sends, the answer is a reply or an
// error reply (E01 a malformed packet, E02 memory that is not mapped, E03
// no such thread, E04 the target cannot step); nothing here traps.

import { Cursor, framePacket, hexByte, hexLittleEndian, MAX_PACKET, PacketReader, Received } from "./gdbpackets";
import { GDB_EFLAGS, GDB_REGISTERS, GDB_RIP, registerSize, targetXml } from "./gdbregs";

// The signals a stop reports (gdb's numbering).
const SIGINT: u32 = 2;
const SIGTRAP: u32 = 5;

const INT3: u8 = 0xcc;
const XML_READ = "qXfer:features:read:target.xml:";
const MAX_BREAKPOINTS: i32 = 64;

// What the stub debugs: threads 1 to `threads`, each with registers in
// gdb's numbering (gdbregs.ts) and a view of memory through its own paging.
export abstract class DebugTarget {
  abstract get threads(): i32;
  abstract register(thread: i32, n: i32): u64;
  // False for a register the target does not let gdb change.
  abstract setRegister(thread: i32, n: i32, v: u64): bool;
  // The byte at linear `address` as `thread` sees it, -1 if it is not mapped.
  abstract readByte(thread: i32, address: u64): i32;
  abstract writeByte(thread: i32, address: u64, v: u8): bool;
  // No thread runs until resume().
  abstract hold(): void;
  // Every thread runs; `step` (if not 0) one instruction only, and then
  // the target calls stopped(). False if it cannot step.
  abstract resume(step: i32): bool;
  // INT3s stop the target (ExitKind.Breakpoint) rather than the guest handling them.
  abstract interceptBreakpoints(on: bool): void;
  abstract kill(): void;
}

const enum Mode {
  Detached, // no debugger: the target runs as it would without one
  Held, // stopped for gdb
  Running, // gdb let it run and waits for a stop reply
}

export class GdbStub {
  // Bytes to send gdb, taken by whoever carries them (session.ts).
  output: string = "";
  private readonly reader: PacketReader = new PacketReader();
  private mode: Mode = Mode.Detached;
  private lastReply: string = "";
  // The thread the last stop concerned, and its stop reply.
  private stopThread: i32 = 1;
  private stopReply: string = "";
  // The threads Hg and Hc chose: the one `g` and `m` read, the one `s`
  // steps (0: the stop's).
  private registerThread: i32 = 0;
  private runThread: i32 = 0;
  private readonly breakpoints: u64[] = [];
  private readonly originals: u8[] = [];

  constructor(private target: DebugTarget) {}

  get attached(): bool {
    return this.mode != Mode.Detached;
  }

  // A byte from gdb.
  receive(byte: u8): void {
    const what = this.reader.feed(byte);
    if (what == Received.Packet || what == Received.TooLong) {
      this.output += "+";
      if (this.mode == Mode.Detached) this.attach();
      const reply = what == Received.Packet ? this.answer(this.reader.text()) : "E01";
      // A `c` or `s` is answered when the target stops.
      if (this.mode != Mode.Running) this.send(reply);
    } else if (what == Received.Corrupt) {
      this.output += "-";
    } else if (what == Received.Nak) {
      this.output += this.lastReply;
    } else if (what == Received.Interrupt && this.mode == Mode.Running) {
      this.target.hold();
      this.report(this.stopThread, SIGINT, false);
    }
  }

  // Whether a breakpoint of gdb's sits at linear `address`.
  hasBreakpoint(address: u64): bool {
    return this.mode != Mode.Detached && this.breakpoints.includes(address);
  }

  // The target stopped by itself (a breakpoint, a finished step): held, and gdb told.
  stopped(thread: i32, breakpoint: bool): void {
    if (this.mode != Mode.Running) return;
    this.target.hold();
    this.report(thread, SIGTRAP, breakpoint);
  }

  // The target is gone (its VM stopped): gdb hears so if it waits.
  exited(status: i64): void {
    if (this.mode == Mode.Running) this.send(status >= 0 ? "W" + hexByte(<u32>status & 0xff) : "X09");
    this.mode = Mode.Detached;
  }

  private attach(): void {
    this.target.hold();
    this.mode = Mode.Held;
    this.stopThread = 1;
    this.stopReply = "T05thread:1;";
  }

  private report(thread: i32, signal: u32, breakpoint: bool): void {
    this.mode = Mode.Held;
    this.stopThread = thread;
    this.stopReply = "T" + hexByte(signal) + (breakpoint ? "swbreak:;" : "") + "thread:" + hex(thread) + ";";
    this.send(this.stopReply);
  }

  private send(reply: string): void {
    this.lastReply = framePacket(reply);
    this.output += this.lastReply;
  }

  // The reply to `p`, "" for a packet that needs none now.
  private answer(p: string): string {
    if (p.length == 0) return "";
    const c = p.charCodeAt(0), args = new Cursor(p, 1);
    if (c == 0x3f) return this.stopReply; // ?
    if (c == 0x67) return this.readRegisters(); // g
    if (c == 0x47) return this.writeRegisters(args); // G
    if (c == 0x70) return this.readRegister(args); // p
    if (c == 0x50) return this.writeRegister(args); // P
    if (c == 0x6d) return this.readMemory(args); // m
    if (c == 0x4d) return this.writeMemory(args); // M
    if (c == 0x63 || c == 0x73) return this.resume(c == 0x73 ? this.stepThread() : 0); // c, s
    if (c == 0x5a || c == 0x7a) return this.breakpoint(args, c == 0x5a); // Z, z
    if (c == 0x48) return this.selectThread(args); // H
    if (c == 0x54) return this.validThread(<i32>args.hex()) ? "OK" : "E03"; // T
    if (c == 0x44) return this.detach(); // D
    if (c == 0x6b) return this.kill(); // k
    return this.query(p);
  }

  private query(p: string): string {
    if (p.startsWith("qSupported")) {
      return "PacketSize=" + hex(MAX_PACKET) + ";qXfer:features:read+;swbreak+";
    }
    if (p.startsWith(XML_READ)) return this.readXml(new Cursor(p, XML_READ.length));
    if (p == "qfThreadInfo") {
      let list = "m";
      for (let t = 1; t <= this.target.threads; t++) list += (t > 1 ? "," : "") + hex(t);
      return list;
    }
    if (p == "qsThreadInfo") return "l";
    if (p == "qC") return "QC" + hex(this.stopThread);
    if (p == "qAttached") return "1"; // detaching leaves the VM running
    return "";
  }

  private readXml(args: Cursor): string {
    const offset = <i32>min<u64>(args.hex(), <u64>i32.MAX_VALUE);
    if (!args.take(0x2c)) return "E01";
    const length = <i32>min<u64>(args.hex(), <u64>MAX_PACKET / 2);
    if (!args.ok) return "E01";
    const xml = targetXml();
    if (offset >= xml.length) return "l";
    const end = min(xml.length, offset + length);
    return (end == xml.length ? "l" : "m") + xml.substring(offset, end);
  }

  private thread(): i32 {
    return this.registerThread > 0 ? this.registerThread : this.stopThread;
  }

  private stepThread(): i32 {
    return this.runThread > 0 ? this.runThread : this.stopThread;
  }

  private validThread(t: i32): bool {
    return t >= 1 && t <= this.target.threads;
  }

  // Hg and Hc: the thread later commands concern; 0 or -1 for any.
  private selectThread(args: Cursor): string {
    const op = args.next();
    const any = args.take(0x2d); // -1
    const t = <i32>args.hex();
    if (!args.ok || (op != 0x67 && op != 0x63) || (!any && t != 0 && !this.validThread(t))) return "E03";
    if (op == 0x67) this.registerThread = any ? 0 : t;
    else this.runThread = any ? 0 : t;
    return "OK";
  }

  private readRegisters(): string {
    let text = "";
    for (let n = 0; n < GDB_REGISTERS; n++) {
      text += hexLittleEndian(this.target.register(this.thread(), n), registerSize(n));
    }
    return text;
  }

  // Only the general registers, RIP and RFLAGS are written; the rest of
  // the block is checked and ignored.
  private writeRegisters(args: Cursor): string {
    const values = new StaticArray<u64>(GDB_EFLAGS + 1);
    for (let n = 0; n < GDB_REGISTERS; n++) {
      const v = args.littleEndian(registerSize(n));
      if (n <= GDB_EFLAGS) values[n] = v;
    }
    if (!args.ok || !args.atEnd) return "E01";
    for (let n = 0; n <= GDB_EFLAGS; n++) this.target.setRegister(this.thread(), n, values[n]);
    return "OK";
  }

  // The register number is checked before it is narrowed: "pb0000000"
  // must be an error, not register -0x50000000.
  private readRegister(args: Cursor): string {
    const number = args.hex();
    if (!args.ok || number >= <u64>GDB_REGISTERS) return "E01";
    const n = <i32>number;
    return hexLittleEndian(this.target.register(this.thread(), n), registerSize(n));
  }

  private writeRegister(args: Cursor): string {
    const number = args.hex();
    if (!args.take(0x3d) || number >= <u64>GDB_REGISTERS) return "E01";
    const n = <i32>number;
    const v = args.littleEndian(registerSize(n));
    if (!args.ok || !args.atEnd) return "E01";
    return n > GDB_EFLAGS || this.target.setRegister(this.thread(), n, v) ? "OK" : "E01";
  }

  private readMemory(args: Cursor): string {
    const address = args.hex();
    if (!args.take(0x2c)) return "E01";
    const length = args.hex();
    if (!args.ok || !args.atEnd || length > <u64>MAX_PACKET / 2) return "E01";
    let text = "";
    for (let i: u64 = 0; i < length; i++) {
      const b = this.target.readByte(this.thread(), address + i);
      if (b < 0) return i == 0 ? "E02" : text; // what could be read
      text += hexByte(<u32>b);
    }
    return text;
  }

  private writeMemory(args: Cursor): string {
    const address = args.hex();
    if (!args.take(0x2c)) return "E01";
    const length = args.hex();
    if (!args.take(0x3a) || length > <u64>MAX_PACKET) return "E01";
    const bytes = new StaticArray<u8>(<i32>length);
    for (let i = 0; i < bytes.length; i++) bytes[i] = <u8>args.littleEndian(1);
    if (!args.ok || !args.atEnd) return "E01";
    for (let i = 0; i < bytes.length; i++) {
      if (!this.target.writeByte(this.thread(), address + <u64>i, bytes[i])) return "E02";
    }
    return "OK";
  }

  private resume(step: i32): string {
    if (!this.target.resume(step)) return "E04";
    this.mode = Mode.Running;
    return "";
  }

  // Z0/z0: a software breakpoint, an INT3 written over the instruction's
  // first byte, which goes back when it is removed. Other kinds: "" (unsupported).
  private breakpoint(args: Cursor, insert: bool): string {
    if (args.next() != 0x30 || !args.take(0x2c)) return "";
    const address = args.hex();
    if (!args.ok) return "E01";
    const i = this.breakpoints.indexOf(address);
    if (insert && i < 0) {
      const original = this.target.readByte(this.thread(), address);
      if (this.breakpoints.length >= MAX_BREAKPOINTS) return "E01";
      if (original < 0 || !this.target.writeByte(this.thread(), address, INT3)) return "E02";
      this.breakpoints.push(address);
      this.originals.push(<u8>original);
    } else if (!insert && i >= 0) {
      this.target.writeByte(this.thread(), address, this.originals[i]);
      this.breakpoints.splice(i, 1);
      this.originals.splice(i, 1);
    }
    this.target.interceptBreakpoints(this.breakpoints.length > 0);
    return "OK";
  }

  private removeBreakpoints(): void {
    while (this.breakpoints.length > 0) {
      this.target.writeByte(this.thread(), this.breakpoints.pop(), this.originals.pop());
    }
    this.target.interceptBreakpoints(false);
  }

  // The VM runs on as it would without a debugger.
  private detach(): string {
    this.removeBreakpoints();
    this.target.resume(0);
    this.mode = Mode.Detached;
    return "OK";
  }

  private kill(): string {
    this.removeBreakpoints();
    this.target.kill();
    this.mode = Mode.Detached;
    return "";
  }
}

// Lower-case hex, no leading zeros.
function hex(v: i32): string {
  return (<u32>v).toString(16);
}
