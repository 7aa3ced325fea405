// The CPUID policy (vmm/emul/cpuidpolicy.ts): what a guest sees of a host
// CPU. Three fake hosts (fakehost.ts) — an Intel CPU whose highest basic
// leaf is 0xD, a newer Intel CPU with leaves up to 0x1F and its own TSC
// leaves, an AMD CPU — and for each the guest's view through emulateCpuid():
// the hypervisor bit and leaves, features hidden (VMX, SVM, MONITOR, the MSR
// interfaces the MSR policy refuses) and offered (x2APIC, TSC deadline,
// TSC_ADJUST), OSXSAVE following the guest's CR4, the VM's topology (each
// vCPU a package of its own, its APIC ID in the topology fields), the TSC
// leaves 0x15/0x16 from the calibrated TSC, and zero beyond the host's basic
// leaves. Then the per-vCPU CpuidTable of the backends' fast path, whose
// answers must be the policy's for every leaf it holds.
// Intel SDM Vol. 2A "CPUID" (Tables 3-8, 3-10, 3-11); AMD APM Vol. 3 Appendix E.
import { beforeEach, describe, expect, it } from "vitest";
import { CpuidHost, FakeTsc, type Regs } from "./fakehost";
import { load, type Exports, type Unit } from "./harness";

interface CpuidExports {
  calibrate(tscPerMs: bigint): void;
  initXstate(): void;
  makeVm(vcpus: number): void;
  guestCpuid(i: number, rax: bigint, rcx: bigint, cr4: bigint): void;
  countExits(kind: number, n: number): void;
  reg(i: number, r: number): bigint;
  apicId(i: number): number;
  readApicBase(i: number): bigint;
  writeApicBase(i: number, value: bigint): number;
  makeTable(): void;
  tableAnswer(leaf: number, fill: bigint): number;
  tableRax(): bigint;
  tableReg(r: number): bigint;
}

const RAX = 0, RCX = 1, RDX = 2, RBX = 3;
const CR4_OSXSAVE = 1n << 18n, CR4_PKE = 1n << 22n;
const bit = (n: number) => 2 ** n; // as a non-negative number, bit 31 included
const bits = (...ns: number[]) => ns.reduce((v, n) => v + bit(n), 0);
const without = (v: number, mask: number) => (v & ~mask) >>> 0;
const ascii = (s: string) => Buffer.from(s, "latin1").readUInt32LE(0);

// ---- leaf 1 (SDM Vol. 2A Tables 3-10 and 3-11)
const SSE3 = 0, PCLMUL = 1, DTES64 = 2, MONITOR = 3, DS_CPL = 4, VMX = 5, SMX = 6, EST = 7, TM2 = 8, SSSE3 = 9;
const CNXT_ID = 10, SDBG = 11, FMA = 12, CX16 = 13, XTPR = 14, PDCM = 15, PCID = 17, DCA = 18, SSE41 = 19;
const SSE42 = 20, X2APIC = 21, MOVBE = 22, POPCNT = 23, TSC_DEADLINE = 24, AES = 25, XSAVE = 26, OSXSAVE = 27;
const AVX = 28, F16C = 29, RDRAND = 30, HYPERVISOR = 31;
const HOST1_ECX = bits(SSE3, PCLMUL, DTES64, MONITOR, DS_CPL, VMX, SMX, EST, TM2, SSSE3, CNXT_ID, SDBG, FMA, CX16)
  + bits(XTPR, PDCM, PCID, DCA, SSE41, SSE42, MOVBE, POPCNT, AES, XSAVE, OSXSAVE, AVX, F16C, RDRAND);
// What a guest keeps of it, and what it is given.
const GUEST1_ECX = bits(SSE3, PCLMUL, SSSE3, FMA, CX16, PCID, SSE41, SSE42, MOVBE, POPCNT, AES, XSAVE, AVX, F16C)
  + bits(RDRAND, HYPERVISOR, X2APIC, TSC_DEADLINE);
