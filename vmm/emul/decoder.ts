// Decoding the x86 instructions guests use on memory-mapped device registers.
//
// An EPT violation or #NPF says which guest-physical address was touched and
// whether it was a write, but not how wide the access was, which register
// holds or receives the value, or how long the instruction is. MmioInstruction
// decodes just enough of the instruction for that (Intel SDM Vol. 2A chapter
// 2, "Instruction Format"): prefixes, opcode, ModRM, SIB, displacement and
// immediate, of the instructions drivers use on device registers (MOV, the
// read-modify-write arithmetic, TEST, XCHG, the bit tests, MOVS and STOS),
// in 16-, 32- and 64-bit code. It never computes the effective address,
// since the hardware reported it.

import * as log from "../../kernel/console/log";
import { MAX_INSTRUCTION_LENGTH, Reg, Seg } from "../../kernel/arch/x86";
import { allOnes } from "../devices/bus";
import { AluOp } from "./alu";

export const enum Extension {
  None,
  Zero,
  Sign,
}

// What the instruction does with the device location.
export const enum Operation {
  Mov, // a load or a store (MOV, MOVZX, MOVSX)
  Alu, // ADD, OR, ADC, SBB, AND, SUB, XOR or CMP (aluOp) with it
  Test, // AND for the flags only
  Xchg, // swaps it with the register
  BitTest, // BT, BTS, BTR or BTC (bitOp) on one of its bits
  Stos, // stores AL/AX/EAX/RAX at ES:rDI, and steps rDI
  Movs, // copies DS:rSI (or an override) to ES:rDI, and steps both
  Ins, // reads the port in DX to ES:rDI, and steps rDI
  Outs, // writes DS:rSI (or an override) to the port in DX, and steps rSI
}

// BT, BTS, BTR, BTC: bits 4:3 of 0F A3/AB/B3/BB, and ModRM reg - 4 of 0F BA.
export const enum BitOp {
  Bt,
  Bts,
  Btr,
  Btc,
}

const REX_W: u8 = 8;
const REX_R: u8 = 4;

export class MmioInstruction {
  // Bytes from the first prefix to the end of the instruction.
  length: u32 = 0;
  operation: Operation = Operation.Mov;
  aluOp: AluOp = AluOp.Add;
  bitOp: BitOp = BitOp.Bt;
  // Bytes the instruction reads from or writes to the device: 1, 2, 4 or 8.
  accessSize: u8 = 0;
  // Whether it may write the device location, and whether it may read it.
  // A read-modify-write does both; a MOVS does one, on whichever side the
  // device is; INS writes memory and OUTS reads it.
  isWrite: bool = false;
  isRead: bool = false;
  // For an ALU operation: the result goes to the device (not to the register).
  toMemory: bool = false;
  // The register operand: written by loads, read by stores and the rest
  // (unless there is an immediate); its width in bytes, and whether it is
  // AH, CH, DH or BH (then `register` is RAX, RCX, RDX or RBX). BT's bit
  // offset when it has no immediate.
  register: Reg = Reg.Rax;
  registerSize: u8 = 0;
  highByte: bool = false;
  // The constant operand, already extended to accessSize (BT: the bit number).
  hasImmediate: bool = false;
  immediate: u64 = 0;
  // How a load narrower than the register fills it (MOVZX, MOVSX).
  extension: Extension = Extension.None;
  // String instructions: a REP prefix, the address size that sizes rSI,
  // rDI and rCX, and the segment of the source (DS unless overridden).
  repeat: bool = false;
  addressBits: u32 = 0;
  sourceSegment: Seg = Seg.Ds;
  // Why decode() returned false.
  failure: string = "";

  // MOVS, STOS, INS or OUTS: the string step (mmiostring.ts) carries it out.
  get isString(): bool {
    const op = this.operation;
    return op == Operation.Stos || op == Operation.Movs || op == Operation.Ins || op == Operation.Outs;
  }

  private rex: u8 = 0;

