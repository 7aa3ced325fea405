// The MMIO instruction decoder (vmm/emul/decoder.ts) on real encodings (as
// llvm-mc assembles them) in 16-, 32- and 64-bit code: lengths, access
// sizes, directions, operations, register operands, immediates, prefixes,
// failures.
import { beforeAll, describe, expect, it } from "vitest";
import { load, type Exports } from "./harness";

interface DecoderExports {
  setByte(i: number, b: number): void;
  decode(count: number, codeBits: number): number;
  decodedLength(): number;
  decodedAccessSize(): number;
  decodedIsWrite(): number;
  decodedRegister(): number;
  decodedRegisterSize(): number;
  decodedHighByte(): number;
  decodedHasImmediate(): number;
  decodedImmediate(): bigint;
  decodedExtension(): number;
  decodedIsRead(): number;
  decodedOperation(): number;
  decodedAluOp(): number;
  decodedBitOp(): number;
  decodedToMemory(): number;
  decodedRepeat(): number;
  decodedSourceSegment(): number;
  decodedFailure(): number;
}

let e: Exports<DecoderExports>;
beforeAll(async () => {
  e = (await load<DecoderExports>("mmio.ts")).exports;
});

const [RAX, RCX, RDX, RBX, RSP, , RSI, RDI] = [0, 1, 2, 3, 4, 5, 6, 7];
const R9 = 9, R10 = 10, R12 = 12, R15 = 15;
const NONE = 0, ZERO = 1, SIGN = 2;
// decoder.ts Operation, alu.ts AluOp, decoder.ts BitOp, kernel/arch/x86.ts Seg.
const [MOV, ALU, TEST, XCHG, BITTEST, STOS, MOVS, INS, OUTS] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
const [ADD, OR, ADC, SBB, AND, SUB, XOR, CMP] = [0, 1, 2, 3, 4, 5, 6, 7];
const [BT, BTS, BTR, BTC] = [0, 1, 2, 3];
const [DS, FS, GS] = [3, 4, 5];

interface Expected {
  length: number;
  size: number;
  write: boolean;
  reg?: number;
  high?: boolean;
  regSize?: number;
  imm?: bigint;
  ext?: number;
  // Beyond MOV: the operation and its variant, whether it reads the device
  // (MOV: when it does not write), whether an ALU result goes to it, REP,
  // and the source segment of MOVS (DS by default).
  op?: number;
  alu?: number;
  bit?: number;
  read?: boolean;
  toMemory?: boolean;
  rep?: boolean;
  seg?: number;
}

function decode(bits: number, bytes: number[], available = bytes.length): boolean {
  bytes.forEach((b, i) => e.setByte(i, b));
  return e.decode(available, bits) !== 0;
}

function failure(): string {
  return e.__getString(e.decodedFailure());
}

function expectDecoded(bits: number, bytes: number[], x: Expected): void {
  expect(decode(bits, bytes), failure()).toBe(true);
  expect(e.decodedLength()).toBe(x.length);
  expect(e.decodedAccessSize()).toBe(x.size);
  expect(e.decodedIsWrite() !== 0).toBe(x.write);
  expect(e.decodedHasImmediate() !== 0).toBe(x.imm !== undefined);
  if (x.imm !== undefined) expect(e.decodedImmediate()).toBe(x.imm);
  else {
    expect(e.decodedRegister()).toBe(x.reg);
    expect(e.decodedHighByte() !== 0).toBe(x.high ?? false);
    expect(e.decodedRegisterSize()).toBe(x.regSize ?? x.size);
  }
  expect(e.decodedExtension()).toBe(x.ext ?? NONE);
  expect(e.decodedOperation()).toBe(x.op ?? MOV);
  expect(e.decodedIsRead() !== 0).toBe(x.read ?? !x.write);
  if (x.alu !== undefined) {
    expect(e.decodedAluOp()).toBe(x.alu);
    expect(e.decodedToMemory() !== 0).toBe(x.toMemory);
  }
  if (x.bit !== undefined) expect(e.decodedBitOp()).toBe(x.bit);
  expect(e.decodedRepeat() !== 0).toBe(x.rep ?? false);
  expect(e.decodedSourceSegment()).toBe(x.seg ?? DS);
}