const FPU = 0, TSC = 4, MSR = 5, APIC = 9, PSN = 18, DS = 21, ACPI = 22, SSE2 = 26, HTT = 28, TM = 29, PBE = 31;
const HOST1_EDX = 0xbfeb_fbff; // a Core i7's: FPU ... SSE2, HTT, TM, PBE
const HIDDEN1_EDX = bits(PSN, DS, ACPI, HTT, TM, PBE);
// Stepping, model, family; CLFLUSH line 8 qwords; 16 logical processors; APIC ID 5.
const HOST1_EAX = 0x0009_06ea, HOST1_EBX = (5 << 24) | (16 << 16) | (8 << 8);

// ---- leaf 7 subleaf 0 (SDM Vol. 2A Table 3-8)
const FSGSBASE = 0, TSC_ADJUST = 1, SGX = 2, BMI1 = 3, AVX2 = 5, SMEP = 7, BMI2 = 8, ERMS = 9, RDT_M = 12;
const RDT_A = 15, RDSEED = 18, ADX = 19, SMAP = 20, PT = 25;
const HOST7_EBX = bits(FSGSBASE, SGX, BMI1, AVX2, SMEP, BMI2, ERMS, RDT_M, RDT_A, RDSEED, ADX, SMAP, PT);
const GUEST7_EBX = bits(FSGSBASE, TSC_ADJUST, BMI1, AVX2, SMEP, BMI2, ERMS, RDSEED, ADX, SMAP);
const PKU = 3, OSPKE = 4, WAITPKG = 5, CET_SS = 7, GFNI = 8, VAES = 9, RDPID = 22, SGX_LC = 30, PKS = 31;
// PKU is offered: each vCPU has its own PKRU. OSPKE is the host's CR4.PKE, which the guest must not see.
const HOST7_ECX = bits(PKU, OSPKE, WAITPKG, CET_SS, GFNI, VAES, RDPID, SGX_LC, PKS);
const GUEST7_ECX = bits(PKU, GFNI, VAES, RDPID);
const FSRM = 4, MD_CLEAR = 10, SERIALIZE = 14, PCONFIG = 18, CET_IBT = 20;
const HOST7_EDX = bits(FSRM, MD_CLEAR, SERIALIZE, PCONFIG, CET_IBT, 26, 27, 28, 29, 30, 31);
const GUEST7_EDX = bits(FSRM, MD_CLEAR, SERIALIZE);

// ---- leaf 0xD: the XCR0 components (SDM Vol. 1 13.1): x87, SSE, AVX, MPX's
// BNDREGS and BNDCSR, AVX-512's opmask, ZMM_Hi256 and Hi16_ZMM, PKRU; those a
// guest may enable (vcpustate/xstate.ts): x87, SSE, AVX, AVX-512 and PKRU.
const HOST_XCR0 = 0x2ff, GUEST_XCR0 = 0x2e7;

// ---- extended leaves
const LAHF = 0, CMP_LEGACY = 1, SVM = 2, EXTAPIC = 3, ABM = 5, SSE4A = 6, PREFETCHW = 8, TOPOEXT = 22;
const PERF_CORE = 23, PERF_NB = 24, PERF_LLC = 28;
const SYSCALL = 11, NX = 20, PAGE1GB = 26, RDTSCP = 27, LM = 29;
const HOST_EXT1_EDX = bits(SYSCALL, NX, PAGE1GB, RDTSCP, LM), GUEST_EXT1_EDX = HOST_EXT1_EDX;
const TSC_INVARIANT = 8;
const BRAND = "Fake(R) CPU @ 2.50GHz".padEnd(48, "\0");
const brandLeaf = (n: number): Regs =>
  [0, 1, 2, 3].map((r) => Buffer.from(BRAND, "latin1").readUInt32LE(n * 16 + r * 4)) as Regs;

function withBrand(host: CpuidHost): CpuidHost {
  return host.set(0x8000_0002, brandLeaf(0)).set(0x8000_0003, brandLeaf(1)).set(0x8000_0004, brandLeaf(2));
}