  // Decodes the first `available` bytes of `bytes` as code of `codeBits`
  // (16, 32 or 64); false with `failure` set if they are no supported
  // instruction or end before it does. Supported, with a memory operand:
  //   88/89/8A/8B  MOV r/m,reg and MOV reg,r/m
  //   C6/0, C7/0   MOV r/m,imm (C7 with REX.W: imm32 sign-extended)
  //   A0-A3        MOV AL/eAX,moffs and MOV moffs,AL/eAX
  //   0F B6/B7     MOVZX reg,r/m8 and reg,r/m16
  //   0F BE/BF     MOVSX reg,r/m8 and reg,r/m16
  //   00-3B        ADD OR ADC SBB AND SUB XOR CMP, r/m,reg and reg,r/m
  //   80-83        the same eight, r/m,imm
  //   84/85, F6/0, F7/0  TEST r/m,reg and r/m,imm
  //   86/87        XCHG r/m,reg
  //   0F A3/AB/B3/BB, 0F BA/4-7  BT BTS BTR BTC r/m,reg and r/m,imm8
  //   A4/A5, AA/AB MOVS and STOS, with or without REP
  //   6C/6D, 6E/6F INS and OUTS, with or without REP (for port exits)
  decode(bytes: StaticArray<u8>, available: i32, codeBits: u32): bool {
    this.operation = Operation.Mov;
    this.hasImmediate = false;
    this.highByte = false;
    this.extension = Extension.None;
    this.isRead = false;
    this.toMemory = false;
    this.repeat = false;
    this.sourceSegment = Seg.Ds;
    this.failure = "";
    this.rex = 0;
    // Every byte below is read at an index under `available`, so within `bytes`.
    available = min(available, bytes.length);
    let operandOverride = false, addressOverride = false;
    let at = 0;
    for (;; at++) {
      if (at >= available) return this.truncated();
      const b = unchecked(bytes[at]);
      if (codeBits == 64 && (b & 0xf0) == 0x40) {
        this.rex = b;
        continue;
      }
      if (b == 0x66) operandOverride = true;
      else if (b == 0x67) addressOverride = true;
      else if (b == 0xf2 || b == 0xf3) this.repeat = true;
      else if (isSegmentOverride(b)) this.sourceSegment = segmentOf(b);
      else if (b != 0xf0) break; // LOCK changes nothing here
      // A REX prefix counts only right before the opcode (SDM Vol. 2A 2.2.1).
      this.rex = 0;
    }
    const rex = this.rex;
    // Operand and address size from the mode and the 66/67 prefixes, REX.W
    // first (SDM Vol. 1 3.6 and Vol. 2A 2.2.1.2).
    const operandSize: u8 = codeBits == 64
      ? ((rex & REX_W) != 0 ? 8 : operandOverride ? 2 : 4)
      : ((codeBits == 16) != operandOverride ? 2 : 4);
    this.addressBits = codeBits == 64
      ? (addressOverride ? 32 : 64)
      : ((codeBits == 16) != addressOverride ? 16 : 32);

    const opcode = unchecked(bytes[at++]);
    if (opcode == 0x0f) {
      if (at >= available) return this.truncated();
      return this.decodeTwoByte(bytes, at, available, operandSize);
    }
    // The one-byte opcodes have the operand size in bit 0 where they have
    // a byte form: 0 is the byte form (SDM Vol. 2A 3.1.1.1, the "w" bit).
    const size: u8 = (opcode & 1) == 0 ? 1 : operandSize;
    // MOV first: most accesses to device registers are plain loads and stores.
    if (opcode >= 0x88 && opcode <= 0x8b) {
      at = this.memoryOperand(bytes, at, available, size);
      if (at < 0) return false;
      const store = opcode <= 0x89;
      return this.finish(at, available, store, !store);
    }
    if (opcode == 0xc6 || opcode == 0xc7) {
      if (at >= available) return this.truncated();
      // Only /0 is MOV; C6/C7 with other reg fields are XABORT, XBEGIN or #UD.
      const modrm = unchecked(bytes[at]);
      if (((modrm >> 3) & 7) != 0) return this.unsupported(opcode, modrm);
      at = this.memoryOperand(bytes, at, available, size);
      if (at < 0) return false;
      // An immediate is at most 4 bytes; a 64-bit store sign-extends it (SDM Vol. 2B "MOV").
      at = this.readImmediate(bytes, at, available, size < 4 ? size : 4, size);
      return at >= 0 && this.finish(at, available, true, false);
    }
    if (opcode < 0x40 && (opcode & 7) < 4) {
      // Bit 1 set: the register is the destination (SDM Vol. 2A B.1.4.7, the "d" bit).
      at = this.memoryOperand(bytes, at, available, size);
      if (at < 0) return false;
      this.operation = Operation.Alu;
      this.aluOp = <AluOp>(opcode >> 3);
      this.toMemory = (opcode & 2) == 0;
      return this.finish(at, available, this.toMemory && this.aluOp != AluOp.Cmp, true);
    }
    if (opcode >= 0x80 && opcode <= 0x83) {
      // 82 is 80's twin, invalid in 64-bit mode (SDM Vol. 2D Table A-2).
      if (opcode == 0x82 && codeBits == 64) return this.unsupported(opcode, -1);
      const wide = opcode == 0x81;
      const immediateSize: u8 = size == 1 || !wide ? 1 : operandSize == 2 ? 2 : 4;
      at = this.memoryOperand(bytes, at, available, size);
      if (at < 0) return false;
      this.operation = Operation.Alu;
      this.aluOp = <AluOp>this.regField;
      this.toMemory = true;
      at = this.readImmediate(bytes, at, available, immediateSize, size);
      return at >= 0 && this.finish(at, available, this.aluOp != AluOp.Cmp, true);
    }
    if (opcode >= 0x84 && opcode <= 0x87) {
      at = this.memoryOperand(bytes, at, available, size);
      if (at < 0) return false;
      this.operation = opcode <= 0x85 ? Operation.Test : Operation.Xchg;
      return this.finish(at, available, this.operation == Operation.Xchg, true);
    }
    if (opcode == 0xf6 || opcode == 0xf7) {
      // Only /0 is TEST with an immediate (NOT, NEG, MUL... are not supported).
      const modrm = at < available ? unchecked(bytes[at]) : 0;
      if (((modrm >> 3) & 7) != 0) return this.unsupported(opcode, modrm);
      at = this.memoryOperand(bytes, at, available, size);
      if (at < 0) return false;
      this.operation = Operation.Test;
      at = this.readImmediate(bytes, at, available, size < 4 ? size : 4, size);
      return at >= 0 && this.finish(at, available, false, true);
    }
    if (opcode >= 0xa0 && opcode <= 0xa3) {
      // The offset is as wide as the address size (SDM Vol. 2B "MOV", moffs).
      this.accessSize = size;
      this.registerSize = size;
      this.register = Reg.Rax;
      const store = opcode >= 0xa2;
      return this.finish(at + <i32>(this.addressBits / 8), available, store, !store);
    }
    if (opcode == 0xa4 || opcode == 0xa5 || opcode == 0xaa || opcode == 0xab) {
      const stos = opcode >= 0xaa;
      this.operation = stos ? Operation.Stos : Operation.Movs;
      this.accessSize = size;
      this.registerSize = size;
      this.register = Reg.Rax;
      return this.finish(at, available, true, !stos);
    }
    if (opcode >= 0x6c && opcode <= 0x6f) {
      // At most 32 bits: REX.W does not widen a port access (SDM Vol. 2A "INS").
      const ins = opcode <= 0x6d;
      this.operation = ins ? Operation.Ins : Operation.Outs;
      this.accessSize = min<u8>(size, 4);
      this.registerSize = this.accessSize;
      this.register = Reg.Rax;
      return this.finish(at, available, ins, !ins);
    }
    return this.unsupported(opcode, -1);
  }