type Row = [string, number[], Expected];

const LONG: Row[] = [
  ["mov %eax,(%rcx)", [0x89, 0x01], { length: 2, size: 4, write: true, reg: RAX }],
  ["mov %r9,(%rcx)", [0x4c, 0x89, 0x09], { length: 3, size: 8, write: true, reg: R9 }],
  ["mov (%rcx),%r12", [0x4c, 0x8b, 0x21], { length: 3, size: 8, write: false, reg: R12 }],
  ["mov %r12d,0x10(%rsp,%r13,4)", [0x46, 0x89, 0x64, 0xac, 0x10], { length: 5, size: 4, write: true, reg: R12 }],
  ["mov 0x12345678(%rip),%ecx", [0x8b, 0x0d, 0x78, 0x56, 0x34, 0x12], { length: 6, size: 4, write: false, reg: RCX }],
  ["movb %sil,(%rax) (REX: SIL, not DH)", [0x40, 0x88, 0x30], { length: 3, size: 1, write: true, reg: RSI }],
  ["movb %ah,(%rax)", [0x88, 0x20], { length: 2, size: 1, write: true, reg: RAX, high: true }],
  ["movb (%rax),%dil", [0x40, 0x8a, 0x38], { length: 3, size: 1, write: false, reg: RDI }],
  ["movb %spl,(%rax)", [0x40, 0x88, 0x20], { length: 3, size: 1, write: true, reg: RSP }],
  ["movw %ax,(%rbx)", [0x66, 0x89, 0x03], { length: 3, size: 2, write: true, reg: RAX }],
  ["movq $-2,(%rcx) (imm32 sign-extended)", [0x48, 0xc7, 0x01, 0xfe, 0xff, 0xff, 0xff], {
    length: 7,
    size: 8,
    write: true,
    imm: 0xffff_ffff_ffff_fffen,
  }],
  ["movl $0x12345678,0x1000(%rax)", [0xc7, 0x80, 0x00, 0x10, 0x00, 0x00, 0x78, 0x56, 0x34, 0x12], {
    length: 10,
    size: 4,
    write: true,
    imm: 0x12345678n,
  }],
  ["movw $0x1234,(%rax)", [0x66, 0xc7, 0x00, 0x34, 0x12], { length: 5, size: 2, write: true, imm: 0x1234n }],
  ["movb $0x5a,-1(%rbp)", [0xc6, 0x45, 0xff, 0x5a], { length: 4, size: 1, write: true, imm: 0x5an }],
  ["movabs 0xfeb00008,%eax", [0xa1, 0x08, 0x00, 0xb0, 0xfe, 0, 0, 0, 0], {
    length: 9,
    size: 4,
    write: false,
    reg: RAX,
  }],
  ["movabs %rax,0xfeb00000", [0x48, 0xa3, 0x00, 0x00, 0xb0, 0xfe, 0, 0, 0, 0], {
    length: 10,
    size: 8,
    write: true,
    reg: RAX,
  }],
  ["addr32 mov 0xfeb00000,%al (moffs32)", [0x67, 0xa0, 0x00, 0x00, 0xb0, 0xfe], {
    length: 6,
    size: 1,
    write: false,
    reg: RAX,
  }],
  ["movzbl (%rax),%r10d", [0x44, 0x0f, 0xb6, 0x10], {
    length: 4,
    size: 1,
    write: false,
    reg: R10,
    regSize: 4,
    ext: ZERO,
  }],
  ["movsbq (%rax),%rax", [0x48, 0x0f, 0xbe, 0x00], {
    length: 4,
    size: 1,
    write: false,
    reg: RAX,
    regSize: 8,
    ext: SIGN,
  }],
  ["movswl (%rax),%eax", [0x0f, 0xbf, 0x00], { length: 3, size: 2, write: false, reg: RAX, regSize: 4, ext: SIGN }],
  ["movzwq 8(%rax),%r15", [0x4c, 0x0f, 0xb7, 0x78, 0x08], {
    length: 5,
    size: 2,
    write: false,
    reg: R15,
    regSize: 8,
    ext: ZERO,
  }],
  ["lock mov %eax,(%rcx)", [0xf0, 0x89, 0x01], { length: 3, size: 4, write: true, reg: RAX }],
  ["mov %fs:8(%rax),%eax", [0x64, 0x8b, 0x40, 0x08], { length: 4, size: 4, write: false, reg: RAX, seg: FS }],
  ["addr32 mov (%ecx),%eax", [0x67, 0x8b, 0x01], { length: 3, size: 4, write: false, reg: RAX }],
  ["mov 0xfeb00000,%eax (SIB, no base, disp32)", [0x8b, 0x04, 0x25, 0x00, 0x00, 0xb0, 0xfe], {
    length: 7,
    size: 4,
    write: false,
    reg: RAX,
  }],
  ["REX.W beats 66", [0x66, 0x48, 0x89, 0x01], { length: 4, size: 8, write: true, reg: RAX }],
  ["a REX before a legacy prefix is ignored", [0x4c, 0x66, 0x89, 0x09], { length: 4, size: 2, write: true, reg: RCX }],
  ["rep mov with a segment override", [0xf3, 0x2e, 0x89, 0x01], {
    length: 4,
    size: 4,
    write: true,
    reg: RAX,
    rep: true,
    seg: 1,
  }],
];