// Common to the Intel hosts: leaves 1-0xD and 0x80000000-8.
function intel(maxBasic: number): CpuidHost {
  return withBrand(new CpuidHost("GenuineIntel", maxBasic, 0x8000_0008))
    .set(1, [HOST1_EAX, HOST1_EBX, HOST1_ECX, HOST1_EDX])
    .set(2, [0x0076_0301, 0x00f0_b5ff, 0, 0x00c3_0000])
    .set(4, [0x1c00_4121, 0x01c0_003f, 0x3f, 0], 0)
    .set(4, [0x1c03_c163, 0x03c0_003f, 0x2fff, 6], 3)
    .set(4, [0, 0, 0, 0], 4)
    .set(5, [0x40, 0x40, 3, 0x1114_2120])
    .set(6, [0x27f7, 2, 9, 0])
    .set(7, [1, HOST7_EBX, HOST7_ECX, HOST7_EDX], 0)
    .set(7, [bits(4, 5), 0, 0, 0], 1)
    .set(0xa, [0x0730_0404, 0, 0, 0x603])
    .set(0xb, [1, 2, 0x100, 5], 0)
    .set(0xb, [4, 8, 0x201, 5], 1)
    .set(0xb, [0, 0, 2, 5], 2)
    .set(0xd, [HOST_XCR0, 0x340, 0xa88, 0], 0)
    .set(0xd, [0xf, 0x340, 0, 0], 1)
    .set(0xd, [8, 0xa80, 0, 0], 9) // PKRU: 8 bytes at 0xA80
    .set(0x8000_0001, [0, 0, bits(LAHF, ABM, PREFETCHW), HOST_EXT1_EDX])
    .set(0x8000_0006, [0, 0, 0x0100_6040, 0])
    .set(0x8000_0007, [0, 0, 0, bits(0, TSC_INVARIANT)])
    .set(0x8000_0008, [0x3027, bit(9), 0, 0]);
}

// Highest basic leaf 0xD: no TSC leaves of its own, and (an Intel habit) leaves
// beyond 0xD answer with leaf 0xD's data.
const INTEL = () => intel(0xd);
// Leaves up to 0x1F, with a TSC of 3.4 GHz on a 38.4 MHz crystal, which the guest must not see.
const INTEL_NEW = () =>
  intel(0x1f)
    .set(0x15, [2, 177, 38_400_000, 0])
    .set(0x16, [3400, 4900, 100, 0])
    .set(0x1f, [1, 2, 0x100, 5], 0)
    .set(0x1f, [4, 8, 0x201, 5], 1)
    .set(0x1f, [0, 0, 2, 5], 2);
const AMD = () =>
  withBrand(new CpuidHost("AuthenticAMD", 0x10, 0x8000_0022))
    .set(1, [0x00a2_0f10, (3 << 24) | (16 << 16) | (8 << 8), bits(SSE3, MONITOR, SSSE3, X2APIC, AVX), 0x178b_fbff])
    .set(0x8000_0001, [
      0x00a2_0f10,
      0,
      bits(LAHF, CMP_LEGACY, SVM, EXTAPIC, ABM, SSE4A, TOPOEXT, PERF_CORE, PERF_NB, PERF_LLC),
      HOST_EXT1_EDX,
    ])
    .set(0x8000_0007, [0, 0, 0, 0x6799])
    // ECX: NC = 15 (16 cores), ApicIdSize 7, PerfTscSize 1.
    .set(0x8000_0008, [0x3030, bits(0, 9, 12, 14, 15, 24, 25), 0x0001_700f, 0])
    .set(0x8000_000a, [1, 0x8000, 0, 0x1ebfbcff])
    .set(0x8000_001d, [0x121, 0x01c0_003f, 0x3f, 0], 0)
    .set(0x8000_001e, [3, 0x100, 0, 0])
    .set(0x8000_0022, [1, 0x0010_0006, 0, 0]); // PerfMonV2, 6 core counters

let unit: Unit<CpuidExports>;
let e: Exports<CpuidExports>;
let host: CpuidHost;

