// The generic exit handler, handleExit() in vmm/emul/exits.ts, on a VM of
// fake vCPUs (as/exits.ts): what each kind of exit does to the guest's
// registers, RIP, pending exceptions and activity, which Next it returns,
// and the reason it stops the VM for. Each case is a behaviour a guest
// relies on: CPUID answered and skipped, IN merging into RAX as x86 does,
// MSRs answered or refused with #GP (and then not skipped), HLT woken by a
// pending interrupt, #UD and #GP where hardware raises them. Hypercalls
// (hypercall.test.ts), the CPUID policy (cpuidpolicy.test.ts) and the TSC
// MSRs (guesttsc.test.ts) have their own files.
import { beforeEach, describe, expect, it } from "vitest";
import { enums, type ExitsExports, GP0, RAX, RBX, RCX, RDI, RDX, RSI, UD } from "./exitsentry";
import { CpuidHost } from "./fakehost";
import { load, type Exports, type Unit } from "./harness";

const RFLAGS_IF = 0x202n, RFLAGS_NO_IF = 0x2n;
const CR4_OSXSAVE = 1n << 18n;
const IA32_APIC_BASE = 0x1b, IA32_PAT = 0x277, PAT_POWER_ON = 0x0007_0406_0007_0406n;
const TEST_PORT = 0x600, DEBUG_EXIT_PORT = 0xf4, LEAKY_PORT = 0x700;
const GARBAGE = 0xdead_beef_dead_beefn;

// An Intel host with XSAVE and little else. Its XCR0 components: x87, SSE,
// AVX, MPX's two, AVX-512's three and PKRU (SDM Vol. 1 13.1), in 2696 bytes.
const HOST_XCR0 = 0x2ffn;
function intelWithXsave(): CpuidHost {
  return new CpuidHost("GenuineIntel", 0xd, 0x8000_0008)
    .set(1, [0x000906ea, 0, 1 << 26, 0])
    .set(0xd, [Number(HOST_XCR0), 0x340, 0xa88, 0], 0);
}

let unit: Unit<ExitsExports>;
let e: Exports<ExitsExports>;
let K: ReturnType<typeof enums>;
let xsetbvs: Array<[number, bigint]>;

async function boot(host = intelWithXsave(), runtime: "minimal" | "incremental" = "incremental"): Promise<void> {
  xsetbvs = [];
  unit = await load<ExitsExports>("exits.ts", {
    runtime,
    shim: {
      cpuid: host.stub(() => unit.exports.memory),
      xsetbv: (xcr: number, value: bigint) => {
        xsetbvs.push([xcr, value]);
      },
      xgetbv: () => (xsetbvs.length ? xsetbvs[xsetbvs.length - 1][1] : 1n),
      xsave: () => {},
      xrstor: () => {},
    },
  });
  e = unit.exports;
  K = enums(e);
}

beforeEach(async () => {
  await boot();
  e.reset(2);
});

const reason = () => e.__getString(e.stopReason() >>> 0);
const exc = (i = 0) => e.__getString(e.exception(i) >>> 0);
const exit = (kind: number, length = 0, code = 0n, qualification = 0n) =>
  e.simpleExit(0, kind, length, code, qualification);
const rdmsr = (msr: number, vcpu = 0) => {
  e.setReg(vcpu, RCX, BigInt(msr));
  return e.rdmsrExit(vcpu);
};
const wrmsr = (msr: number, value: bigint, vcpu = 0) => {
  e.setReg(vcpu, RCX, BigInt(msr));
  e.setReg(vcpu, RAX, value & 0xffff_ffffn);
  e.setReg(vcpu, RDX, value >> 32n);
  return e.wrmsrExit(vcpu);
};

