// What CPUID tells a guest: the host's answers, filtered, plus our own leaves.
//
// Hidden: what is not virtualized (VMX, SVM, MONITOR/MWAIT, the performance
// counters) and every MSR interface the MSR policy refuses;
// leaf 0xD lists only the XCR0 components XSETBV accepts. Offered on every
// host, because the VMM models them: x2APIC, the TSC-deadline timer,
// IA32_TSC_ADJUST, the machine-check globals, ARAT and the TSC's frequency.
// Added: the hypervisor leaves. The topology is the VM's, not the host's.
// The policy is one function, answer(); a CpuidTable holds its answers for
// the leaves that never change, for the backends' exit fast paths. Intel
// SDM Vol. 2A "CPUID"; AMD APM Vol. 3 Appendix E.

import { rdtsc } from "../../kernel/arch/shim";
import {
  CPUID1_ECX_OSXSAVE,
  CPUID1_ECX_VMX,
  CPUID7_ECX_OSPKE,
  CPUID7_ECX_PKU,
  CPUID_EXT1_ECX_SVM,
  CR4_OSXSAVE,
  CR4_PKE,
  Reg,
  XCR0_AVX,
  XCR0_AVX512,
} from "../../kernel/arch/x86";
import { Cpuid, query } from "../../kernel/cpu/cpuid";
import { idleTicks } from "../../kernel/cpu/idletime";
import { allocPages, freePage } from "../../kernel/mm/linearpages";
import { tscPerMillisecond } from "../../kernel/time/tsc";
import { Vcpu } from "../core/vcpu";
import { Vm } from "../core/vm";
import { tscPerCrystalTick } from "../vcpustate/tsc";
import { offeredXcr0, protectionKeysOffered } from "../vcpustate/xstate";

const HYPERVISOR_BASE: u32 = 0x40000000;
const INTERFACE_LEAF: u32 = 0x40000001;
// The VM's exits so far (ECX: an ExitKind, or ALL_EXITS), as EDX:EAX; what
// a benchmark in the guest reads around its loop (docs/hypercalls.md). With
// ECX = HOST_IDLE the host CPUs' ticks halted with nothing to run.
const EXIT_COUNT_LEAF: u32 = 0x40000002;
const HYPERVISOR_MAX: u32 = EXIT_COUNT_LEAF;
const ALL_EXITS: u32 = 0xffff_ffff;
const HOST_IDLE: u32 = 0xffff_fffe;
const EXTENDED_BASE: u32 = 0x80000000;
export const INTERFACE_VERSION: u32 = 2;
// "Typervisor" padded to 12 bytes, as EBX, ECX, EDX.
const SIGNATURE_EBX: u32 = 0x65707954; // "Type"
const SIGNATURE_ECX: u32 = 0x73697672; // "rvis"
const SIGNATURE_EDX: u32 = 0x5654726f; // "orTV"
// KVM's paravirtual interface, beside ours one block of 0x100 leaves up,
// where Linux looks for it too (it scans for KVM's signature from
// 0x40000000 in steps of 0x100, hypervisor_cpuid_base(); KVM puts its own
// there when it also offers Hyper-V's). Its feature leaf offers one of
// KVM's paravirtual devices, the PV EOI (devices/apic/pveoi.ts), which
// spares most interrupts their EOI exit. And a guest learns that the
// x2APIC works without interrupt remapping, which Linux believes only of
// a hypervisor it knows (kvm_x2apic_available()): its other APIC accesses
// are then MSR writes, not MMIO. Linux's Documentation/virt/kvm/x86/cpuid.rst.
const KVM_BASE: u32 = 0x40000100;
const KVM_FEATURES: u32 = 0x40000101;
const KVM_FEATURE_PV_EOI: u32 = 1 << 6;
// "KVMKVMKVM\0\0\0" as EBX, ECX, EDX.
const KVM_SIGNATURE_EBX: u32 = 0x4b4d564b;
const KVM_SIGNATURE_ECX: u32 = 0x564b4d56;
const KVM_SIGNATURE_EDX: u32 = 0x4d;