// A fresh module on `cpu` with the TSC at `hz`, calibrated unless hz is 0,
// and a VM of three vCPUs.
async function boot(cpu: CpuidHost, hz = 2_500_000_000n): Promise<void> {
  host = cpu;
  const tsc = new FakeTsc(hz);
  unit = await load<CpuidExports>("cpuidpolicy.ts", {
    shim: { ...tsc.stubs(), cpuid: cpu.stub(() => unit.exports.memory) },
  });
  e = unit.exports;
  if (hz) e.calibrate(tsc.perMs);
  e.initXstate();
  e.makeVm(3);
}

// The guest's EAX, EBX, ECX, EDX for (leaf, subleaf) on vCPU `vcpu`.
function cpuid(leaf: number, subleaf = 0, opts: { vcpu?: number; osxsave?: boolean; pke?: boolean } = {}): Regs {
  const vcpu = opts.vcpu ?? 0;
  const cr4 = (opts.osxsave ? CR4_OSXSAVE : 0n) | (opts.pke ? CR4_PKE : 0n);
  e.guestCpuid(vcpu, BigInt(leaf >>> 0), BigInt(subleaf >>> 0), cr4);
  return [RAX, RBX, RCX, RDX].map((r) => {
    const v = e.reg(vcpu, r);
    expect(v >> 32n, `CPUID ${leaf.toString(16)}: the register's upper half`).toBe(0n);
    return Number(v);
  }) as Regs;
}
const ZERO: Regs = [0, 0, 0, 0];

describe("the hypervisor's own leaves", () => {
  beforeEach(() => boot(INTEL()));

  it("0x40000000: the highest hypervisor leaf, and the signature \"TypervisorTV\"", () => {
    const [eax, ebx, ecx, edx] = cpuid(0x4000_0000);
    expect(eax).toBe(0x4000_0002);
    expect(Buffer.from(new Uint32Array([ebx, ecx, edx]).buffer).toString("latin1")).toBe("TypervisorTV");
  });

  it("0x40000001: the interface version, 2; the leaves above are zero but the exit counts and KVM's", () => {
    expect(cpuid(0x4000_0001)).toEqual([2, 0, 0, 0]);
    for (const leaf of [0x4000_0003, 0x4000_0010, 0x4000_0102, 0x4000_0200, 0x7fff_ffff]) {
      expect(cpuid(leaf)).toEqual(ZERO);
    }
  });

  it("0x40000002: the VM's exits of the kind in ECX, of every kind with ECX all ones, in EDX:EAX", () => {
    const IO = 3, MMIO = 6;
    e.countExits(IO, 5);
    e.countExits(MMIO, 2);
    expect(cpuid(0x4000_0002, IO)).toEqual([5, 0, 0, 0]);
    expect(cpuid(0x4000_0002, MMIO)).toEqual([2, 0, 0, 0]);
    expect(cpuid(0x4000_0002, 0x7fff)).toEqual(ZERO);
    expect(cpuid(0x4000_0002, 0xffff_ffff)).toEqual([7, 0, 0, 0]);
    // The host CPUs' idle ticks: none here, where no CPU has started.
    expect(cpuid(0x4000_0002, 0xffff_fffe)).toEqual(ZERO);
  });

  it("0x40000100: KVM's signature, where Linux looks for it, and in 0x40000101 its PV EOI alone", () => {
    const [eax, ebx, ecx, edx] = cpuid(0x4000_0100);
    expect(eax).toBe(0x4000_0101);
    expect(Buffer.from(new Uint32Array([ebx, ecx, edx]).buffer).toString("latin1")).toBe("KVMKVMKVM\0\0\0");
    expect(cpuid(0x4000_0101)).toEqual([1 << 6, 0, 0, 0]);
  });

  it("CPUID reads EAX and ECX only: the upper halves of RAX and RCX do not count", () => {
    e.guestCpuid(0, 0xffff_ffff_4000_0001n, 0xffff_ffff_0000_0000n, 0n);
    expect(e.reg(0, RAX)).toBe(2n);
    e.guestCpuid(0, 0x1_0000_000bn, 0x5_0000_0001n, 0n); // leaf 0xB, subleaf 1
    expect(e.reg(0, RCX)).toBe(0x201n);
  });
});