// The read-modify-write and string forms (64-bit code, as llvm-mc encodes them).
const RMW = { write: true, read: true };
const READS = { write: false, read: true };
const READ_MODIFY_WRITE: Row[] = [
  ["orq $1,(%rcx)", [0x48, 0x83, 0x09, 0x01], {
    length: 4,
    size: 8,
    ...RMW,
    op: ALU,
    alu: OR,
    toMemory: true,
    imm: 1n,
  }],
  ["orl $0x100,8(%rax)", [0x81, 0x48, 0x08, 0x00, 0x01, 0x00, 0x00], {
    length: 7,
    size: 4,
    ...RMW,
    op: ALU,
    alu: OR,
    toMemory: true,
    imm: 0x100n,
  }],
  ["lock orl $1,(%rcx)", [0xf0, 0x83, 0x09, 0x01], {
    length: 4,
    size: 4,
    ...RMW,
    op: ALU,
    alu: OR,
    toMemory: true,
    imm: 1n,
  }],
  ["addl %eax,(%rcx)", [0x01, 0x01], { length: 2, size: 4, ...RMW, op: ALU, alu: ADD, toMemory: true, reg: RAX }],
  ["addw (%rcx),%dx", [0x66, 0x03, 0x11], {
    length: 3,
    size: 2,
    ...READS,
    op: ALU,
    alu: ADD,
    toMemory: false,
    reg: RDX,
  }],
  ["adcb %ah,(%rbx)", [0x10, 0x23], {
    length: 2,
    size: 1,
    ...RMW,
    op: ALU,
    alu: ADC,
    toMemory: true,
    reg: RAX,
    high: true,
  }],
  ["sbbl $-3,(%rcx) (imm8 sign-extended)", [0x83, 0x19, 0xfd], {
    length: 3,
    size: 4,
    ...RMW,
    op: ALU,
    alu: SBB,
    toMemory: true,
    imm: 0xffff_fffdn,
  }],
  ["andb $0x7f,(%rcx)", [0x80, 0x21, 0x7f], {
    length: 3,
    size: 1,
    ...RMW,
    op: ALU,
    alu: AND,
    toMemory: true,
    imm: 0x7fn,
  }],
  ["subq %r9,(%rcx)", [0x4c, 0x29, 0x09], { length: 3, size: 8, ...RMW, op: ALU, alu: SUB, toMemory: true, reg: R9 }],
  ["xorl (%rcx),%r10d", [0x44, 0x33, 0x11], {
    length: 3,
    size: 4,
    ...READS,
    op: ALU,
    alu: XOR,
    toMemory: false,
    reg: R10,
  }],
  ["cmpl $0x12345678,(%rcx)", [0x81, 0x39, 0x78, 0x56, 0x34, 0x12], {
    length: 6,
    size: 4,
    ...READS,
    op: ALU,
    alu: CMP,
    toMemory: true,
    imm: 0x12345678n,
  }],
  ["cmpb (%rcx),%bh", [0x3a, 0x39], {
    length: 2,
    size: 1,
    ...READS,
    op: ALU,
    alu: CMP,
    toMemory: false,
    reg: RBX,
    high: true,
  }],
  ["testl $0x80000000,(%rcx)", [0xf7, 0x01, 0x00, 0x00, 0x00, 0x80], {
    length: 6,
    size: 4,
    ...READS,
    op: TEST,
    imm: 0x8000_0000n,
  }],
  ["testw $0x8000,(%rcx)", [0x66, 0xf7, 0x01, 0x00, 0x80], { length: 5, size: 2, ...READS, op: TEST, imm: 0x8000n }],
  ["testb %al,(%rcx)", [0x84, 0x01], { length: 2, size: 1, ...READS, op: TEST, reg: RAX }],
  ["xchgl %eax,(%rcx)", [0x87, 0x01], { length: 2, size: 4, ...RMW, op: XCHG, reg: RAX }],
  ["lock xchgq %r8,(%rcx)", [0xf0, 0x4c, 0x87, 0x01], { length: 4, size: 8, ...RMW, op: XCHG, reg: 8 }],
  ["btl %eax,(%rcx)", [0x0f, 0xa3, 0x01], { length: 3, size: 4, ...READS, op: BITTEST, bit: BT, reg: RAX }],
  ["btsl $5,(%rcx)", [0x0f, 0xba, 0x29, 0x05], { length: 4, size: 4, ...RMW, op: BITTEST, bit: BTS, imm: 5n }],
  ["btrq %rdx,(%rcx)", [0x48, 0x0f, 0xb3, 0x11], { length: 4, size: 8, ...RMW, op: BITTEST, bit: BTR, reg: RDX }],
  ["btcw $15,(%rcx)", [0x66, 0x0f, 0xba, 0x39, 0x0f], { length: 5, size: 2, ...RMW, op: BITTEST, bit: BTC, imm: 15n }],
  ["rep stosl", [0xf3, 0xab], { length: 2, size: 4, write: true, read: false, op: STOS, reg: RAX, rep: true }],
  ["stosb", [0xaa], { length: 1, size: 1, write: true, read: false, op: STOS, reg: RAX }],
  ["rep movsq", [0xf3, 0x48, 0xa5], { length: 3, size: 8, ...RMW, op: MOVS, reg: RAX, rep: true }],
  ["movsb %fs:(%rsi),%es:(%rdi)", [0x64, 0xa4], { length: 2, size: 1, ...RMW, op: MOVS, reg: RAX, seg: FS }],
  // INS writes memory, OUTS reads it; REX.W does not make them 64-bit.
  ["rep insw", [0xf3, 0x66, 0x6d], { length: 3, size: 2, write: true, read: false, op: INS, reg: RAX, rep: true }],
  ["rex.W insl", [0x48, 0x6d], { length: 2, size: 4, write: true, read: false, op: INS, reg: RAX }],
  ["outsb %gs:(%rsi),(%dx)", [0x65, 0x6e], {
    length: 2,
    size: 1,
    write: false,
    read: true,
    op: OUTS,
    reg: RAX,
    seg: GS,
  }],
];