const LEAF1_ECX_MONITOR: u32 = 1 << 3;
const LEAF1_ECX_X2APIC: u32 = 1 << 21;
const LEAF1_ECX_TSC_DEADLINE: u32 = 1 << 24;
const LEAF1_ECX_HYPERVISOR: u32 = 1 << 31;
// The on-chip APIC, in leaf 1 and, on AMD, leaf 0x80000001 (EDX bit 9).
const EDX_APIC: u32 = 1 << 9;
// DTES64 (2), DS-CPL (4), SMX (6), EST (7), TM2 (8), CNXT-ID (10), SDBG
// (11), xTPR update control (14), PDCM (15), DCA (18).
const LEAF1_ECX_MSR_FEATURES: u32 = (1 << 2) | (1 << 4) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11)
  | (1 << 14) | (1 << 15) | (1 << 18);
const LEAF1_ECX_HIDDEN: u32 = LEAF1_ECX_MONITOR | CPUID1_ECX_VMX | CPUID1_ECX_OSXSAVE | LEAF1_ECX_MSR_FEATURES;
const LEAF1_ECX_APIC_MODEL: u32 = LEAF1_ECX_X2APIC | LEAF1_ECX_TSC_DEADLINE;
const LEAF1_EDX_HTT: u32 = 1 << 28;
// PSN (18), DS (21), ACPI thermal control (22), TM (29), PBE (31).
const LEAF1_EDX_HIDDEN: u32 = LEAF1_EDX_HTT | (1 << 18) | (1 << 21) | (1 << 22) | (1 << 29) | (1 << 31);
// Leaf 4 EAX: bits 25:14, the logical processors sharing the cache, less
// one, and bits 31:26, the cores in the package, less one.
const LEAF4_EAX_SHARING: u32 = 0xffff_c000;
const POWER_LEAF: u32 = 6;
const LEAF6_EAX_ARAT: u32 = 1 << 2;
// Leaf 7.0 EBX: SGX (2), RDT-M (12), RDT-A (15), PT (25) are hidden;
// TSC_ADJUST (1) is offered on every host: the vCPU has one (vcpustate/tsc.ts).
const LEAF7_EBX_TSC_ADJUST: u32 = 1 << 1;
const LEAF7_EBX_HIDDEN: u32 = (1 << 2) | (1 << 12) | (1 << 15) | (1 << 25);
// ECX: WAITPKG (5), CET shadow stacks (7), SGX-LC (30), PKS (31).
const LEAF7_ECX_HIDDEN: u32 = (1 << 5) | (1 << 7) | (1 << 30) | (1 << 31);
// EDX: PCONFIG (18), CET-IBT (20), IBRS/IBPB, STIBP, L1D_FLUSH,
// ARCH_CAPABILITIES, CORE_CAPABILITIES, SSBD (26-31).
const LEAF7_EDX_HIDDEN: u32 = (1 << 18) | (1 << 20) | 0xfc00_0000;
// The features whose state lives in XSAVE components XCR0 may not enable
// (vcpustate/xstate.ts offers x87, SSE, AVX, AVX-512 and PKRU at most): an
// OS that saw them would enable the component and take #GP (SDM Vol. 1
// 13.3). Leaf 7.0 EBX: MPX (14); EDX: AMX-BF16 (22), AMX-TILE (24),
// AMX-INT8 (25): never offered.
const LEAF7_EBX_NO_STATE: u32 = 1 << 14;
const LEAF7_EDX_NO_STATE: u32 = (1 << 22) | (1 << 24) | (1 << 25);
// Without AVX state: leaf 1 ECX FMA (12), AVX (28), F16C (29), and leaf 7
// EBX AVX2 (5); without AVX-512 state, leaf 7 EBX F (16), DQ (17), IFMA
// (21), PF (26), ER (27), CD (28), BW (30), VL (31); ECX VBMI (1), VBMI2
// (6), VNNI (11), BITALG (12), VPOPCNTDQ (14); EDX 4VNNIW (2), 4FMAPS (3),
// VP2INTERSECT (8), FP16 (23).
const LEAF1_ECX_AVX: u32 = (1 << 12) | (1 << 28) | (1 << 29);
const LEAF7_EBX_AVX: u32 = 1 << 5;
const LEAF7_EBX_AVX512: u32 = (1 << 16) | (1 << 17) | (1 << 21) | (7 << 26) | (3 << 30);
const LEAF7_ECX_AVX512: u32 = (1 << 1) | (1 << 6) | (1 << 11) | (1 << 12) | (1 << 14);
const LEAF7_EDX_AVX512: u32 = (1 << 2) | (1 << 3) | (1 << 8) | (1 << 23);
// Leaf 0xD.1 EAX bit 3: XSAVES, which needs IA32_XSS, not offered.
const LEAF0D1_EAX_XSAVES: u32 = 1 << 3;
// Leaves 0xB and 0x1F, ECX[15:8]: the level types.
const LEVEL_SMT: u32 = 1 << 8, LEVEL_CORE: u32 = 2 << 8;
const EXT1_ECX_CMP_LEGACY: u32 = 1 << 1;
const EXT1_ECX_TOPOLOGY_EXTENSIONS: u32 = 1 << 22;
// AMD's performance-counter extensions (PerfCtrExtCore, PerfCtrExtNB,
// PerfCtrExtLLC): six core counters at C0010200h and the others, which the
// MSR policy refuses; the guest has the four legacy ones (APM Vol. 2 13.2).
const EXT1_ECX_PERF_EXTENSIONS: u32 = (1 << 23) | (1 << 24) | (1 << 28);
// 0x80000007 EDX: of the power management bits only TscInvariant (8).
const EXT7_EDX_TSC_INVARIANT: u32 = 1 << 8;
// 0x80000008 EBX: AMD's IBPB (12), IBRS (14), STIBP (15), SSBD (24),
// VIRT_SSBD (25); ECX: NC (cores less one) in bits 7:0, ApicIdSize in 15:12.
const EXT8_EBX_SPECULATION: u32 = (1 << 12) | (1 << 14) | (1 << 15) | (1 << 24) | (1 << 25);
const EXT8_ECX_CORES: u32 = 0xf0ff;