describe("an Intel host whose highest basic leaf is 0xD", () => {
  beforeEach(() => boot(INTEL()));

  it("leaf 0: the host's vendor; the highest leaf raised to 0x16 for the TSC leaves", () => {
    const [eax, ebx, ecx, edx] = cpuid(0);
    expect(eax).toBe(0x16);
    expect([ebx, edx, ecx]).toEqual([ascii("Genu"), ascii("ineI"), ascii("ntel")]);
  });

  it("leaf 1 ECX: hypervisor present; VMX, MONITOR, the MSR features hidden; x2APIC, TSC deadline offered", () => {
    const ecx = cpuid(1)[2];
    expect(ecx).toBe(GUEST1_ECX);
    for (const hidden of [VMX, MONITOR, SMX, EST, TM2, DTES64, DS_CPL, CNXT_ID, SDBG, XTPR, PDCM, DCA]) {
      expect(ecx & bit(hidden), `ECX bit ${hidden}`).toBe(0);
    }
  });

  it("leaf 1 ECX.OSXSAVE follows the guest's CR4.OSXSAVE, not the host's", () => {
    expect(cpuid(1)[2] & bit(OSXSAVE)).toBe(0);
    expect(cpuid(1, 0, { osxsave: true })[2]).toBe(GUEST1_ECX + bit(OSXSAVE));
  });

  it("leaf 1 EDX: no HTT, PSN, debug store, ACPI thermal control, TM or PBE; the rest is the host's", () => {
    const edx = cpuid(1)[3];
    expect(edx).toBe(without(HOST1_EDX, HIDDEN1_EDX));
    for (const kept of [FPU, TSC, MSR, APIC, SSE2]) expect(edx & bit(kept), `EDX bit ${kept}`).not.toBe(0);
  });

  it("leaf 1 EAX and EBX: the host's signature and CLFLUSH size; one logical processor; the vCPU's APIC ID", () => {
    for (const vcpu of [0, 1, 2]) {
      const [eax, ebx] = cpuid(1, 0, { vcpu });
      expect(eax).toBe(HOST1_EAX);
      expect(ebx >>> 24).toBe(e.apicId(vcpu));
      expect(ebx >>> 24).toBe(vcpu);
      expect((ebx >> 16) & 0xff).toBe(1);
      expect(ebx & 0xffff).toBe(HOST1_EBX & 0xffff);
    }
  });

  it("leaf 4: the host's caches, shared by no other logical processor or core", () => {
    expect(cpuid(4, 0)).toEqual([0x0121, 0x01c0_003f, 0x3f, 0]);
    expect(cpuid(4, 3)).toEqual([0x0163, 0x03c0_003f, 0x2fff, 6]);
    expect(cpuid(4, 4)).toEqual(ZERO);
  });

  it("leaves 5 (MONITOR) and 0xA (performance monitoring) are zero; leaf 6 has only ARAT", () => {
    expect(cpuid(5)).toEqual(ZERO);
    expect(cpuid(0xa)).toEqual(ZERO);
    expect(cpuid(6)).toEqual([bit(2), 0, 0, 0]);
  });

  it("leaf 7.0: TSC_ADJUST and RDPID offered; SGX, RDT, PT, WAITPKG, CET, PKS, PCONFIG, SPEC_CTRL hidden", () => {
    expect(cpuid(7, 0)).toEqual([1, GUEST7_EBX, GUEST7_ECX, GUEST7_EDX]);
    expect(cpuid(7, 1)).toEqual([bits(4, 5), 0, 0, 0]); // other subleaves are the host's
  });

  it("leaf 7.0 ECX.OSPKE follows the guest's CR4.PKE, not the host's", () => {
    expect(cpuid(7, 0, { pke: true })[2]).toBe(GUEST7_ECX + bit(OSPKE));
  });

  it("leaf 0xB: every vCPU a package of one core of one thread, its x2APIC ID in EDX", () => {
    for (const vcpu of [0, 2]) {
      expect(cpuid(0xb, 0, { vcpu })).toEqual([0, 1, 0x100 | 0, vcpu]); // SMT level: 1 thread
      expect(cpuid(0xb, 1, { vcpu })).toEqual([0, 1, 0x200 | 1, vcpu]); // core level: 1 core
      expect(cpuid(0xb, 2, { vcpu })).toEqual([0, 0, 2, vcpu]); // invalid level: ECX[7:0] the subleaf
      expect(cpuid(0xb, 9, { vcpu })).toEqual([0, 0, 9, vcpu]);
    }
  });

  // SDM Vol. 1 13.3: XSETBV raises #GP for an XCR0 bit CPUID.(EAX=0DH,
  // ECX=0):EDX:EAX does not report, and an OS sets those it reports and knows.
  it("leaf 0xD.0 reports as supported the XCR0 components XSETBV accepts, and only those", () => {
    const [eax, ebx, ecx, edx] = cpuid(0xd, 0);
    expect([eax, edx]).toEqual([GUEST_XCR0, 0]);
    expect(ebx).toBe(0x340); // the size XCR0 now needs: the CPU's own answer
    expect(ecx).toBeGreaterThanOrEqual(0xa80); // the size all of them need: at least AVX-512's end
  });

  it("leaf 0xD.1: no XSAVES (no supervisor state, IA32_XSS); the other subleaves are the host's", () => {
    expect(cpuid(0xd, 1)).toEqual([0x7, 0x340, 0, 0]);
  });

  it("basic leaves beyond the host's are zero, though an Intel host repeats its highest one", () => {
    expect(host.answer(0xe, 0)).toEqual(host.answer(0xd, 0));
    for (const leaf of [0xe, 0x10, 0x14, 0x17, 0x1f, 0x20, 0x1000, 0x3fff_ffff]) {
      expect(cpuid(leaf), `leaf ${leaf.toString(16)}`).toEqual(ZERO);
    }
  });

  it("extended leaves: RDTSCP offered, only TscInvariant of 0x80000007, the brand string the host's", () => {
    expect(cpuid(0x8000_0000)[0]).toBe(0x8000_0008);
    expect(cpuid(0x8000_0001)).toEqual([0, 0, bits(LAHF, ABM, PREFETCHW), GUEST_EXT1_EDX]);
    const brand = [2, 3, 4].flatMap((n) => cpuid(0x8000_0000 + n));
    expect(Buffer.from(new Uint32Array(brand).buffer).toString("latin1")).toBe(BRAND);
    expect(cpuid(0x8000_0006)).toEqual([0, 0, 0x0100_6040, 0]);
    expect(cpuid(0x8000_0007)).toEqual([0, 0, 0, bit(TSC_INVARIANT)]);
    expect(cpuid(0x8000_0008)).toEqual([0x3027, bit(9), 0, 0]);
  });
});