const PROTECTED: Row[] = [
  ["mov %eax,(%ecx)", [0x89, 0x01], { length: 2, size: 4, write: true, reg: RAX }],
  ["mov 0xfeb00000,%eax", [0xa1, 0x00, 0x00, 0xb0, 0xfe], { length: 5, size: 4, write: false, reg: RAX }],
  ["mov %eax,0xfeb00000", [0xa3, 0x00, 0x00, 0xb0, 0xfe], { length: 5, size: 4, write: true, reg: RAX }],
  ["movb 0xfeb00000,%al", [0xa0, 0x00, 0x00, 0xb0, 0xfe], { length: 5, size: 1, write: false, reg: RAX }],
  ["mov (%esp),%edx", [0x8b, 0x14, 0x24], { length: 3, size: 4, write: false, reg: RDX }],
  ["movb 0x12(%eax,%ebx,2),%bl", [0x8a, 0x5c, 0x58, 0x12], { length: 4, size: 1, write: false, reg: RBX }],
  ["mov (,%ecx,4),%esi", [0x8b, 0x34, 0x8d, 0, 0, 0, 0], { length: 7, size: 4, write: false, reg: RSI }],
  ["mov 0x10(%ebp),%edi", [0x8b, 0x7d, 0x10], { length: 3, size: 4, write: false, reg: RDI }],
  ["movw %dx,4(%eax)", [0x66, 0x89, 0x50, 0x04], { length: 4, size: 2, write: true, reg: RDX }],
  ["movb %bh,(%edi)", [0x88, 0x3f], { length: 2, size: 1, write: true, reg: RBX, high: true }],
  ["movl $0xcafef00d,0x10(%esp)", [0xc7, 0x44, 0x24, 0x10, 0x0d, 0xf0, 0xfe, 0xca], {
    length: 8,
    size: 4,
    write: true,
    imm: 0xcafef00dn,
  }],
  ["movzwl (%esi),%eax", [0x0f, 0xb7, 0x06], { length: 3, size: 2, write: false, reg: RAX, regSize: 4, ext: ZERO }],
  ["movsbw (%esi),%ax", [0x66, 0x0f, 0xbe, 0x06], {
    length: 4,
    size: 1,
    write: false,
    reg: RAX,
    regSize: 2,
    ext: SIGN,
  }],
  ["addr16 mov (%bx,%si),%eax", [0x67, 0x8b, 0x00], { length: 3, size: 4, write: false, reg: RAX }],
  ["addr16 mov 0x1234,%eax (mod 0, r/m 6: disp16)", [0x67, 0x8b, 0x06, 0x34, 0x12], {
    length: 5,
    size: 4,
    write: false,
    reg: RAX,
  }],
];

