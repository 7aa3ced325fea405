// Decoding the x86 instructions guests use on memory-mapped device registers.
//
// An EPT violation or #NPF says which guest-physical address was touched and
// whether it was a write, but not how wide the access was, which register
// holds or receives the value, or how long the instruction is. MmioInstruction
// decodes just enough of the instruction for that (Intel SDM Vol. 2A chapter
// 2, "Instruction Format"): prefixes, opcode, ModRM, SIB, displacement and
// immediate, of the MOV forms drivers use, in 16-, 32- and 64-bit code. It
// never computes the effective address, since the hardware reported it.

import * as log from "../../kernel/console/log";
import { MAX_INSTRUCTION_LENGTH, Reg } from "../../kernel/arch/x86";

export const enum Extension {
  None,
  Zero,
  Sign,
}

const REX_W: u8 = 8;
const REX_R: u8 = 4;

export class MmioInstruction {
  // Bytes from the first prefix to the end of the instruction.
  length: u32 = 0;
  // Bytes the instruction reads from or writes to the device: 1, 2, 4 or 8.
  accessSize: u8 = 0;
  isWrite: bool = false;
  // The register written (loads) or read (stores without an immediate), its
  // width in bytes, and whether it is AH, CH, DH or BH (then `register` is
  // RAX, RCX, RDX or RBX).
  register: Reg = Reg.Rax;
  registerSize: u8 = 0;
  highByte: bool = false;
  // Stores of a constant: the value, already extended to accessSize.
  hasImmediate: bool = false;
  immediate: u64 = 0;
  // How a load narrower than the register fills it (MOVZX, MOVSX).
  extension: Extension = Extension.None;
  // Why decode() returned false.
  failure: string = "";

  private rex: u8 = 0;

  // Decodes the first `available` bytes of `bytes` as code of `codeBits`
  // (16, 32 or 64); false with `failure` set if they are no supported
  // instruction or end before it does. Supported:
  //   88/89/8A/8B  MOV r/m,reg and MOV reg,r/m
  //   C6/0, C7/0   MOV r/m,imm (C7 with REX.W: imm32 sign-extended)
  //   A0-A3        MOV AL/eAX,moffs and MOV moffs,AL/eAX
  //   0F B6/B7     MOVZX reg,r/m8 and reg,r/m16
  //   0F BE/BF     MOVSX reg,r/m8 and reg,r/m16
  // Arithmetic forms (AND, OR, ADD, CMP, TEST...) are not: they change
  // RFLAGS, which the backends do not let the generic code write.
  decode(bytes: StaticArray<u8>, available: i32, codeBits: u32): bool {
    this.hasImmediate = false;
    this.highByte = false;
    this.extension = Extension.None;
    this.failure = "";
    this.rex = 0;
    let operandOverride = false, addressOverride = false;
    let at = 0;
    for (;; at++) {
      if (at >= available) return this.truncated();
      const b = bytes[at];
      if (codeBits == 64 && (b & 0xf0) == 0x40) {
        this.rex = b;
        continue;
      }
      if (b == 0x66) operandOverride = true;
      else if (b == 0x67) addressOverride = true;
      else if (!isOtherLegacyPrefix(b)) break;
      // A REX prefix counts only right before the opcode (SDM Vol. 2A 2.2.1).
      this.rex = 0;
    }
    const rex = this.rex;
    // Operand and address size from the mode and the 66/67 prefixes, REX.W
    // first (SDM Vol. 1 3.6 and Vol. 2A 2.2.1.2).
    const operandSize: u8 = codeBits == 64
      ? ((rex & REX_W) != 0 ? 8 : operandOverride ? 2 : 4)
      : ((codeBits == 16) != operandOverride ? 2 : 4);
    const addressBits: u32 = codeBits == 64
      ? (addressOverride ? 32 : 64)
      : ((codeBits == 16) != addressOverride ? 16 : 32);

    const opcode = bytes[at++];
    if (opcode == 0x0f) {
      if (at >= available) return this.truncated();
      const second = bytes[at++];
      if (second != 0xb6 && second != 0xb7 && second != 0xbe && second != 0xbf) return this.unsupported(opcode, second);
      at = this.modrm(bytes, at, available, addressBits, false);
      if (at < 0) return false;
      this.isWrite = false;
      this.accessSize = (second & 1) != 0 ? 2 : 1;
      this.registerSize = operandSize;
      this.extension = second >= 0xbe ? Extension.Sign : Extension.Zero;
      return this.finish(at, available);
    }
    if (opcode >= 0x88 && opcode <= 0x8b) {
      const byteSized = (opcode & 1) == 0;
      at = this.modrm(bytes, at, available, addressBits, byteSized);
      if (at < 0) return false;
      this.isWrite = opcode <= 0x89;
      this.accessSize = byteSized ? 1 : operandSize;
      this.registerSize = this.accessSize;
      return this.finish(at, available);
    }
    if (opcode == 0xc6 || opcode == 0xc7) {
      if (at >= available) return this.truncated();
      // Only /0 is MOV; C6/C7 with other reg fields are XABORT, XBEGIN or #UD.
      if (((bytes[at] >> 3) & 7) != 0) return this.unsupported(opcode, bytes[at]);
      at = this.modrm(bytes, at, available, addressBits, false);
      if (at < 0) return false;
      this.isWrite = true;
      this.accessSize = opcode == 0xc6 ? 1 : operandSize;
      // An immediate is at most 4 bytes; a 64-bit store sign-extends it (SDM Vol. 2B "MOV").
      const immediateSize = this.accessSize < 4 ? <i32>this.accessSize : 4;
      if (at + immediateSize > available) return this.truncated();
      const value = littleEndian(bytes, at, immediateSize);
      this.immediate = immediateSize == 4 && this.accessSize == 8 ? <u64><i64><i32><u32>value : value;
      this.hasImmediate = true;
      return this.finish(at + immediateSize, available);
    }
    if (opcode >= 0xa0 && opcode <= 0xa3) {
      // The offset is as wide as the address size (SDM Vol. 2B "MOV", moffs).
      at += <i32>(addressBits / 8);
      this.isWrite = opcode >= 0xa2;
      this.accessSize = (opcode & 1) == 0 ? 1 : operandSize;
      this.registerSize = this.accessSize;
      this.register = Reg.Rax;
      return this.finish(at, available);
    }
    return this.unsupported(opcode, -1);
  }