describe("the TSC leaves 0x15 and 0x16", () => {
  // TSC Hz = ECX * EBX / EAX (SDM Vol. 2A, leaf 15H); ECX is the crystal's
  // Hz, which the local APIC timer counts (vcpustate/tsc.ts tscPerCrystalTick).
  it("report the calibrated TSC: 2.5 GHz is a crystal of 2.5 GHz times 1", async () => {
    await boot(INTEL(), 2_500_000_000n);
    expect(cpuid(0x15)).toEqual([1, 1, 2_500_000_000, 0]);
    expect(cpuid(0x16)).toEqual([2500, 2500, 100, 0]); // base and maximum MHz, bus 100 MHz
  });

  it("halve the crystal until its Hz fit ECX's 32 bits: 5 GHz is 2.5 GHz times 2", async () => {
    await boot(INTEL(), 5_000_000_000n);
    const [eax, ebx, ecx] = cpuid(0x15);
    expect([eax, ebx, ecx]).toEqual([1, 2, 2_500_000_000]);
    expect((ecx * ebx) / eax).toBe(5e9);
    expect(cpuid(0x16)).toEqual([5000, 5000, 100, 0]);
  });

  it("replace the host's own figures, which need not be the TSC the guest has", async () => {
    await boot(INTEL_NEW(), 1_800_000_000n);
    expect(cpuid(0)[0]).toBe(0x1f);
    expect(cpuid(0x15)).toEqual([1, 1, 1_800_000_000, 0]);
    expect(cpuid(0x16)).toEqual([1800, 1800, 100, 0]);
  });

  it("before the TSC is calibrated, say the ratio is not enumerated (EBX 0)", async () => {
    await boot(INTEL(), 0n);
    expect(cpuid(0x15)[1]).toBe(0);
    expect(cpuid(0x16)[0]).toBe(0);
  });
});