const REAL: Row[] = [
  ["mov %ax,(%bx)", [0x89, 0x07], { length: 2, size: 2, write: true, reg: RAX }],
  ["mov (%bp,%di),%cx", [0x8b, 0x0b], { length: 2, size: 2, write: false, reg: RCX }],
  ["mov 0x1234,%ax (moffs16)", [0xa1, 0x34, 0x12], { length: 3, size: 2, write: false, reg: RAX }],
  ["mov 0x1234,%ax (disp16)", [0x8b, 0x06, 0x34, 0x12], { length: 4, size: 2, write: false, reg: RAX }],
  ["movb 0x12(%si),%dl", [0x8a, 0x54, 0x12], { length: 3, size: 1, write: false, reg: RDX }],
  ["movb 0x1234(%bx,%si),%dh", [0x8a, 0xb0, 0x34, 0x12], { length: 4, size: 1, write: false, reg: RDX, high: true }],
  ["mov %eax,(%ecx)", [0x67, 0x66, 0x89, 0x01], { length: 4, size: 4, write: true, reg: RAX }],
  ["movb %ah,(%ecx)", [0x67, 0x88, 0x21], { length: 3, size: 1, write: true, reg: RAX, high: true }],
  ["movzbl 1(%ecx),%edx", [0x67, 0x66, 0x0f, 0xb6, 0x51, 0x01], {
    length: 6,
    size: 1,
    write: false,
    reg: RDX,
    regSize: 4,
    ext: ZERO,
  }],
  ["movswl 2(%ecx),%ecx", [0x67, 0x66, 0x0f, 0xbf, 0x49, 0x02], {
    length: 6,
    size: 2,
    write: false,
    reg: RCX,
    regSize: 4,
    ext: SIGN,
  }],
  ["movw $0xbeef,(%di)", [0xc7, 0x05, 0xef, 0xbe], { length: 4, size: 2, write: true, imm: 0xbeefn }],
  ["movl $0x12345678,(%bx)", [0x66, 0xc7, 0x07, 0x78, 0x56, 0x34, 0x12], {
    length: 7,
    size: 4,
    write: true,
    imm: 0x12345678n,
  }],
  ["addr32 mov 0xfeb00000,%eax", [0x67, 0x66, 0xa1, 0x00, 0x00, 0xb0, 0xfe], {
    length: 7,
    size: 4,
    write: false,
    reg: RAX,
  }],
];