// The policy: the guest's view of (leaf, subleaf), into `r`. `cr4` is the
// guest's: CPUID.1:ECX[27] reflects its OSXSAVE, CPUID.(7,0):ECX[4] its
// PKE; `apicId` the
// vCPU's local APIC ID (CPUID.1:EBX[31:24], and the x2APIC ID in EDX of the
// topology leaves 0xB and 0x1F); `apicOn` IA32_APIC_BASE's enable bit: with
// the APIC disabled, the APIC flag of leaves 1 and 0x80000001 reads 0 (SDM
// Vol. 3A 11.4.3; AMD's CPUID specification, Fn0000_0001_EDX[APIC]).
//
// Hidden, because they are not virtualized yet: VMX and SVM (no nested
// virtualization), MONITOR/MWAIT, the performance-monitoring leaves
// (Intel's 0xA, AMD's counter extensions and 0x80000022), and
// every feature that is an MSR interface the MSR policy
// refuses (msrpolicy.ts): debug store, thermal and power management,
// SpeedStep, SGX, resource monitoring, processor trace, UMWAIT, CET, the
// speculation controls; an OS that believed in them would take #GP.
// Offered on every host, because the VMM models them: x2APIC and the
// TSC-deadline timer (devices/apic/lapic.ts), IA32_TSC_ADJUST
// (vcpustate/tsc.ts), the machine-check architecture with no
// error-reporting banks (msrpolicy.ts), and in leaf 6 (power management)
// only ARAT: the APIC timer never stops. Where the host has them, RDTSCP
// and RDPID: each vCPU has its own IA32_TSC_AUX (vcpustate/msrs.ts); and
// protection keys: each vCPU has its own PKRU (vcpustate/xstate.ts).
// Added: the "hypervisor present" bit (CPUID.1:ECX[31]), the hypervisor
// leaves at 0x40000000 (max leaf, signature "TypervisorTV"), 0x40000001
// (interface version) and 0x40000002 (the VM's exit counts), KVM's signature at 0x40000100 with its PV EOI in
// 0x40000101, and the TSC frequency leaves 0x15 and 0x16, with
// the TSC the hypervisor calibrated (tscLeaf()). The topology is the VM's,
// not the host's: every vCPU is a package of its own with one core
// of one thread, its APIC ID the package's (the topology fields of leaves 1,
// 4, 0xB and 0x1F; on AMD no CmpLegacy, no core count in 0x80000008, no
// topology extensions), so an OS finds what the MADT lists.
function answer(leaf: u32, subleaf: u32, cr4: u64, apicId: u32, apicOn: bool, r: Cpuid): void {
  if (leaf == HYPERVISOR_BASE) {
    r.set(HYPERVISOR_MAX, SIGNATURE_EBX, SIGNATURE_ECX, SIGNATURE_EDX);
    return;
  }
  if (leaf == KVM_BASE) {
    r.set(KVM_FEATURES, KVM_SIGNATURE_EBX, KVM_SIGNATURE_ECX, KVM_SIGNATURE_EDX);
    return;
  }
  if (leaf > HYPERVISOR_BASE && leaf < EXTENDED_BASE) {
    const features = leaf == INTERFACE_LEAF ? INTERFACE_VERSION : leaf == KVM_FEATURES ? KVM_FEATURE_PV_EOI : 0;
    r.set(features, 0, 0, 0);
    return;
  }
  if (leaf == POWER_LEAF) {
    r.set(LEAF6_EAX_ARAT, 0, 0, 0);
    return;
  }
  if (leaf == TSC_LEAF || leaf == FREQUENCY_LEAF) {
    tscLeaf(leaf, r);
    return;
  }
  // Basic leaves the host lacks are zero, as on AMD (Intel would repeat its
  // highest leaf), and so are those beyond ours.
  if (leaf > hostBasicMax() && leaf < HYPERVISOR_BASE) {
    r.set(0, 0, 0, 0);
    return;
  }
  const host = query(leaf, subleaf);
  r.set(host.eax, host.ebx, host.ecx, host.edx);
  if (leaf == 0) {
    r.eax = max(r.eax, FREQUENCY_LEAF);
  } else if (leaf == 1) {
    r.ecx &= ~LEAF1_ECX_HIDDEN;
    if ((offeredXcr0() & XCR0_AVX) == 0) r.ecx &= ~LEAF1_ECX_AVX;
    r.ecx |= LEAF1_ECX_HYPERVISOR | LEAF1_ECX_APIC_MODEL | ((cr4 & CR4_OSXSAVE) != 0 ? CPUID1_ECX_OSXSAVE : 0);
    r.edx &= ~LEAF1_EDX_HIDDEN;
    if (!apicOn) r.edx &= ~EDX_APIC;
    // EBX[23:16], the logical processors in the package, is 1 (without HTT
    // an OS should not read it, but some do).
    r.ebx = (r.ebx & 0x0000ffff) | (1 << 16) | (apicId << 24);
  } else if (leaf == 4) {
    r.eax &= ~LEAF4_EAX_SHARING;
  } else if (leaf == 0xb || leaf == 0x1f) {
    // One thread at the SMT level, one core at the core level, each level
    // shifting nothing off the x2APIC ID; the levels end at subleaf 2.
    const level = subleaf == 0 ? LEVEL_SMT : subleaf == 1 ? LEVEL_CORE : 0;
    r.set(0, subleaf < 2 ? 1 : 0, (subleaf & 0xff) | level, apicId);
  } else if (leaf == 5 || leaf == 0xa) {
    r.set(0, 0, 0, 0);
  } else if (leaf == EXTENDED_BASE + 1) {
    r.ecx &= ~(CPUID_EXT1_ECX_SVM | EXT1_ECX_CMP_LEGACY | EXT1_ECX_TOPOLOGY_EXTENSIONS | EXT1_ECX_PERF_EXTENSIONS);
    if (!apicOn) r.edx &= ~EDX_APIC;
  } else if (leaf == EXTENDED_BASE + 7) {
    r.edx &= EXT7_EDX_TSC_INVARIANT;
  } else if (leaf == EXTENDED_BASE + 8) {
    r.ebx &= ~EXT8_EBX_SPECULATION;
    r.ecx &= ~EXT8_ECX_CORES;
  } else if (leaf == EXTENDED_BASE + 0x1d || leaf == EXTENDED_BASE + 0x1e || leaf == EXTENDED_BASE + 0x22) {
    // Reserved without the topology extensions; 0x80000022, AMD's
    // performance monitoring version 2, offers nothing.
    r.set(0, 0, 0, 0);
  } else if (leaf == 0xd && subleaf == 0) {
    // EDX:EAX, the XCR0 bits XSETBV accepts (SDM Vol. 1 13.3): only the
    // components the vCPU's state holds (vcpustate/xstate.ts).
    const offered = offeredXcr0();
    r.eax &= <u32>offered;
    r.edx &= <u32>(offered >> 32);
  } else if (leaf == 0xd && subleaf == 1) {
    // No supervisor state components (IA32_XSS): no XSAVES, nothing in ECX:EDX.
    r.eax &= ~LEAF0D1_EAX_XSAVES;
    r.ecx = 0;
    r.edx = 0;
  } else if (leaf == 7 && subleaf == 0) {
    const offered = offeredXcr0();
    r.ebx = (r.ebx & ~(LEAF7_EBX_HIDDEN | LEAF7_EBX_NO_STATE)) | LEAF7_EBX_TSC_ADJUST;
    r.ecx &= ~(LEAF7_ECX_HIDDEN | CPUID7_ECX_PKU | CPUID7_ECX_OSPKE);
    if (protectionKeysOffered()) r.ecx |= CPUID7_ECX_PKU | ((cr4 & CR4_PKE) != 0 ? CPUID7_ECX_OSPKE : 0);
    r.edx &= ~(LEAF7_EDX_HIDDEN | LEAF7_EDX_NO_STATE);
    if ((offered & XCR0_AVX) == 0) r.ebx &= ~LEAF7_EBX_AVX;
    if ((offered & XCR0_AVX512) == 0) {
      r.ebx &= ~LEAF7_EBX_AVX512;
      r.ecx &= ~LEAF7_ECX_AVX512;
      r.edx &= ~LEAF7_EDX_AVX512;
    }
  }
}