describe("a newer Intel host, with leaves up to 0x1F", () => {
  beforeEach(() => boot(INTEL_NEW()));

  it("leaf 0x1F is the VM's topology like 0xB; leaves beyond 0x1F are zero", () => {
    expect(cpuid(0x1f, 0, { vcpu: 1 })).toEqual([0, 1, 0x100, 1]);
    expect(cpuid(0x1f, 1, { vcpu: 1 })).toEqual([0, 1, 0x201, 1]);
    expect(cpuid(0x1f, 2, { vcpu: 1 })).toEqual([0, 0, 2, 1]);
    expect(cpuid(0x20)).toEqual(ZERO);
  });
});

describe("an AMD host", () => {
  beforeEach(() => boot(AMD()));

  it("leaf 0: AuthenticAMD, the highest leaf its own", () => {
    const [eax, ebx, ecx, edx] = cpuid(0);
    expect(eax).toBe(0x16);
    expect([ebx, edx, ecx]).toEqual([ascii("Auth"), ascii("enti"), ascii("cAMD")]);
  });

  it("leaf 1: MONITOR and HTT hidden, the hypervisor bit set, one logical processor; no AVX without XSAVE", () => {
    const [, ebx, ecx, edx] = cpuid(1, 0, { vcpu: 2 });
    // This host has no XSAVE: AVX's state could not be enabled (SDM Vol. 1 13.3).
    expect(ecx).toBe(bits(SSE3, SSSE3, X2APIC, TSC_DEADLINE, HYPERVISOR));
    expect(edx & bit(HTT)).toBe(0);
    expect(ebx >>> 16).toBe((2 << 8) | 1);
  });

  it("0x80000001: no SVM, no CmpLegacy, no topology or counter extensions; RDTSCP offered", () => {
    expect(cpuid(0x8000_0001)).toEqual([0x00a2_0f10, 0, bits(LAHF, EXTAPIC, ABM, SSE4A), GUEST_EXT1_EDX]);
  });

  it("0x80000007: TscInvariant only; 0x80000008: no speculation controls, no core count", () => {
    expect(cpuid(0x8000_0007)).toEqual([0, 0, 0, bit(TSC_INVARIANT)]);
    expect(cpuid(0x8000_0008)).toEqual([0x3030, bits(0, 9), 0x0001_0000, 0]);
  });

  it("0x8000001D and 0x8000001E, reserved without topology extensions, and 0x80000022 are zero", () => {
    expect(cpuid(0x8000_001d, 0)).toEqual(ZERO);
    expect(cpuid(0x8000_001e)).toEqual(ZERO);
    expect(cpuid(0x8000_0022)).toEqual(ZERO);
  });
});

