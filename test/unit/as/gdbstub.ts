// Unit-test entry: the GDB stub (vmm/debug/gdbstub.ts, gdbpackets.ts)
// against a fake target of two threads, with 64 KiB of memory at linear 0
// (anything above is not mapped) and registers it remembers.

import { DebugTarget, GdbStub } from "../../../vmm/debug/gdbstub";

const MEMORY: i32 = 0x10000;
const REGISTERS: i32 = 57;

class FakeTarget extends DebugTarget {
  readonly memory: StaticArray<u8> = new StaticArray<u8>(MEMORY);
  readonly registers: StaticArray<u64> = new StaticArray<u64>(2 * REGISTERS);
  held: bool = false;
  stepped: i32 = 0;
  intercepting: bool = false;
  killed: bool = false;
  canStep: bool = true;

  get threads(): i32 {
    return 2;
  }
  register(thread: i32, n: i32): u64 {
    return this.registers[(thread - 1) * REGISTERS + n];
  }
  setRegister(thread: i32, n: i32, v: u64): bool {
    this.registers[(thread - 1) * REGISTERS + n] = v;
    return true;
  }
  readByte(thread: i32, address: u64): i32 {
    return address < <u64>MEMORY ? <i32>this.memory[<i32>address] : -1;
  }
  writeByte(thread: i32, address: u64, v: u8): bool {
    if (address >= <u64>MEMORY) return false;
    this.memory[<i32>address] = v;
    return true;
  }
  hold(): void {
    this.held = true;
  }
  resume(step: i32): bool {
    if (step != 0 && !this.canStep) return false;
    this.held = false;
    this.stepped = step;
    return true;
  }
  interceptBreakpoints(on: bool): void {
    this.intercepting = on;
  }
  kill(): void {
    this.killed = true;
  }
}

let target = new FakeTarget();
let stub = new GdbStub(target);

export function reset(canStep: bool): void {
  target = new FakeTarget();
  target.canStep = canStep;
  stub = new GdbStub(target);
}

// Feeds `bytes` (one character a byte) and returns what the stub sent back.
export function feed(bytes: string): string {
  for (let i = 0; i < bytes.length; i++) stub.receive(<u8>bytes.charCodeAt(i));
  const out = stub.output;
  stub.output = "";
  return out;
}

// The target stopped by itself; what the stub sent.
export function stopped(thread: i32, breakpoint: bool): string {
  stub.stopped(thread, breakpoint);
  const out = stub.output;
  stub.output = "";
  return out;
}

export function exited(status: i64): string {
  stub.exited(status);
  const out = stub.output;
  stub.output = "";
  return out;
}

export function hasBreakpoint(address: u64): bool {
  return stub.hasBreakpoint(address);
}
export function attached(): bool {
  return stub.attached;
}
export function held(): bool {
  return target.held;
}
export function stepped(): i32 {
  return target.stepped;
}
export function intercepting(): bool {
  return target.intercepting;
}
export function killed(): bool {
  return target.killed;
}
export function memoryByte(address: i32): u8 {
  return target.memory[address];
}
export function setMemoryByte(address: i32, v: u8): void {
  target.memory[address] = v;
}
export function register(thread: i32, n: i32): u64 {
  return target.register(thread, n);
}
export function setRegister(thread: i32, n: i32, v: u64): void {
  target.setRegister(thread, n, v);
}