  // 0F-prefixed opcodes, at the byte after 0F.
  private decodeTwoByte(bytes: StaticArray<u8>, at: i32, available: i32, operandSize: u8): bool {
    const second = unchecked(bytes[at++]);
    if (second == 0xb6 || second == 0xb7 || second == 0xbe || second == 0xbf) {
      const size: u8 = (second & 1) != 0 ? 2 : 1;
      at = this.memoryOperand(bytes, at, available, size);
      if (at < 0) return false;
      this.registerSize = operandSize;
      this.extension = second >= 0xbe ? Extension.Sign : Extension.Zero;
      return this.finish(at, available, false, true);
    }
    const byRegister = second == 0xa3 || second == 0xab || second == 0xb3 || second == 0xbb;
    if (!byRegister && second != 0xba) return this.unsupported(0x0f, second);
    at = this.memoryOperand(bytes, at, available, operandSize);
    if (at < 0) return false;
    this.operation = Operation.BitTest;
    if (byRegister) {
      this.bitOp = <BitOp>((second >> 3) & 3);
    } else {
      // 0F BA /4 to /7; /0 to /3 are undefined.
      if (this.regField < 4) return this.unsupported(0x0f, second);
      this.bitOp = <BitOp>(this.regField - 4);
      at = this.readImmediate(bytes, at, available, 1, 1);
      if (at < 0) return false;
    }
    return this.finish(at, available, this.bitOp != BitOp.Bt, true);
  }

  // The ModRM reg field of the last memoryOperand(): the register, or an
  // opcode extension (80-83, F6/F7, 0F BA).
  private regField: u32 = 0;

