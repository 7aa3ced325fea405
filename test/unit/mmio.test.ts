// MMIO emulation (vmm/emul/mmio.ts): x86 register-write semantics, and whole
// Mmio exits on a VM with the test device's window, a fake vCPU and guest
// RAM in the harness's physical memory: instruction fetch (through the
// guest's page tables, or from decode assists), the access, the register
// write-back, RIP, and the reasons a VM is stopped for.
import { beforeEach, describe, expect, it } from "vitest";
import { load, type Exports, type Unit } from "./harness";

interface MmioExports {
  guestRamHost(): bigint;
  testMmioBase(): bigint;
  vmReset(): void;
  regGet(r: number): bigint;
  regSet(r: number, v: bigint): void;
  regWrite(r: number, highByte: number, size: number, value: bigint, mode64: number): void;
  regRead(r: number, highByte: number): bigint;
  cpuSet(rip: bigint, csBase: bigint, codeBits: number, cr0: bigint, cr3: bigint, cr4: bigint, efer: bigint): void;
  cpuRip(): bigint;
  cpuRflags(): bigint;
  cpuSetRflags(v: bigint): void;
  cpuSetSegmentBase(seg: number, base: bigint): void;
  deviceWrite(offset: bigint, size: number, value: bigint): void;
  aluCompute(op: number, a: bigint, b: bigint, carryIn: number, size: number): bigint;
  aluFlags(): bigint;
  taskPriorityExit(isWrite: number, register: number): number;
  apicTaskPriority(): number;
  lastException(): number;
  cpuRsp(): bigint;
  cpuSkips(): number;
  setFetched(i: number, b: number, count: number): void;
  mmioExit(gpa: bigint, isWrite: number): number;
  deviceRead(offset: bigint, size: number): bigint;
  vmStopReason(): number;
  memoMatches(): number;
  memoStore(gpa: bigint): number;
  memoLength(): number;
  apicEnable(): void;
  apicTake(vector: number, levelTriggered: number): void;
  apicRaise(vector: number): void;
  apicInService(i: number): number;
}

const RAX = 0, RCX = 1, RBX = 3, RSI = 6, RDI = 7, R10 = 10, R12 = 12;
const ES = 0;
const RESUME = 0, STOPPED = 3;
const ONES = 0xffff_ffff_ffff_ffffn;

let unit: Unit<MmioExports>;
let e: Exports<MmioExports>;
let base: bigint;

beforeEach(async () => {
  unit = await load<MmioExports>("mmio.ts");
  e = unit.exports;
  base = e.testMmioBase();
});

const code = (gpa: bigint, bytes: number[]) => unit.machine.phys.writeBytes(e.guestRamHost() + gpa, bytes);
const entry = (gpa: bigint, value: bigint) => unit.machine.phys.write64(e.guestRamHost() + gpa, value);
// Long-mode tables: PML4 at 0x1000 -> PDPT 0x2000 -> PD 0x3000, whose first
// entry identity-maps the first 2 MiB with one large page.
function identityMapFirst2MiB(): void {
  entry(0x1000n, 0x2003n);
  entry(0x2000n, 0x3003n);
  entry(0x3000n, 0x83n);
}
const reason = () => e.__getString(e.vmStopReason());

describe("register write-back", () => {
  beforeEach(() => e.regSet(RBX, 0x1111_2222_3333_4444n));
  it("8- and 16-bit writes replace only their bits", () => {
    e.regWrite(RBX, 0, 1, 0xabn, 1);
    expect(e.regGet(RBX)).toBe(0x1111_2222_3333_44abn);
    e.regWrite(RBX, 0, 2, 0xbeefn, 1);
    expect(e.regGet(RBX)).toBe(0x1111_2222_3333_beefn);
  });
  it("a high-byte register is bits 15:8", () => {
    e.regWrite(RBX, 1, 1, 0x1cdn, 1);
    expect(e.regGet(RBX)).toBe(0x1111_2222_3333_cd44n);
    expect(e.regRead(RBX, 1)).toBe(0xcdn);
    expect(e.regRead(RBX, 0)).toBe(0x1111_2222_3333_cd44n);
  });
  it("a 32-bit write clears the upper half in 64-bit mode only", () => {
    e.regWrite(RBX, 0, 4, 0xdead_beefn, 0);
    expect(e.regGet(RBX)).toBe(0x1111_2222_dead_beefn);
    e.regWrite(RBX, 0, 4, 0xcafe_f00dn, 1);
    expect(e.regGet(RBX)).toBe(0xcafe_f00dn);
  });
  it("a 64-bit write replaces the register", () => {
    e.regWrite(RBX, 0, 8, 0x0123_4567_89ab_cdefn, 1);
    expect(e.regGet(RBX)).toBe(0x0123_4567_89ab_cdefn);
  });
});