// Leaves 0x15 and 0x16 tell the guest its TSC frequency, which an OS trusts
// over its own calibration, so every guest gets them, whatever the host has.
// The host's figures can be wrong for the TSC the guest really has (Bochs
// reports a fixed GHz while its TSC counts instructions), so the guest gets
// the one the hypervisor measured against the PIT. Leaf 15H's "core crystal
// clock" is also what an OS takes to feed the local APIC timer (Linux sets
// its APIC timer period from it), so it is exactly the clock that the
// APIC model counts in: the TSC divided by tscPerCrystalTick(),
// the smallest divisor that fits the crystal's Hz in ECX. TSC = ECX * EBX /
// EAX (SDM Vol. 2A CPUID leaf 15H); leaf 16H gives the same figure in MHz as
// the base and maximum frequency (with a 100 MHz bus). Before the
// calibration (unit tests) EBX is 0: "not enumerated".
const TSC_LEAF: u32 = 0x15;
const FREQUENCY_LEAF: u32 = 0x16;
const BUS_MHZ: u32 = 100;

function tscLeaf(leaf: u32, r: Cpuid): void {
  const hz = tscPerMillisecond() * 1000, ratio = tscPerCrystalTick();
  if (leaf == TSC_LEAF) {
    r.set(1, hz == 0 ? 0 : <u32>ratio, <u32>(hz / ratio), 0);
  } else {
    const mhz = <u32>(hz / 1_000_000);
    r.set(mhz, mhz, BUS_MHZ, 0);
  }
}

