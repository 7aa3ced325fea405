// The registers gdb sees, in its amd64 numbering, and the target
// description that names them.
//
// gdb reads all registers with `g` as one block, in the order and sizes of
// the target description it fetched (qXfer:features:read:target.xml): the
// features org.gnu.gdb.i386.core and org.gnu.gdb.i386.sse of GDB's manual
// ("i386 Features"). The core feature must list the x87 registers even for a
// target that has none to show; the stub reports them, and the SSE
// registers, as zeros.

import { Reg } from "../../kernel/arch/x86";

// gdb's numbers of the registers the stub really keeps.
export const GDB_RIP: i32 = 16;
export const GDB_EFLAGS: i32 = 17;
export const GDB_CS: i32 = 18; // then SS, DS, ES, FS, GS
export const GDB_REGISTERS: i32 = 57;

// gdb's registers 0-15 are RAX, RBX, RCX, RDX, RSI, RDI, RBP, RSP, R8-R15;
// the hardware's encoding (Reg) orders the first eight differently.
const GENERAL: StaticArray<Reg> = [
  Reg.Rax,
  Reg.Rbx,
  Reg.Rcx,
  Reg.Rdx,
  Reg.Rsi,
  Reg.Rdi,
  Reg.Rbp,
  Reg.Rsp,
  Reg.R8,
  Reg.R9,
  Reg.R10,
  Reg.R11,
  Reg.R12,
  Reg.R13,
  Reg.R14,
  Reg.R15,
];

// The general register gdb's number `n` (0-15) stands for.
export function generalRegister(n: i32): Reg {
  return unchecked(GENERAL[n & 15]);
}

// Register `n`'s size in bytes.
export function registerSize(n: i32): i32 {
  if (n <= GDB_RIP) return 8;
  if (n < 24) return 4; // EFLAGS, the six selectors
  if (n < 32) return 10; // ST0-ST7
  if (n < 40) return 4; // FCTRL, FSTAT, FTAG, FISEG, FIOFF, FOSEG, FOOFF, FOP
  if (n < 56) return 16; // XMM0-XMM15
  return 4; // MXCSR
}

function registerLines(names: string, type: string, bits: i32, first: i32): string {
  const list = names.split(" ");
  let xml = "";
  for (let i = 0; i < list.length; i++) {
    xml += "<reg name=\"" + list[i] + "\" bitsize=\"" + bits.toString() + "\" type=\"" + type + "\" regnum=\""
      + (first + i).toString() + "\"/>";
  }
  return xml;
}

// The target description: 64-bit x86, the core and SSE features.
export function targetXml(): string {
  return "<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\"><target version=\"1.0\">"
    + "<architecture>i386:x86-64</architecture>"
    + "<feature name=\"org.gnu.gdb.i386.core\">"
    + registerLines("rax rbx rcx rdx rsi rdi", "int64", 64, 0)
    + registerLines("rbp rsp", "data_ptr", 64, 6)
    + registerLines("r8 r9 r10 r11 r12 r13 r14 r15", "int64", 64, 8)
    + registerLines("rip", "code_ptr", 64, GDB_RIP)
    + registerLines("eflags cs ss ds es fs gs", "int32", 32, GDB_EFLAGS)
    + registerLines("st0 st1 st2 st3 st4 st5 st6 st7", "i387_ext", 80, 24)
    + registerLines("fctrl fstat ftag fiseg fioff foseg fooff fop", "int", 32, 32)
    + "</feature><feature name=\"org.gnu.gdb.i386.sse\">"
    + registerLines("xmm0 xmm1 xmm2 xmm3 xmm4 xmm5 xmm6 xmm7", "uint128", 128, 40)
    + registerLines("xmm8 xmm9 xmm10 xmm11 xmm12 xmm13 xmm14 xmm15", "uint128", 128, 48)
    + registerLines("mxcsr", "int", 32, 56)
    + "</feature></target>";
}