// A guest may exit without pause, and the scheduler collects garbage only
// every few thousand slices: what each exit allocated would pile up. With
// the kernel's own runtime, which never collects by itself, the exits a
// busy guest takes most leave the heap as it was.
describe("the exit path", () => {
  it("makes no garbage: 20,000 rounds of CPUID, port I/O, RDMSR/WRMSR, HLT and hypercalls", async () => {
    await boot(intelWithXsave(), "minimal");
    e.reset(2);
    const round = () => {
      e.setReg(0, RAX, 1n);
      exit(K.Exit.Cpuid, 2);
      e.setReg(0, RAX, 0x1234n);
      e.ioExit(0, TEST_PORT, 4, 1, 0);
      e.ioExit(0, TEST_PORT, 2, 0, 0);
      rdmsr(IA32_PAT);
      wrmsr(IA32_PAT, PAT_POWER_ON);
      e.setReg(0, RAX, 3n); // yield
      exit(K.Exit.Hypercall, 3);
      e.setRflags(0, RFLAGS_IF);
      exit(K.Exit.Hlt, 1);
    };
    for (let i = 0; i < 100; i++) round();
    const before = e.memoryPages();
    for (let i = 0; i < 20_000; i++) round();
    expect(e.memoryPages()).toBe(before);
    expect(e.running()).toBe(1);
  });

  it("stops a VM whose exits make the hypervisor's heap grow beyond its share of 8 MiB", async () => {
    await boot(intelWithXsave(), "minimal");
    e.reset(1);
    let writes = 0;
    while (e.running() && writes < 1000) {
      e.ioExit(0, LEAKY_PORT, 1, 1, 0); // each keeps 64 KiB
      writes++;
    }
    expect(e.running()).toBe(0);
    expect(writes).toBeGreaterThan(100);
    expect(writes).toBeLessThanOrEqual(150); // 64 KiB each, and the runtime's headers
    expect(reason()).toMatch(/^its exits made the hypervisor's heap grow by \d+ KiB, beyond its share of 8192 KiB$/);
  });
});

describe("CPUID", () => {
  it("fills RAX, RBX, RCX, RDX from the policy, zero-extended, and skips the instruction", () => {
    e.setReg(0, RAX, 0xffff_ffff_4000_0000n); // CPUID reads EAX only
    e.setReg(0, RCX, GARBAGE);
    e.setReg(0, RDX, GARBAGE);
    expect(exit(K.Exit.Cpuid, 2)).toBe(K.Next.Resume);
    // Leaf 0x40000000: the highest hypervisor leaf and "TypervisorTV".
    expect([RAX, RBX, RCX, RDX].map((r) => e.reg(0, r))).toEqual([
      0x4000_0002n,
      0x6570_7954n,
      0x7369_7672n,
      0x5654_726fn,
    ]);
    expect(e.skips(0)).toBe(1);
    expect(e.rip(0)).toBe(2n);
    expect(e.exceptions(0)).toBe(0);
  });

  it("answers each vCPU with its own APIC ID (CPUID.1:EBX[31:24])", () => {
    e.setReg(1, RAX, 1n);
    expect(e.simpleExit(1, K.Exit.Cpuid, 2, 0n, 0n)).toBe(K.Next.Resume);
    expect(e.reg(1, RBX) >> 24n).toBe(1n);
    e.setReg(0, RAX, 1n);
    exit(K.Exit.Cpuid, 2);
    expect(e.reg(0, RBX) >> 24n).toBe(0n);
  });
});

describe("port I/O", () => {
  it("OUT reaches the device on the VM's bus, from AL, AX or EAX, and is skipped", () => {
    e.setReg(0, RAX, 0x1111_2222_3344_5566n);
    expect(e.ioExit(0, TEST_PORT, 4, 1, 0)).toBe(K.Next.Resume);
    expect(e.portRead(TEST_PORT, 4)).toBe(0x3344_5566n);
    e.setReg(0, RAX, 0xffff_ffff_ffff_ff99n);
    e.ioExit(0, TEST_PORT + 1, 1, 1, 0); // the scratch register's second byte
    expect(e.portRead(TEST_PORT, 4)).toBe(0x3344_9966n);
    e.setReg(0, RAX, 0xabcdn);
    e.ioExit(0, TEST_PORT + 2, 2, 1, 0);
    expect(e.portRead(TEST_PORT, 4)).toBe(0xabcd_9966n);
    expect(e.skips(0)).toBe(3);
    expect(e.rip(0)).toBe(6n);
  });

  // SDM Vol. 1 3.4.1.1: a 32-bit result zero-extends into the 64-bit
  // register; 8- and 16-bit results leave the other bits alone.
  it("a 32-bit IN zero-extends into RAX", () => {
    e.setReg(0, RAX, 0xcafe_f00dn);
    e.ioExit(0, TEST_PORT, 4, 1, 0);
    e.setReg(0, RAX, GARBAGE);
    expect(e.ioExit(0, TEST_PORT, 4, 0, 0)).toBe(K.Next.Resume);
    expect(e.reg(0, RAX)).toBe(0xcafe_f00dn);
  });

  it("8- and 16-bit INs keep RAX's upper bits", () => {
    e.setReg(0, RAX, 0xcafe_f00dn);
    e.ioExit(0, TEST_PORT, 4, 1, 0);
    e.setReg(0, RAX, GARBAGE);
    e.ioExit(0, TEST_PORT, 2, 0, 0);
    expect(e.reg(0, RAX)).toBe(0xdead_beef_dead_f00dn);
    e.setReg(0, RAX, GARBAGE);
    e.ioExit(0, TEST_PORT + 3, 1, 0, 0);
    expect(e.reg(0, RAX)).toBe(0xdead_beef_dead_becan);
    expect(e.skips(0)).toBe(3);
  });

  it("IN from a port no device claims reads all ones of its size", () => {
    e.setReg(0, RAX, 0x1234_5678_9abc_def0n);
    e.ioExit(0, 0x1234, 1, 0, 0);
    expect(e.reg(0, RAX)).toBe(0x1234_5678_9abc_deffn);
    e.ioExit(0, 0x1234, 4, 0, 0);
    expect(e.reg(0, RAX)).toBe(0xffff_ffffn);
  });

  it("a device that stops the VM (debug exit) makes the OUT end with Stopped", () => {
    e.setReg(0, RAX, 0x10n);
    expect(e.ioExit(0, DEBUG_EXIT_PORT, 1, 1, 0)).toBe(K.Next.Stopped);
    expect(e.running()).toBe(0);
    expect(e.exitStatus()).toBe(0x21n); // (value << 1) | 1, as QEMU
    expect(reason()).toBe("exited with status 33");
  });

  // INS and OUTS: the instruction is read at RIP (paging off here: RIP is
  // guest-physical), the port is DX, the memory side ES:rDI or DS:rSI.
  const code = (at: number, bytes: number[]) => bytes.forEach((b, i) => e.guestWrite8(BigInt(at + i), b));
  const guestBytes = (at: number, n: number) => Array.from({ length: n }, (_, i) => e.guestRead8(BigInt(at + i)));
  const stringIo = (bytes: number[], size: number, isWrite: number, regs: [number, bigint][]) => {
    code(0x1000, bytes);
    e.setRip(0, 0x1000n);
    e.setReg(0, RDX, BigInt(TEST_PORT));
    for (const [r, v] of regs) e.setReg(0, r, v);
    return e.ioExit(0, TEST_PORT, size, isWrite, 1);
  };

  it("REP INSW fills memory from the port, steps rDI and counts rCX down, then moves RIP on", () => {
    e.portWrite(TEST_PORT, 4, 0x1234beefn);
    expect(stringIo([0xf3, 0x66, 0x6d], 2, 0, [[RDI, 0x2000n], [RCX, 3n]])).toBe(K.Next.Resume);
    expect(guestBytes(0x2000, 8)).toEqual([0xef, 0xbe, 0xef, 0xbe, 0xef, 0xbe, 0, 0]);
    expect([e.reg(0, RDI), e.reg(0, RCX), e.rip(0)]).toEqual([0x2006n, 0n, 0x1003n]);
  });

  it("a REP string stops at a page's end with RIP on it, and the next exit finishes it", () => {
    e.portWrite(TEST_PORT, 4, 0x1234beefn);
    expect(stringIo([0xf3, 0x66, 0x6d], 2, 0, [[RDI, 0x2ffen], [RCX, 3n]])).toBe(K.Next.Resume);
    expect([e.reg(0, RDI), e.reg(0, RCX), e.rip(0)]).toEqual([0x3000n, 2n, 0x1000n]);
    expect(e.ioExit(0, TEST_PORT, 2, 0, 1)).toBe(K.Next.Resume);
    expect(guestBytes(0x2ffe, 6)).toEqual([0xef, 0xbe, 0xef, 0xbe, 0xef, 0xbe]);
    expect([e.reg(0, RDI), e.reg(0, RCX), e.rip(0)]).toEqual([0x3004n, 0n, 0x1003n]);
  });

  it("OUTSB writes the byte at DS:rSI (or an override's base) to the port and steps rSI", () => {
    code(0x3000, [0x7a]);
    expect(stringIo([0x6e], 1, 1, [[RSI, 0x3000n]])).toBe(K.Next.Resume);
    expect([e.portRead(TEST_PORT, 1), e.reg(0, RSI), e.rip(0)]).toEqual([0x7an, 0x3001n, 0x1001n]);
  });

  it("string I/O whose instruction at RIP is not the one the exit reports stops the VM, touching nothing", () => {
    e.setReg(0, RAX, 0x55n);
    expect(stringIo([0x90], 1, 1, [[RSI, 0x3000n]])).toBe(K.Next.Stopped);
    expect(e.running()).toBe(0);
    expect(reason()).toMatch(/^cannot emulate string I\/O to port 0x600 at rip 0x1000: /);
    expect(e.portRead(TEST_PORT, 4)).toBe(0n);
    expect(e.skips(0)).toBe(0);
  });
});

describe("RDMSR and WRMSR", () => {
  it("RDMSR of an emulated MSR (IA32_PAT) returns EDX:EAX, clears the upper halves, and is skipped", () => {
    e.setReg(0, RAX, GARBAGE);
    e.setReg(0, RDX, GARBAGE);
    expect(rdmsr(IA32_PAT)).toBe(K.Next.Resume);
    expect(e.reg(0, RAX)).toBe(PAT_POWER_ON & 0xffff_ffffn);
    expect(e.reg(0, RDX)).toBe(PAT_POWER_ON >> 32n);
    expect(e.skips(0)).toBe(1);
    expect(e.exceptions(0)).toBe(0);
  });

  it("WRMSR of an emulated MSR takes EDX:EAX and is skipped", () => {
    const linux = 0x0407_0506_0007_0106n; // WB, WC, UC-, UC, WB, WP, UC-, WT
    expect(wrmsr(IA32_PAT, linux)).toBe(K.Next.Resume);
    expect(e.skips(0)).toBe(1);
    rdmsr(IA32_PAT);
    expect(e.reg(0, RDX) << 32n | e.reg(0, RAX)).toBe(linux);
  });

  // SDM Vol. 2B "RDMSR"/"WRMSR": a reserved or unimplemented MSR is #GP(0).
  // A fault leaves RIP at the faulting instruction.
  it("RDMSR of an MSR nobody answers injects #GP(0) and does not skip", () => {
    e.setReg(0, RAX, GARBAGE);
    expect(rdmsr(0x3a)).toBe(K.Next.Resume); // IA32_FEATURE_CONTROL: VMX is not offered
    expect(exc()).toBe(GP0);
    expect(e.skips(0)).toBe(0);
    expect(e.rip(0)).toBe(0n);
    expect(e.reg(0, RAX)).toBe(GARBAGE);
  });

  it("WRMSR of an MSR nobody answers, or of a value the MSR refuses, injects #GP(0) and does not skip", () => {
    expect(wrmsr(0x1234, 1n)).toBe(K.Next.Resume);
    expect(exc()).toBe(GP0);
    expect(wrmsr(IA32_PAT, 0x02n)).toBe(K.Next.Resume); // memory type 2 is reserved (SDM Vol. 3A 11.12.2)
    expect(e.exceptions(0)).toBe(2);
    expect(e.skips(0)).toBe(0);
    rdmsr(IA32_PAT);
    expect(e.reg(0, RDX) << 32n | e.reg(0, RAX)).toBe(PAT_POWER_ON);
  });

  it("the local APIC MSRs reach the exiting vCPU's own APIC", () => {
    rdmsr(IA32_APIC_BASE);
    expect(e.reg(0, RAX)).toBe(0xfee0_0900n); // enabled, bootstrap processor
    e.setReg(1, RCX, BigInt(IA32_APIC_BASE));
    e.rdmsrExit(1);
    expect(e.reg(1, RAX)).toBe(0xfee0_0800n);
    // An x2APIC register in xAPIC mode does not exist (SDM Vol. 3A 11.12.1.2).
    expect(rdmsr(0x802)).toBe(K.Next.Resume);
    expect(exc()).toBe(GP0);
  });
});

describe("HLT", () => {
  it("with interrupts enabled and nothing pending: the vCPU halts past the HLT", () => {
    e.setRflags(0, RFLAGS_IF);
    expect(exit(K.Exit.Hlt, 1)).toBe(K.Next.Halt);
    expect(e.activity(0)).toBe(K.Activity.Halted);
    expect(e.rip(0)).toBe(1n);
  });

  it("with an interrupt already pending: the guest resumes to take it", () => {
    e.setRflags(0, RFLAGS_IF);
    e.raiseInterrupt(0x30);
    expect(exit(K.Exit.Hlt, 1)).toBe(K.Next.Resume);
    expect(e.activity(0)).toBe(K.Activity.Runnable);
    expect(e.rip(0)).toBe(1n);
    expect(e.takeInterrupt()).toBe(0x30);
  });

  it("an interrupt the guest raised through the test device's port ends the halt too", () => {
    e.setRflags(0, RFLAGS_IF);
    e.setReg(0, RAX, 0x41n);
    e.ioExit(0, TEST_PORT + 4, 1, 1, 0);
    expect(exit(K.Exit.Hlt, 1)).toBe(K.Next.Resume);
  });

  // On several CPUs a HLT exit may wait for the lock while another vCPU's
  // CPU delivers INIT or STARTUP to it: those decide, not the HLT.
  it("a HLT whose exit comes after an INIT leaves the vCPU waiting for STARTUP", () => {
    e.setRflags(1, RFLAGS_IF);
    e.sendInit(1);
    expect(e.simpleExit(1, K.Exit.Hlt, 1, 0n, 0n)).toBe(K.Next.Halt);
    expect(e.activity(1)).toBe(K.Activity.WaitingForSipi);
    e.sendStartup(1, 0x10);
    expect(e.simpleExit(1, K.Exit.Hlt, 1, 0n, 0n)).toBe(K.Next.Resume); // the STARTUP is applied before it enters
    expect(e.activity(1)).toBe(K.Activity.Runnable);
  });

  it("external interrupts are the boot vCPU's: another vCPU halts though one is pending", () => {
    e.setRflags(1, RFLAGS_IF);
    e.raiseInterrupt(0x30);
    expect(e.simpleExit(1, K.Exit.Hlt, 1, 0n, 0n)).toBe(K.Next.Halt);
    expect(e.activity(1)).toBe(K.Activity.Halted);
  });

  it("an interrupt in the vCPU's own local APIC ends its halt (an x2APIC self-IPI, SDM Vol. 3A 11.12.11)", () => {
    expect(wrmsr(IA32_APIC_BASE, 0xfee0_0c00n, 1)).toBe(K.Next.Resume); // enabled, x2APIC mode
    expect(wrmsr(0x80f, 0x1ffn, 1)).toBe(K.Next.Resume); // SVR: software-enabled
    expect(wrmsr(0x83f, 0x50n, 1)).toBe(K.Next.Resume); // SELF IPI, vector 0x50
    expect(e.exceptions(1)).toBe(0);
    e.setRflags(1, RFLAGS_IF);
    expect(e.simpleExit(1, K.Exit.Hlt, 1, 0n, 0n)).toBe(K.Next.Resume);
    expect(e.activity(1)).not.toBe(K.Activity.Halted);
  });

  // SDM Vol. 2A "HLT": with IF=0 only NMI, SMI, INIT or reset resume the CPU.
  it("with interrupts disabled a pending interrupt does not end it", () => {
    e.setRflags(0, RFLAGS_NO_IF);
    e.raiseInterrupt(0x30);
    expect(exit(K.Exit.Hlt, 1)).toBe(K.Next.Halt);
    expect(e.activity(0)).toBe(K.Activity.Halted);
  });
});

describe("exits that only decide who runs next", () => {
  it("PAUSE and the preemption timer yield the CPU; nothing is skipped", () => {
    expect(exit(K.Exit.Pause, 2)).toBe(K.Next.Yield);
    expect(exit(K.Exit.PreemptionTimer)).toBe(K.Next.Yield);
    expect(e.skips(0)).toBe(0);
    expect(e.running()).toBe(1);
  });

  it("an interrupt window resumes; a host interrupt is taken (the host's window opened) and resumes", () => {
    expect(exit(K.Exit.InterruptWindow)).toBe(K.Next.Resume);
    expect(unit.machine.calls.get("interrupt_window")).toBeUndefined();
    expect(exit(K.Exit.ExternalInterrupt)).toBe(K.Next.Resume);
    expect(unit.machine.calls.get("interrupt_window")).toBe(1);
    expect(e.skips(0)).toBe(0);
  });

  it("INIT sends the vCPU to wait for a STARTUP IPI (SDM Vol. 3A 9.4)", () => {
    expect(exit(K.Exit.Init)).toBe(K.Next.Halt);
    expect(e.activity(0)).toBe(K.Activity.WaitingForSipi);
  });
});

describe("instructions the guest gets an exception for", () => {
  // CPUID.1:ECX.MONITOR is clear for the guest (SDM Vol. 2B "MONITOR", "MWAIT").
  it("MONITOR and MWAIT raise #UD, not skipped", () => {
    expect(exit(K.Exit.MonitorMwait, 3)).toBe(K.Next.Resume);
    expect(exc()).toBe(UD);
    expect(e.skips(0)).toBe(0);
  });

  // No performance counters (CPUID leaf 0xA is zero): any ECX is invalid (SDM Vol. 2B "RDPMC").
  it("RDPMC raises #GP(0), not skipped", () => {
    expect(exit(K.Exit.Rdpmc, 2)).toBe(K.Next.Resume);
    expect(exc()).toBe(GP0);
    expect(e.skips(0)).toBe(0);
  });

  // SDM Vol. 2C "XSETBV": #UD if CR4.OSXSAVE = 0.
  it("XSETBV without CR4.OSXSAVE raises #UD", () => {
    e.initXstate();
    e.reset(1);
    e.setReg(0, RAX, 7n);
    expect(exit(K.Exit.Xsetbv, 3)).toBe(K.Next.Resume);
    expect(exc()).toBe(UD);
    expect(e.skips(0)).toBe(0);
    expect(xsetbvs).toEqual([]);
  });

  it("XSETBV raises #UD on a host without XSAVE, even with CR4.OSXSAVE", async () => {
    await boot(new CpuidHost("GenuineIntel", 0xd, 0x8000_0008));
    e.initXstate();
    e.reset(1);
    e.setCr4(0, CR4_OSXSAVE);
    e.setReg(0, RAX, 1n);
    exit(K.Exit.Xsetbv, 3);
    expect(exc()).toBe(UD);
  });

  // SDM Vol. 1 13.3: XSETBV refuses the XCR0 bits CPUID.(EAX=0DH,ECX=0):EDX:EAX
  // does not report as supported; so it must accept every one it reports.
  it("XSETBV accepts XCR0 = every component CPUID leaf 0xD reports", () => {
    e.initXstate();
    e.reset(1);
    e.setCr4(0, CR4_OSXSAVE);
    e.setReg(0, RAX, 0xdn);
    e.setReg(0, RCX, 0n);
    exit(K.Exit.Cpuid, 2);
    const supported = (e.reg(0, RDX) << 32n) | e.reg(0, RAX);
    expect(supported & 7n).toBe(7n);
    e.setReg(0, RCX, 0n);
    expect(exit(K.Exit.Xsetbv, 3)).toBe(K.Next.Resume);
    expect(exc()).toBe("");
    expect(e.xcr0(0)).toBe(supported);
  });

  it("XSETBV of a valid XCR0 sets it and is skipped; other XCRs and invalid values raise #GP(0)", () => {
    e.initXstate();
    e.reset(1);
    e.setCr4(0, CR4_OSXSAVE);
    const xsetbv = (ecx: bigint, value: bigint) => {
      e.setReg(0, RCX, ecx);
      e.setReg(0, RAX, value & 0xffff_ffffn);
      e.setReg(0, RDX, value >> 32n);
      return exit(K.Exit.Xsetbv, 3);
    };
    expect(xsetbv(0n, 7n)).toBe(K.Next.Resume); // x87, SSE, AVX
    expect(e.skips(0)).toBe(1);
    expect(e.xcr0(0)).toBe(7n);
    expect(xsetbvs.at(-1)).toEqual([0, 7n]);
    expect(e.exceptions(0)).toBe(0);
    // SDM Vol. 1 13.3: XCR0 bit 0 must be set; AVX needs SSE; only supported bits.
    for (const [ecx, value] of [[1n, 3n], [0n, 6n], [0n, 5n], [0n, 0x27n], [0n, 1n << 32n]]) {
      xsetbv(ecx, value);
      expect(exc(), `XSETBV ECX=${ecx} EDX:EAX=${value.toString(16)}`).toBe(GP0);
    }
    expect(e.exceptions(0)).toBe(5);
    expect(e.skips(0)).toBe(1);
    expect(e.xcr0(0)).toBe(7n);
  });
});

describe("exits that stop the VM", () => {
  const stops: Array<[string, () => number, string]> = [
    ["a triple fault", () => exit(K.Exit.TripleFault), "triple fault: the guest shut down its CPU"],
    [
      "a virtualization instruction",
      () => exit(K.Exit.VirtualizationInstruction, 3),
      "the guest executed a virtualization instruction (nested virtualization is not offered)",
    ],
    [
      "a refused VM entry",
      () => exit(K.Exit.InvalidState, 0, 0x8000_0021n),
      "the CPU refused to enter the guest: invalid guest state (exit code 0x80000021)",
    ],
    [
      "an exit the handler does not know",
      () => exit(K.Exit.Unhandled, 0, 0x37n, 0x1234n),
      "unhandled exit: code 0x37, qualification 0x1234",
    ],
  ];
  for (const [what, cause, text] of stops) {
    it(`${what}: Stopped, with the reason on the console`, () => {
      expect(cause()).toBe(K.Next.Stopped);
      expect(e.running()).toBe(0);
      expect(reason()).toBe(text);
      expect(unit.machine.serial()).toContain(`[error] vm unit: stopped: ${text}\n`);
      expect(e.skips(0)).toBe(0);
    });
  }
});

describe("MMIO", () => {
  it("an access to the local APIC's page reaches the exiting vCPU's APIC", () => {
    e.setReg(1, RAX, GARBAGE);
    // mov (%rcx),%eax on vCPU 1, reading the APIC ID register (SDM Vol. 3A 11.4.6).
    expect(e.mmioExit(1, 0xfee0_0020n, 0, 0x018bn, 2)).toBe(K.Next.Resume);
    expect(e.reg(1, RAX)).toBe(1n << 24n);
    expect(e.skips(1)).toBe(1);
  });
});