let basicMax: u32 = 0;
function hostBasicMax(): u32 {
  if (basicMax == 0) basicMax = query(0).eax;
  return basicMax;
}

const scratch = new Cpuid();

// Answers the guest's CPUID (leaf in EAX, subleaf in ECX) into its registers.
export function emulateCpuid(vm: Vm, vcpu: Vcpu): void {
  const leaf = <u32>vcpu.regs.get(Reg.Rax), subleaf = <u32>vcpu.regs.get(Reg.Rcx);
  if (leaf == EXIT_COUNT_LEAF) {
    const n = exitCount(vm, subleaf);
    scratch.set(<u32>n, 0, 0, <u32>(n >> 32));
  } else {
    answer(leaf, subleaf, vcpu.cr4, vcpu.apicId, vm.apics.of(vcpu).enabled, scratch);
  }
  vcpu.regs.set(Reg.Rax, scratch.eax);
  vcpu.regs.set(Reg.Rbx, scratch.ebx);
  vcpu.regs.set(Reg.Rcx, scratch.ecx);
  vcpu.regs.set(Reg.Rdx, scratch.edx);
}

// The VM's exits of `kind` that reached handleExit() (this CPUID's among
// them), with ALL_EXITS every exit of its vCPUs, those the backends
// finished themselves too, or with HOST_IDLE the host's idle ticks.
function exitCount(vm: Vm, kind: u32): u64 {
  if (kind == HOST_IDLE) return idleTicks(rdtsc());
  if (kind != ALL_EXITS) return vm.exitStats.handled(<i32>kind);
  let n: u64 = 0;
  for (let i = 0; i < vm.vcpus.length; i++) n += vm.vcpus[i].exits;
  return n;
}