  // Skips ModRM, SIB and displacement (SDM Vol. 2A 2.1.5, Tables 2-1 to 2-3)
  // and takes the ModRM reg field as the register operand; returns the
  // position after them, or -1.
  private modrm(bytes: StaticArray<u8>, at: i32, available: i32, addressBits: u32, byteRegister: bool): i32 {
    if (at >= available) {
      this.truncated();
      return -1;
    }
    const modrm = bytes[at++];
    const mod = modrm >> 6, rm = modrm & 7;
    if (mod == 3) {
      this.failure = "ModRM " + log.hex(modrm) + " names a register, not memory";
      return -1;
    }
    this.setRegister(((modrm >> 3) & 7) | ((this.rex & REX_R) != 0 ? 8 : 0), byteRegister);
    if (addressBits == 16) {
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
      if (mod == 0 && (bytes[at] & 7) == 5) displacement = 4;
      at++;
    } else if (mod == 0 && rm == 5) {
      // disp32 alone, RIP-relative in 64-bit mode (2.2.1.6).
      displacement = 4;
    }
    return at + displacement;
  }

  // Registers 4-7 of a byte operand are AH, CH, DH, BH unless any REX
  // prefix is present, which makes them SPL, BPL, SIL, DIL (SDM Vol. 2A 2.2.1.2).
  private setRegister(number: i32, byteRegister: bool): void {
    this.highByte = byteRegister && this.rex == 0 && number >= 4;
    this.register = <Reg>(this.highByte ? number - 4 : number);
  }

  private finish(length: i32, available: i32): bool {
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

// Segment overrides, LOCK, REPNE and REP (SDM Vol. 2A 2.1.1).
function isOtherLegacyPrefix(b: u8): bool {
  return b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65 || b == 0xf0 || b == 0xf2
    || b == 0xf3;
}

function littleEndian(bytes: StaticArray<u8>, at: i32, count: i32): u64 {
  let value: u64 = 0;
  for (let i = count - 1; i >= 0; i--) value = (value << 8) | <u64>bytes[at + i];
  return value;
}