  // Skips ModRM, SIB and displacement (SDM Vol. 2A 2.1.5, Tables 2-1 to 2-3),
  // takes the ModRM reg field as the register operand, and sets the access
  // size, `size` bytes; returns the position after them, or -1.
  private memoryOperand(bytes: StaticArray<u8>, at: i32, available: i32, size: u8): i32 {
    if (at >= available) {
      this.truncated();
      return -1;
    }
    this.accessSize = size;
    this.registerSize = size;
    const modrm = unchecked(bytes[at++]);
    const mod = modrm >> 6, rm = modrm & 7;
    if (mod == 3) {
      this.failure = "ModRM " + log.hex(modrm) + " names a register, not memory";
      return -1;
    }
    this.regField = (modrm >> 3) & 7;
    this.setRegister(this.regField | ((this.rex & REX_R) != 0 ? 8 : 0), size == 1);
    if (this.addressBits == 16) {
      // 16-bit addressing has no SIB; mod 0 with r/m 6 is a bare disp16.
      return at + (mod == 1 ? 1 : mod == 2 || (mod == 0 && rm == 6) ? 2 : 0);
    }
    let displacement = mod == 1 ? 1 : mod == 2 ? 4 : 0;
    // r/m 4 means a SIB byte follows, whatever REX.B says (Table 2-5).
    if (rm == 4) {
      if (at >= available) {
        this.truncated();
        return -1;
      }
      // SIB base 5 under mod 0 is a disp32 with no base register.
      if (mod == 0 && (unchecked(bytes[at]) & 7) == 5) displacement = 4;
      at++;
    } else if (mod == 0 && rm == 5) {
      // disp32 alone, RIP-relative in 64-bit mode (2.2.1.6).
      displacement = 4;
    }
    return at + displacement;
  }

  // Takes the immediate of `count` bytes at `at`, sign-extended to `size`
  // bytes when shorter (SDM Vol. 2A 2.2.1.5; ADD's "ib" forms and MOV's
  // imm32 to a 64-bit location); returns the position after it, or -1.
  private readImmediate(bytes: StaticArray<u8>, at: i32, available: i32, count: u8, size: u8): i32 {
    if (at + <i32>count > available) {
      this.truncated();
      return -1;
    }
    const value = littleEndian(bytes, at, count);
    const shift = <u64>(64 - 8 * <i32>count);
    this.immediate = (<u64>((<i64>(value << shift)) >> shift)) & allOnes(size);
    this.hasImmediate = true;
    return at + <i32>count;
  }

  // Registers 4-7 of a byte operand are AH, CH, DH, BH unless any REX
  // prefix is present, which makes them SPL, BPL, SIL, DIL (SDM Vol. 2A 2.2.1.2).
  private setRegister(number: i32, byteRegister: bool): void {
    this.highByte = byteRegister && this.rex == 0 && number >= 4;
    this.register = <Reg>(this.highByte ? number - 4 : number);
  }

  // Ends a decode at `length`, with the instruction's directions.
  private finish(length: i32, available: i32, isWrite: bool, isRead: bool): bool {
    this.isWrite = isWrite;
    this.isRead = isRead;
    if (length > MAX_INSTRUCTION_LENGTH) {
      this.failure = "longer than " + MAX_INSTRUCTION_LENGTH.toString() + " bytes";
      return false;
    }
    if (length > available) return this.truncated();
    this.length = <u32>length;
    return true;
  }

  private truncated(): bool {
    this.failure = "the instruction continues past the bytes that could be read";
    return false;
  }

  private unsupported(opcode: u8, second: i32): bool {
    this.failure = "unsupported opcode " + log.hex(opcode) + (second >= 0 ? " " + log.hex(<u64>second) : "");
    return false;
  }
}

// The segment override prefixes (SDM Vol. 2A 2.1.1): ES 26, CS 2E, SS 36,
// DS 3E, FS 64, GS 65.
export function isSegmentOverride(b: u8): bool {
  return b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65;
}

function segmentOf(prefix: u8): Seg {
  return prefix == 0x26
    ? Seg.Es
    : prefix == 0x2e
    ? Seg.Cs
    : prefix == 0x36
    ? Seg.Ss
    : prefix == 0x3e
    ? Seg.Ds
    : prefix == 0x64
    ? Seg.Fs
    : Seg.Gs;
}

function littleEndian(bytes: StaticArray<u8>, at: i32, count: i32): u64 {
  let value: u64 = 0;
  for (let i = count - 1; i >= 0; i--) value = (value << 8) | <u64>unchecked(bytes[at + i]);
  return value;
}