describe("CpuidTable, the backends' fast path", () => {
  // Every leaf a guest might ask, in each range, and a few beyond.
  const LEAVES = [
    ...Array.from({ length: 0x24 }, (_, i) => i),
    0x4000_0000,
    0x4000_0001,
    0x4000_0002,
    ...Array.from({ length: 0x24 }, (_, i) => 0x8000_0000 + i),
    0x8000_0100,
    0xc000_0000,
    0xffff_ffff,
  ];
  const FILL = 0x5a5a_5a5a_5a5a_5a5an;

  // The table's answer, or null if it does not hold the leaf.
  function fromTable(leaf: number): Regs | null {
    if (!e.tableAnswer(leaf, FILL)) {
      // Nothing was written.
      expect(e.tableRax()).toBe(FILL);
      for (const r of [RBX, RCX, RDX]) expect(e.tableReg(r)).toBe(FILL);
      return null;
    }
    // EAX goes to the RAX home (the VMCB's, under AMD-V), not to the block's RAX.
    expect(e.tableReg(RAX)).toBe(FILL);
    const regs = [e.tableRax(), e.tableReg(RBX), e.tableReg(RCX), e.tableReg(RDX)];
    for (const v of regs) expect(v >> 32n).toBe(0n);
    return regs.map(Number) as Regs;
  }

  for (
    const [name, cpu, extendedMax] of [
      ["Intel (highest leaf 0xD)", INTEL, 0x8000_0008],
      ["Intel (highest leaf 0x1F)", INTEL_NEW, 0x8000_0008],
      ["AMD", AMD, 0x8000_001f],
    ] as const
  ) {
    it(`${name}: answers as the policy does, for any subleaf, CR4 and vCPU`, async () => {
      await boot(cpu());
      e.makeTable();
      const held: number[] = [];
      for (const leaf of LEAVES) {
        const answer = fromTable(leaf);
        if (answer === null) continue;
        held.push(leaf);
        expect(answer, `leaf ${leaf.toString(16)} on vCPU 0`).toEqual(cpuid(leaf, 0));
        expect(answer, `leaf ${leaf.toString(16)} on vCPU 2`).toEqual(cpuid(leaf, 3, { vcpu: 2, osxsave: true }));
      }
      // Exactly the leaves without subleaves or per-vCPU state, up to the
      // host's extended maximum (0x80000001's APIC flag follows the APIC).
      const extended = Array.from(
        { length: Math.min(extendedMax, 0x8000_0008) - 0x8000_0000 + 1 },
        (_, i) => 0x8000_0000 + i,
      ).filter((leaf) => leaf !== 0x8000_0001);
      expect(held).toEqual([0, 2, 3, 5, 6, 0xa, 0x15, 0x16, ...extended]);
    });
  }

  it("holds no extended leaf beyond the host's", async () => {
    const cpu = AMD();
    cpu.maxExtended = 0x8000_0004;
    cpu.set(0x8000_0000, [0x8000_0004, 0, 0, 0]);
    await boot(cpu);
    e.makeTable();
    expect(LEAVES.filter((leaf) => fromTable(leaf) !== null && leaf >= 0x8000_0000)).toEqual([
      0x8000_0000,
      0x8000_0002,
      0x8000_0003,
      0x8000_0004,
    ]);
  });

  it("has the TSC leaves of the calibrated rate", async () => {
    await boot(INTEL(), 3_000_000_000n);
    e.makeTable();
    expect(fromTable(0x15)).toEqual([1, 1, 3_000_000_000, 0]);
    expect(fromTable(0x16)).toEqual([3000, 3000, 100, 0]);
  });
});

// SDM Vol. 3A 11.4.3: with IA32_APIC_BASE's enable bit clear, the CPU is as
// one without an on-chip APIC, and CPUID's APIC flag reads 0; AMD says the
// same of Fn0000_0001_EDX[APIC] and Fn8000_0001_EDX[APIC].
describe("the APIC flag", () => {
  it("reads 0 in leaves 1 and 0x80000001 while IA32_APIC_BASE disables the vCPU's APIC", async () => {
    const cpu = AMD();
    const [eax, ebx, ecx, edx] = cpu.answer(0x8000_0001, 0);
    cpu.set(0x8000_0001, [eax, ebx, ecx, edx + bit(APIC)]);
    await boot(cpu);
    const ENABLE = 1n << 11n, base = e.readApicBase(0);
    expect(base & ENABLE).toBe(ENABLE);
    const flags = (vcpu: number) => [1, 0x8000_0001].map((leaf) => cpuid(leaf, 0, { vcpu })[3] & bit(APIC));
    expect(flags(0)).toEqual([bit(APIC), bit(APIC)]);
    expect(e.writeApicBase(0, base & ~ENABLE)).toBe(1);
    expect(flags(0)).toEqual([0, 0]);
    expect(flags(1)).toEqual([bit(APIC), bit(APIC)]);
    expect(e.writeApicBase(0, base)).toBe(1);
    expect(flags(0)).toEqual([bit(APIC), bit(APIC)]);
  });
});