describe("emulated MMIO exits", () => {
  const CR0_PE = 0x11n, CR0_PG = 0x8000_0011n, CR4_PAE = 0x20n, EFER_LONG = 0x500n;
  beforeEach(() => e.vmReset());

  it("a 32-bit store in protected mode without paging", () => {
    code(0x8000n, [0x89, 0x01]); // mov %eax,(%ecx)
    e.cpuSet(0x8000n, 0n, 32, CR0_PE, 0n, 0n, 0n);
    e.regSet(RAX, 0xffff_ffff_1122_3344n);
    expect(e.mmioExit(base, 1)).toBe(RESUME);
    expect(e.deviceRead(0n, 8)).toBe(0x1122_3344n);
    expect(e.cpuRip()).toBe(0x8002n);
    expect(e.cpuSkips()).toBe(1);
  });

  it("a 16-bit load merges into the register", () => {
    code(0x8000n, [0x89, 0x01, 0x66, 0x8b, 0x01]); // mov %eax,(%ecx); mov (%ecx),%ax
    e.cpuSet(0x8000n, 0n, 32, CR0_PE, 0n, 0n, 0n);
    e.regSet(RAX, 0x1234_5678n);
    e.mmioExit(base, 1);
    e.regSet(RAX, ONES);
    expect(e.mmioExit(base, 0)).toBe(RESUME);
    expect(e.regGet(RAX)).toBe(0xffff_ffff_ffff_5678n);
    expect(e.cpuRip()).toBe(0x8005n);
  });

  it("real mode: CS base plus IP, 66 and 67 prefixes, a high-byte store", () => {
    code(0x12340n, [0x67, 0x88, 0x21]); // movb %ah,(%ecx)
    e.cpuSet(0x10n, 0x12330n, 16, 0x10n, 0n, 0n, 0n);
    e.regSet(RAX, 0x5a00n);
    expect(e.mmioExit(base + 1n, 1)).toBe(RESUME);
    expect(e.deviceRead(0n, 4)).toBe(0x5a00n);
    expect(e.cpuRip()).toBe(0x13n);
  });

  it("long mode: an instruction split across two pages that translate apart", () => {
    // PML4 0x1000 -> PDPT 0x2000 -> PD 0x3000 -> PT 0x4000; linear 0x400000 -> 0x20000, 0x401000 -> 0x50000.
    entry(0x1000n, 0x2003n);
    entry(0x2000n, 0x3003n);
    entry(0x3000n + 2n * 8n, 0x4003n);
    entry(0x4000n, 0x20003n);
    entry(0x4000n + 8n, 0x50003n);
    code(0x20ffen, [0x4c, 0x8b]); // mov (%rcx),%r12: its ModRM is on the next page
    code(0x50000n, [0x21]);
    code(0x20000n + 0xff0n, [0x48, 0xc7, 0x01, 0xfe, 0xff, 0xff, 0xff]); // movq $-2,(%rcx)
    e.cpuSet(0x400ff0n, 0n, 64, CR0_PG, 0x1000n, CR4_PAE, EFER_LONG);
    expect(e.mmioExit(base, 1)).toBe(RESUME);
    expect(e.deviceRead(0n, 8)).toBe(0xffff_ffff_ffff_fffen);
    e.cpuSet(0x400ffen, 0n, 64, CR0_PG, 0x1000n, CR4_PAE, EFER_LONG);
    expect(e.mmioExit(base, 0)).toBe(RESUME);
    expect(e.regGet(R12)).toBe(0xffff_ffff_ffff_fffen);
    expect(e.cpuRip()).toBe(0x401001n);
  });

  it("long mode: MOVSX and MOVZX of the ID register's bytes, and a 32-bit load zero-extends", () => {
    const id = base + 8n;
    identityMapFirst2MiB();
    // movsbq (%rcx),%rax; movzbl; mov (%rcx),%eax
    code(0x8000n, [0x48, 0x0f, 0xbe, 0x01, 0x0f, 0xb6, 0x01, 0x8b, 0x01]);
    e.cpuSet(0x8000n, 0n, 64, CR0_PG, 0x1000n, CR4_PAE, EFER_LONG);
    e.regSet(RAX, ONES);
    e.mmioExit(id + 3n, 0); // 'O' = 0x4f
    expect(e.regGet(RAX)).toBe(0x4fn);
    e.mmioExit(id, 0);
    expect(e.regGet(RAX)).toBe(0x54n);
    e.regSet(RAX, ONES);
    e.mmioExit(id, 0);
    expect(e.regGet(RAX)).toBe(0x4f49_4d54n);
    expect(e.cpuRip()).toBe(0x8009n);
    // Sign extension proper: a byte with bit 7 set.
    code(0x9000n, [0xc6, 0x01, 0x80, 0x48, 0x0f, 0xbe, 0x01]); // movb $0x80,(%rcx); movsbq (%rcx),%rax
    e.cpuSet(0x9000n, 0n, 64, CR0_PG, 0x1000n, CR4_PAE, EFER_LONG);
    e.mmioExit(base, 1);
    e.mmioExit(base, 0);
    expect(e.regGet(RAX)).toBe(0xffff_ffff_ffff_ff80n);
  });

  it("uses the bytes decode assists fetched, without reading guest memory", () => {
    [0x89, 0x19].forEach((b, i) => e.setFetched(i, b, 2)); // mov %ebx,(%rcx)
    e.cpuSet(0x7000_0000n, 0n, 32, CR0_PE, 0n, 0n, 0n); // not RAM
    e.regSet(RBX, 0xabcdn);
    expect(e.mmioExit(base, 1)).toBe(RESUME);
    expect(e.deviceRead(0n, 4)).toBe(0xabcdn);
    expect(e.cpuRip()).toBe(0x7000_0002n);
  });

  // As on a PC's empty bus: a read is all ones, a write vanishes, the guest
  // goes on; the log notes the first few and then every power of two.
  it("completes an access no device claims: all ones read, the write dropped, a note in the log", () => {
    e.cpuSet(0x8000n, 0n, 32, CR0_PE, 0n, 0n, 0n);
    for (let i = 0; i < 9; i++) {
      code(0x8000n + BigInt(4 * i), [0x89, 0x01]); // mov %eax,(%ecx)
      code(0x8002n + BigInt(4 * i), [0x8b, 0x19]); // mov (%ecx),%ebx
      expect(e.mmioExit(0x2000_0000n, 1)).toBe(RESUME);
      expect(e.mmioExit(0x2000_0000n, 0)).toBe(RESUME);
      expect(e.regGet(RBX)).toBe(0xffff_ffffn);
    }
    expect(e.cpuRip()).toBe(0x8000n + 9n * 4n);
    const notes = [...unit.machine.serial().matchAll(/vm unit: (read from|write to) 0x20000000, .* \((\d+) such/g)];
    expect(notes.map((m) => Number(m[2]))).toEqual([1, 2, 3, 4, 8, 16]);
    expect(notes[0][1]).toBe("write to");
  });

  it("stops the VM at an instruction it cannot decode, naming RIP and the bytes", () => {
    code(0x8000n, [0xff, 0x01, 0x90]); // incl (%ecx)
    e.cpuSet(0x8000n, 0n, 32, CR0_PE, 0n, 0n, 0n);
    expect(e.mmioExit(base, 1)).toBe(STOPPED);
    expect(reason()).toMatch(
      new RegExp(
        String.raw`^cannot emulate the MMIO access to 0xfeb00000 by the instruction at rip 0x8000 `
          + String.raw`\(ff 01 90 [0-9a-f ]+\): unsupported opcode 0xff$`,
      ),
    );
  });

  it("stops the VM for RSP as the operand, and for a direction the exit contradicts", () => {
    code(0x8000n, [0x89, 0x21]); // mov %esp,(%ecx)
    e.cpuSet(0x8000n, 0n, 32, CR0_PE, 0n, 0n, 0n);
    expect(e.mmioExit(base, 1)).toBe(STOPPED);
    expect(reason()).toMatch(/RSP as the register operand is not supported$/);
    e.vmReset();
    code(0x8000n, [0x89, 0x01]);
    expect(e.mmioExit(base, 0)).toBe(STOPPED);
    expect(reason()).toMatch(/the instruction's direction differs from the exit's$/);
    expect(e.cpuSkips()).toBe(0);
  });

  it("stops the VM when the instruction's page is not mapped", () => {
    e.cpuSet(0x40_0000n, 0n, 64, CR0_PG, 0x1000n, CR4_PAE, EFER_LONG);
    expect(e.mmioExit(base, 0)).toBe(STOPPED);
    expect(reason()).toBe(
      "MMIO access to 0xfeb00000: cannot read the instruction at rip 0x400000 (the page-table entry "
        + "at 0x1000 is not present)",
    );
  });

  it("refuses SPL (REX with register 4) as it refuses RSP", () => {
    code(0x8000n, [0x40, 0x88, 0x21]); // movb %spl,(%rcx)
    e.cpuSet(0x8000n, 0n, 64, CR0_PG, 0x1000n, CR4_PAE, EFER_LONG);
    identityMapFirst2MiB();
    expect(e.mmioExit(base, 1)).toBe(STOPPED);
    expect(reason()).toMatch(/RSP as the register operand/);
  });
});

// RFLAGS' status bits (SDM Vol. 1 3.4.3.1).
const CF = 1n, PF = 4n, AF = 0x10n, ZF = 0x40n, SF = 0x80n, OF = 0x800n, DF = 0x400n;

describe("the arithmetic's results and flags", () => {
  const [ADD, OR, ADC, SBB, AND, SUB, XOR, CMP] = [0, 1, 2, 3, 4, 5, 6, 7];
  type Case = [string, number, bigint, bigint, boolean, number, bigint, bigint];
  const cases: Case[] = [
    ["add: a carry out of the byte, zero, parity", ADD, 0xffn, 1n, false, 1, 0n, CF | ZF | PF | AF],
    ["add: a signed overflow", ADD, 0x7fff_ffffn, 1n, false, 4, 0x8000_0000n, OF | SF | PF | AF],
    ["add: 64 bits carry out", ADD, ONES, 2n, false, 8, 1n, CF | AF],
    ["adc: the carry in counts", ADC, 0xfffen, 1n, true, 2, 0n, CF | ZF | PF | AF],
    ["adc: all ones plus 0 and a carry", ADC, ONES, 0n, true, 8, 0n, CF | ZF | PF | AF],
    ["sub: a borrow", SUB, 1n, 2n, false, 4, 0xffff_ffffn, CF | SF | PF | AF],
    ["sub: a signed overflow", SUB, 0x80n, 1n, false, 1, 0x7fn, OF | AF],
    ["sbb: equal operands and a borrow in", SBB, 5n, 5n, true, 4, 0xffff_ffffn, CF | SF | PF | AF],
    ["cmp: equal", CMP, 0x1234n, 0x1234n, false, 2, 0n, ZF | PF],
    ["and: clears CF, OF and AF", AND, 0xf0n, 0x3cn, true, 1, 0x30n, PF],
    ["or: the sign", OR, 0x8000_0000_0000_0000n, 1n, false, 8, 0x8000_0000_0000_0001n, SF],
    ["xor: odd parity in the low byte", XOR, 0x100n, 0x1n, false, 2, 0x101n, 0n],
  ];
  for (const [name, op, a, b, carry, size, value, flags] of cases) {
    it(name, () => {
      expect(e.aluCompute(op, a, b, carry ? 1 : 0, size)).toBe(value);
      expect(e.aluFlags()).toBe(flags);
    });
  }
});

describe("read-modify-write and string instructions on a device", () => {
  const CR0_PE = 0x11n, CR0_PG = 0x8000_0011n, CR4_PAE = 0x20n, EFER_LONG = 0x500n;
  const BUFFER = 0x800n;
  beforeEach(() => {
    e.vmReset();
    identityMapFirst2MiB();
    e.cpuSetRflags(2n);
  });
  const longMode = (rip = 0x8000n) => e.cpuSet(rip, 0n, 64, CR0_PG, 0x1000n, CR4_PAE, EFER_LONG);
  const protectedMode = (rip = 0x8000n) => e.cpuSet(rip, 0n, 32, CR0_PE, 0n, 0n, 0n);

  it("orq $1: reads, sets the bit, writes back, sets the flags, moves RIP", () => {
    code(0x8000n, [0x48, 0x83, 0x09, 0x01]);
    longMode();
    e.deviceWrite(0n, 8, 0x80n);
    e.cpuSetRflags(2n | CF | ZF | 0x200n);
    expect(e.mmioExit(base, 1)).toBe(RESUME);
    expect(e.deviceRead(0n, 8)).toBe(0x81n);
    expect(e.cpuRflags()).toBe(2n | PF | 0x200n); // IF stays; CF and ZF cleared
    expect(e.cpuRip()).toBe(0x8004n);
  });

  it("takes a read-modify-write the exit reports as a read", () => {
    code(0x8000n, [0x80, 0x21, 0x7f]); // andb $0x7f,(%rcx)
    protectedMode();
    e.deviceWrite(0n, 1, 0xffn);
    expect(e.mmioExit(base, 0)).toBe(RESUME);
    expect(e.deviceRead(0n, 1)).toBe(0x7fn);
  });

  it("cmp and test set the flags and write nothing", () => {
    // cmpl $0x12345678,(%rcx); testl $0x80000000,(%rcx)
    code(0x8000n, [0x81, 0x39, 0x78, 0x56, 0x34, 0x12, 0xf7, 0x01, 0, 0, 0, 0x80]);
    longMode();
    e.deviceWrite(0n, 4, 0x1234_5677n);
    expect(e.mmioExit(base, 0)).toBe(RESUME);
    expect(e.cpuRflags() & (CF | ZF | SF)).toBe(CF | SF);
    expect(e.mmioExit(base, 0)).toBe(RESUME);
    expect(e.cpuRflags() & (CF | ZF | SF)).toBe(ZF);
    expect(e.deviceRead(0n, 4)).toBe(0x1234_5677n);
    expect(e.cpuRip()).toBe(0x800cn);
  });

  it("xorl (%rcx),%r10d: the result goes to the register, its upper half cleared", () => {
    code(0x8000n, [0x44, 0x33, 0x11]);
    longMode();
    e.deviceWrite(0n, 4, 0xff00_ff00n);
    e.regSet(R10, 0xdead_beef_0f0f_0f0fn);
    expect(e.mmioExit(base, 0)).toBe(RESUME);
    expect(e.regGet(R10)).toBe(0xf00f_f00fn);
    expect(e.deviceRead(0n, 4)).toBe(0xff00_ff00n);
    expect(e.cpuRflags() & SF).toBe(SF);
  });

  it("xchg swaps the register and the device register", () => {
    code(0x8000n, [0x87, 0x01]); // xchgl %eax,(%rcx)
    longMode();
    e.deviceWrite(0n, 4, 0x1111n);
    e.regSet(RAX, 0xffff_ffff_0000_2222n);
    e.cpuSetRflags(2n | CF);
    expect(e.mmioExit(base, 1)).toBe(RESUME);
    expect(e.deviceRead(0n, 4)).toBe(0x2222n);
    expect(e.regGet(RAX)).toBe(0x1111n);
    expect(e.cpuRflags()).toBe(2n | CF); // no flags change
  });

  it("bt, bts and btr: CF is the bit's old value; the bit number wraps at the operand's width", () => {
    // btl %eax,(%rcx); btsl $5,(%rcx); btrq %rdx,(%rcx)
    code(0x8000n, [0x0f, 0xa3, 0x01, 0x0f, 0xba, 0x29, 0x05, 0x48, 0x0f, 0xb3, 0x11]);
    longMode();
    e.deviceWrite(0n, 8, 0x8000_0000_0000_0020n);
    e.regSet(RAX, 37n); // bit 5 of the 32-bit operand the CPU reported
    e.regSet(2, 63n);
    expect(e.mmioExit(base, 0)).toBe(RESUME);
    expect(e.cpuRflags() & CF).toBe(CF);
    e.deviceWrite(0n, 8, 0n);
    expect(e.mmioExit(base, 1)).toBe(RESUME);
    expect(e.cpuRflags() & CF).toBe(0n);
    expect(e.deviceRead(0n, 8)).toBe(0x20n);
    e.deviceWrite(0n, 8, 0x8000_0000_0000_0020n);
    expect(e.mmioExit(base, 1)).toBe(RESUME);
    expect(e.cpuRflags() & CF).toBe(CF);
    expect(e.deviceRead(0n, 8)).toBe(0x20n);
    expect(e.cpuRip()).toBe(0x800bn);
  });

  it("rep stosl fills the device and completes, rDI and rCX stepped", () => {
    code(0x8000n, [0xf3, 0xab]);
    protectedMode();
    e.regSet(RAX, 0xdead_beefn);
    e.regSet(RDI, base + BUFFER);
    e.regSet(RCX, 4n);
    expect(e.mmioExit(base + BUFFER, 1)).toBe(RESUME);
    for (let i = 0n; i < 4n; i++) expect(e.deviceRead(BUFFER + 4n * i, 4)).toBe(0xdead_beefn);
    expect(e.regGet(RDI)).toBe(base + BUFFER + 16n);
    expect(e.regGet(RCX)).toBe(0n);
    expect(e.cpuRip()).toBe(0x8002n);
  });

  it("with DF set the string runs down", () => {
    code(0x8000n, [0xf3, 0x66, 0xab]); // rep stosw
    protectedMode();
    e.cpuSetRflags(2n | DF);
    e.regSet(RAX, 0x1234n);
    e.regSet(RDI, base + BUFFER + 6n);
    e.regSet(RCX, 3n);
    expect(e.mmioExit(base + BUFFER + 6n, 1)).toBe(RESUME);
    expect(e.deviceRead(BUFFER + 2n, 8)).toBe(0x1234_1234_1234n);
    expect(e.regGet(RDI)).toBe(base + BUFFER);
  });

  it("stops a REP string at the end of the device's page and leaves RIP on it", () => {
    code(0x8000n, [0xf3, 0xaa]); // rep stosb
    protectedMode();
    e.regSet(RAX, 0x5an);
    e.regSet(RDI, base + 0xff0n);
    e.regSet(RCX, 0x20n);
    expect(e.mmioExit(base + 0xff0n, 1)).toBe(RESUME);
    expect(e.regGet(RCX)).toBe(0x10n);
    expect(e.regGet(RDI)).toBe(base + 0x1000n);
    expect(e.deviceRead(0xff8n, 8)).toBe(0x5a5a_5a5a_5a5a_5a5an);
    expect(e.cpuRip()).toBe(0x8000n);
    expect(e.cpuSkips()).toBe(0);
  });

  it("movs copies RAM to the device and the device to RAM", () => {
    code(0x8000n, [0xf3, 0x48, 0xa5, 0xf3, 0xa4]); // rep movsq; rep movsb
    code(0x9000n, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    // The device's 2 MiB too: PDPT entry 3 -> PD 0x5000, entry 501 -> 0xfea00000.
    entry(0x2000n + 3n * 8n, 0x5003n);
    entry(0x5000n + 501n * 8n, 0xfea0_0083n);
    longMode();
    e.regSet(RSI, 0x9000n);
    e.regSet(RDI, base + BUFFER);
    e.regSet(RCX, 2n);
    expect(e.mmioExit(base + BUFFER, 1)).toBe(RESUME);
    expect(e.deviceRead(BUFFER, 8)).toBe(0x0807_0605_0403_0201n);
    expect(e.deviceRead(BUFFER + 8n, 8)).toBe(0x100f_0e0d_0c0b_0a09n);
    expect([e.regGet(RSI), e.regGet(RDI), e.regGet(RCX)]).toEqual([0x9010n, base + BUFFER + 16n, 0n]);
    e.regSet(RSI, base + BUFFER + 8n);
    e.regSet(RDI, 0xa000n);
    e.regSet(RCX, 3n);
    expect(e.mmioExit(base + BUFFER + 8n, 0)).toBe(RESUME);
    expect(unit.machine.phys.read64(e.guestRamHost() + 0xa000n) & 0xff_ffffn).toBe(0x0b_0a09n);
    expect(e.cpuRip()).toBe(0x8005n);
  });

  it("movs in real mode: segment bases and 16-bit SI, DI and CX", () => {
    code(0x8000n, [0xf3, 0xa4]); // rep movsb (16-bit addressing)
    e.cpuSet(0x8000n, 0n, 16, 0x10n, 0n, 0n, 0n);
    e.cpuSetSegmentBase(3, 0x9000n); // DS
    e.cpuSetSegmentBase(ES, 0xfeb0_0000n);
    code(0x9010n, [0xaa, 0xbb]);
    e.regSet(RSI, 0xffff_0010n); // the upper bits are not part of SI
    e.regSet(RDI, BUFFER);
    e.regSet(RCX, 0x7777_0002n);
    expect(e.mmioExit(base + BUFFER, 1)).toBe(RESUME);
    expect(e.deviceRead(BUFFER, 2)).toBe(0xbbaan);
    expect(e.regGet(RSI)).toBe(0xffff_0012n);
    expect(e.regGet(RCX)).toBe(0x7777_0000n);
    e.cpuSetSegmentBase(ES, 0n);
  });

  it("stops the VM when the string's device end is not where the exit was", () => {
    code(0x8000n, [0xaa]); // stosb
    protectedMode();
    e.regSet(RDI, base + BUFFER);
    expect(e.mmioExit(base + BUFFER + 0x10n, 1)).toBe(STOPPED);
    expect(reason()).toMatch(/the string's destination translates to 0xfeb00800, not to the address that exited$/);
  });
});

// CR8 (vmm/emul/taskpriority.ts): the APIC's TPR bits 7:4, by the register
// the backend named or by decoding the MOV (AMD-V without decode assists).
describe("CR8 accesses", () => {
  const CR0_PG = 0x8000_0011n, CR4_PAE = 0x20n, EFER_LONG = 0x500n;
  const RSP = 4, R9 = 9;
  beforeEach(() => {
    e.vmReset();
    identityMapFirst2MiB();
    e.cpuSet(0x8000n, 0n, 64, CR0_PG, 0x1000n, CR4_PAE, EFER_LONG);
  });

  it("a write sets TPR bits 7:4 and clears 3:0; a read returns them", () => {
    e.regSet(RAX, 0x7n);
    expect(e.taskPriorityExit(1, RAX)).toBe(RESUME);
    expect(e.apicTaskPriority()).toBe(0x70);
    e.regSet(RBX, ONES);
    expect(e.taskPriorityExit(0, RBX)).toBe(RESUME);
    expect(e.regGet(RBX)).toBe(7n);
    expect(e.cpuSkips()).toBe(2);
  });

  it("decodes the MOV when the backend could not name the register: REX.R for CR8, REX.B for r9", () => {
    code(0x8000n, [0x45, 0x0f, 0x22, 0xc1, 0x44, 0x0f, 0x20, 0xc3]); // mov %r9,%cr8; mov %cr8,%rbx
    e.regSet(R9, 0xcn);
    expect(e.taskPriorityExit(1, -1)).toBe(RESUME);
    expect(e.apicTaskPriority()).toBe(0xc0);
    expect(e.cpuRip()).toBe(0x8004n);
    expect(e.taskPriorityExit(0, -1)).toBe(RESUME);
    expect(e.regGet(RBX)).toBe(0xcn);
    expect(e.cpuRip()).toBe(0x8008n);
  });

  it("refuses a value above 15 with #GP and leaves RIP", () => {
    e.regSet(RAX, 16n);
    expect(e.taskPriorityExit(1, RAX)).toBe(RESUME);
    expect(e.__getString(e.lastException())).toBe("13:0");
    expect(e.cpuSkips()).toBe(0);
  });

  it("stops the VM at an instruction that is no MOV CR8", () => {
    code(0x8000n, [0x0f, 0x22, 0xc0]); // mov %rax,%cr0
    expect(e.taskPriorityExit(1, -1)).toBe(STOPPED);
    expect(reason()).toBe("cannot decode the CR8 access at rip 0x8000");
  });

  it("RSP as the register: the VMCB's or VMCS's, not the register block's", () => {
    e.regSet(RAX, 9n);
    e.taskPriorityExit(1, RAX);
    e.regSet(RSP, 0x1234n);
    expect(e.taskPriorityExit(0, RSP)).toBe(RESUME);
    expect(e.cpuRsp()).toBe(9n);
    expect(e.regGet(RSP)).toBe(0x1234n);
  });
});

// The vCPU's memo of its last store to its local APIC (vmm/core/storememo.ts),
// which the exit fast path replays without fetching or decoding.
describe("the store memo", () => {
  const CR0_PG = 0x8000_0011n, CR4_PAE = 0x20n, EFER_LONG = 0x500n;
  const EOI = 0xfee0_00b0n, TPR = 0xfee0_0080n;
  // Linear 0x400000 -> 0x20000 through PML4 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000.
  const longMode = () => e.cpuSet(0x400010n, 0n, 64, CR0_PG, 0x1000n, CR4_PAE, EFER_LONG);
  // A fresh VM whose vCPU stored to its APIC's EOI register once, and is
  // back at the instruction.
  const remember = () => {
    e.vmReset();
    entry(0x1000n, 0x2003n);
    entry(0x2000n, 0x3003n);
    entry(0x3000n + 2n * 8n, 0x4003n);
    entry(0x4000n, 0x20003n);
    code(0x20010n, [0x89, 0x01, 0x90, 0x90]); // mov %eax,(%rcx); nop; nop
    longMode();
    e.apicEnable();
    expect(e.mmioExit(EOI, 1)).toBe(RESUME);
    longMode(); // the same instruction again
  };
  beforeEach(remember);

  it("recognises the instruction while its bytes and the walk to it are unchanged", () => {
    expect(e.memoLength()).toBe(2);
    expect(e.memoMatches()).toBe(1);
    code(0x20012n, [0xcc]); // past its end
    expect(e.memoMatches()).toBe(1);
    code(0x20011n, [0x02]); // mov %eax,(%rdx)
    expect(e.memoMatches()).toBe(0);
  });

  it("does not recognise it through a changed page-table entry, CR3 or mode", () => {
    entry(0x4000n, 0x30003n); // the same linear page, now elsewhere
    expect(e.memoMatches()).toBe(0);
    entry(0x4000n, 0x20003n);
    expect(e.memoMatches()).toBe(1);
    entry(0x2000n, 0x3007n); // an upper level's bits
    expect(e.memoMatches()).toBe(0);
    entry(0x2000n, 0x3003n);
    e.cpuSet(0x400010n, 0n, 64, CR0_PG, 0x5000n, CR4_PAE, EFER_LONG);
    expect(e.memoMatches()).toBe(0);
    e.cpuSet(0x400010n, 0n, 32, CR0_PG, 0x1000n, CR4_PAE, EFER_LONG);
    expect(e.memoMatches()).toBe(0);
    e.cpuSet(0x400012n, 0n, 64, CR0_PG, 0x1000n, CR4_PAE, EFER_LONG);
    expect(e.memoMatches()).toBe(0);
  });

  it("replays an EOI quickly only when it ends an edge-triggered interrupt with none waiting", () => {
    const VECTOR_WORD = 2, BIT = 1 << 1; // vector 0x41
    e.apicTake(0x41, 0);
    expect(e.apicInService(VECTOR_WORD)).toBe(BIT);
    expect(e.memoStore(EOI)).toBe(1);
    expect(e.apicInService(VECTOR_WORD)).toBe(0);
    expect(e.memoStore(EOI)).toBe(1); // none in service: nothing to end
    e.apicTake(0x41, 0);
    e.apicRaise(0x42); // the EOI would let it in: the long way delivers it
    expect(e.memoStore(EOI)).toBe(0);
    expect(e.apicInService(VECTOR_WORD)).toBe(BIT);
    remember();
    expect(e.memoMatches()).toBe(1);
    e.apicTake(0x43, 1); // level-triggered: the I/O APIC must hear of it
    expect(e.memoStore(EOI)).toBe(0);
    expect(e.memoStore(TPR)).toBe(0);
  });
});