describe("MMIO instruction decoder", () => {
  for (const [bits, rows] of [[64, LONG], [32, PROTECTED], [16, REAL]] as const) {
    describe(`${bits}-bit code`, () => {
      for (const [name, bytes, expected] of rows) it(name, () => expectDecoded(bits, bytes, expected));
    });
  }

  describe("read-modify-write and string instructions", () => {
    for (const [name, bytes, expected] of READ_MODIFY_WRITE) it(name, () => expectDecoded(64, bytes, expected));
  });

  it("takes 82 as 80 outside 64-bit mode only (SDM Vol. 2D Table A-2)", () => {
    expectDecoded(32, [0x82, 0x01, 0x01], { length: 3, size: 1, ...RMW, op: ALU, alu: ADD, toMemory: true, imm: 1n });
    expect(decode(64, [0x82, 0x01, 0x01])).toBe(false);
    expect(failure()).toBe("unsupported opcode 0x82");
  });

  it("refuses the F6/F7 and 0F BA forms that are not TEST or BT*", () => {
    expect(decode(64, [0xf7, 0x19])).toBe(false); // negl (%rcx)
    expect(failure()).toBe("unsupported opcode 0xf7 0x19");
    expect(decode(64, [0x0f, 0xba, 0x01, 0x05])).toBe(false); // 0F BA /0 is undefined
    expect(failure()).toBe("unsupported opcode 0xf 0xba");
  });

  it("ignores bytes after the instruction", () => {
    expectDecoded(64, [0x89, 0x01, 0x0f, 0x0b, 0xcc], { length: 2, size: 4, write: true, reg: RAX });
  });

  it("takes 40-4F as opcodes (INC/DEC), not REX, outside 64-bit mode", () => {
    expect(decode(32, [0x48, 0x89, 0x01])).toBe(false);
    expect(failure()).toBe("unsupported opcode 0x48");
  });

  it("names unsupported opcodes, one byte or two", () => {
    expect(decode(64, [0xff, 0x01])).toBe(false); // incl (%rcx)
    expect(failure()).toBe("unsupported opcode 0xff");
    expect(decode(64, [0x0f, 0x05])).toBe(false);
    expect(failure()).toBe("unsupported opcode 0xf 0x5");
  });

  it("refuses C7 with a reg field other than 0", () => {
    expect(decode(64, [0xc7, 0x08, 1, 2, 3, 4])).toBe(false);
    expect(failure()).toBe("unsupported opcode 0xc7 0x8");
  });

  it("refuses a ModRM that names a register", () => {
    expect(decode(32, [0x89, 0xc1])).toBe(false);
    expect(failure()).toBe("ModRM 0xc1 names a register, not memory");
  });

  it("fails when the bytes end before the instruction does", () => {
    for (
      const [bits, bytes] of [[64, [0x8b, 0x05, 0x78, 0x56]], [32, [0xc7, 0x00, 1, 2, 3]], [64, [0x66, 0x48]], [16, [
        0xa1,
        0x34,
      ]], [32, []]] as const
    ) {
      expect(decode(bits, [...bytes])).toBe(false);
      expect(failure()).toBe("the instruction continues past the bytes that could be read");
    }
  });

  it("takes 15 bytes but not 16 (SDM Vol. 2A 2.3.11)", () => {
    const prefixes = (n: number) => new Array<number>(n).fill(0x3e);
    expectDecoded(32, [...prefixes(13), 0x89, 0x01], { length: 15, size: 4, write: true, reg: RAX });
    expect(decode(32, [...prefixes(14), 0x89, 0x01])).toBe(false);
    expect(failure()).toBe("longer than 15 bytes");
  });
});
