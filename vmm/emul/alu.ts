// The integer arithmetic the MMIO emulator performs for the guest, with the
// status flags the CPU would leave (Intel SDM Vol. 1 3.4.3.1 and appendix A,
// Vol. 2 "ADD", "ADC", "SUB", "SBB", "CMP", "AND", "OR", "XOR", "TEST",
// "BT"). An instruction such as `orl $1, (%rax)` on a device register reads
// the register, computes, writes the result back and sets RFLAGS: the
// device access is mmio.ts's business, the result and flags are this file's.

import { RFLAGS_AF, RFLAGS_CF, RFLAGS_OF, RFLAGS_PF, RFLAGS_SF, RFLAGS_ZF } from "../../kernel/arch/x86";
import { allOnes } from "../devices/bus";

// The eight operations of opcodes 00-3F and of 80-83's ModRM reg field,
// in their encoding order (SDM Vol. 2D Table A-6, group 1).
export const enum AluOp {
  Add,
  Or,
  Adc,
  Sbb,
  And,
  Sub,
  Xor,
  Cmp,
}

// `a op b` on `size`-byte operands, with the carry flag `carryIn` for ADC
// and SBB: the result, and in `flags` the status flags it sets (the logic
// operations clear CF, OF and AF, which the SDM leaves undefined).
export class AluResult {
  value: u64 = 0;
  flags: u64 = 0;

  compute(op: AluOp, a: u64, b: u64, carryIn: bool, size: u8): void {
    const mask = allOnes(size), sign: u64 = <u64>1 << (<u64>size * 8 - 1);
    a &= mask;
    b &= mask;
    const carry: u64 = (op == AluOp.Adc || op == AluOp.Sbb) && carryIn ? 1 : 0;
    let r: u64 = 0, flags: u64 = 0;
    if (op == AluOp.Add || op == AluOp.Adc) {
      r = (a + b + carry) & mask;
      // Carry out of the top bit: the masked sum wrapped below an operand.
      if (r < a || (carry != 0 && r == a)) flags |= RFLAGS_CF;
      if (((a ^ r) & (b ^ r) & sign) != 0) flags |= RFLAGS_OF;
      flags |= (a ^ b ^ r) & RFLAGS_AF;
    } else if (op == AluOp.Sub || op == AluOp.Sbb || op == AluOp.Cmp) {
      r = (a - b - carry) & mask;
      // A borrow: b (plus the borrow in) exceeds a.
      if (a < b || (carry != 0 && a == b)) flags |= RFLAGS_CF;
      if (((a ^ b) & (a ^ r) & sign) != 0) flags |= RFLAGS_OF;
      flags |= (a ^ b ^ r) & RFLAGS_AF;
    } else {
      r = op == AluOp.And ? a & b : op == AluOp.Or ? a | b : a ^ b;
    }
    this.value = r;
    this.flags = flags | resultFlags(r, sign);
  }
}

// ZF, SF and PF of a result whose top bit is `sign`. PF is set when the
// low byte has an even number of ones.
function resultFlags(r: u64, sign: u64): u64 {
  let flags: u64 = 0;
  if (r == 0) flags |= RFLAGS_ZF;
  if ((r & sign) != 0) flags |= RFLAGS_SF;
  if ((popcnt<u64>(r & 0xff) & 1) == 0) flags |= RFLAGS_PF;
  return flags;
}