// Leaves whose answer is fixed for the life of a vCPU: the same for every
// subleaf (SDM Vol. 2A Table 3-8 lists which leaves are indexed by ECX;
// these are not) and free of guest and vCPU state (leaf 1 is not: OSXSAVE
// follows CR4, and it holds the APIC ID; 0x80000001 is not either: its APIC
// flag follows the APIC's enable bit). Anything not listed takes the policy
// path, which is always right.
const BASIC_FIXED: u32 = (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 6) | (1 << 0xa) | (1 << 0x15) | (1 << 0x16);
const EXTENDED_FIXED: u32 = 0x1fd; // 0x80000000 and 0x80000002-0x80000008
// Table slots: basic leaves 0-31, then extended leaves 0x80000000-0x8000001f.
const SLOTS: u32 = 64;

// Each backend vCPU keeps a CpuidTable: the policy's answers for the leaves
// whose answer never changes, worked out once when the vCPU is made, so that
// its exit fast path (fastExit() in hw/svm/svmvcpu.ts and hw/vmx/vmxvcpu.ts)
// answers those leaves with a few loads. Every other leaf goes through the
// policy at the time of the exit.
export class CpuidTable {
  // SLOTS answers of 16 bytes each: EAX, EBX, ECX, EDX.
  private readonly answers: usize = allocPages(1);
  // Bit n set: slot n holds an answer.
  private present: u64 = 0;

  // Its page back (a destroyed vCPU's).
  free(): void {
    freePage(this.answers);
  }

  constructor() {
    const extendedMax = query(EXTENDED_BASE).eax;
    for (let leaf: u32 = 0; leaf < 32; leaf++) {
      if ((BASIC_FIXED & (1 << leaf)) != 0) this.fill(leaf, leaf);
    }
    for (let i: u32 = 0; i < 32; i++) {
      if ((EXTENDED_FIXED & (1 << i)) != 0 && EXTENDED_BASE + i <= extendedMax) this.fill(32 + i, EXTENDED_BASE + i);
    }
  }

  private fill(slot: u32, leaf: u32): void {
    answer(leaf, 0, 0, 0, true, scratch);
    const at = this.answers + <usize>slot * 16;
    store<u32>(at, scratch.eax);
    store<u32>(at, scratch.ebx, 4);
    store<u32>(at, scratch.ecx, 8);
    store<u32>(at, scratch.edx, 12);
    this.present |= <u64>1 << slot;
  }

  // Answers `leaf` from the table: EAX into the 8 bytes at `raxAt` (the
  // backend's home of the guest's RAX), EBX, ECX, EDX into the register
  // block at `regs`. False if the leaf is not in the table.
  @inline
  answer(leaf: u32, raxAt: usize, regs: usize): bool {
    let slot = leaf;
    if (leaf >= 32) {
      slot = leaf - EXTENDED_BASE;
      if (slot >= 32) return false;
      slot += 32;
    }
    if (((this.present >> slot) & 1) == 0) return false;
    const at = this.answers + <usize>slot * 16;
    store<u64>(raxAt, load<u32>(at));
    store<u64>(regs, load<u32>(at, 4), <usize>Reg.Rbx << 3);
    store<u64>(regs, load<u32>(at, 8), <usize>Reg.Rcx << 3);
    store<u64>(regs, load<u32>(at, 12), <usize>Reg.Rdx << 3);
    return true;
  }
}
