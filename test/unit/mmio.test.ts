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
  cpuSkips(): number;
  setFetched(i: number, b: number, count: number): void;
  mmioExit(gpa: bigint, isWrite: number): number;
  deviceRead(offset: bigint, size: number): bigint;
  vmStopReason(): number;
}

const RAX = 0, RBX = 3, R12 = 12;
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
    code(0x8000n, [0x01, 0x01, 0x90]); // add %eax,(%ecx)
    e.cpuSet(0x8000n, 0n, 32, CR0_PE, 0n, 0n, 0n);
    expect(e.mmioExit(base, 1)).toBe(STOPPED);
    expect(reason()).toMatch(
      new RegExp(
        String.raw`^cannot emulate the MMIO access to 0xfeb00000 by the instruction at rip 0x8000 `
          + String.raw`\(01 01 90 [0-9a-f ]+\): unsupported opcode 0x1$`,
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
