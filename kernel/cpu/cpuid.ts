// CPUID, and the facts about this CPU the kernel cares about.
// Intel SDM Vol. 2A "CPUID"; AMD APM Vol. 3 Appendix E.

import { cpuid, readCr4, writeCr4 } from "../arch/shim";
import { CPUID1_ECX_XSAVE, CPUID7_ECX_PKU, CPUID_EXT1_EDX_PAGE1GB, CR4_OSXSAVE, CR4_PKE } from "../arch/x86";

// One 16-byte buffer for all queries: EAX, EBX, ECX, EDX.
const regs = memory.data(16);

export class Cpuid {
  eax: u32 = 0;
  ebx: u32 = 0;
  ecx: u32 = 0;
  edx: u32 = 0;

  set(eax: u32, ebx: u32, ecx: u32, edx: u32): void {
    this.eax = eax;
    this.ebx = ebx;
    this.ecx = ecx;
    this.edx = edx;
  }
}

// The answer is one shared object, overwritten by the next query: read the
// registers you need before asking again. (No allocation: guest CPUID exits
// come through here.)
const result = new Cpuid();

export function query(leaf: u32, subleaf: u32 = 0): Cpuid {
  cpuid(leaf, subleaf, regs);
  const r = result;
  r.eax = load<u32>(regs);
  r.ebx = load<u32>(regs, 4);
  r.ecx = load<u32>(regs, 8);
  r.edx = load<u32>(regs, 12);
  return r;
}

export function maxExtendedLeaf(): u32 {
  return query(0x80000000).eax;
}

// "GenuineIntel", "AuthenticAMD", ...
export function vendor(): string {
  const r = query(0);
  return fourChars(r.ebx) + fourChars(r.edx) + fourChars(r.ecx);
}

// The processor brand string (leaves 0x80000002-4), trimmed.
export function brand(): string {
  if (maxExtendedLeaf() < 0x80000004) return "";
  let s = "";
  for (let leaf: u32 = 0x80000002; leaf <= 0x80000004; leaf++) {
    const r = query(leaf);
    s += fourChars(r.eax) + fourChars(r.ebx) + fourChars(r.ecx) + fourChars(r.edx);
  }
  return s.trim();
}

// MAXPHYADDR: the width of a physical address (CPUID 0x80000008 EAX[7:0];
// 36 where the leaf is missing, SDM Vol. 3A 4.1.4). Guests see the same.
export function physicalAddressBits(): u32 {
  return maxExtendedLeaf() >= 0x80000008 ? query(0x80000008).eax & 0xff : 36;
}

// 1 GiB pages in the host page tables (CPUID 0x80000001 EDX bit 26).
export function hasHugePages(): bool {
  return maxExtendedLeaf() >= 0x80000001 && (query(0x80000001).edx & CPUID_EXT1_EDX_PAGE1GB) != 0;
}

// IA32_TSC_AUX exists where RDTSCP (CPUID 0x80000001 EDX bit 27) or RDPID
// (CPUID.(7,0):ECX[22]) does (SDM Vol. 4 Table 2-2).
export function hasTscAux(): bool {
  const rdtscp = maxExtendedLeaf() >= 0x80000001 && (query(0x80000001).edx & (1 << 27)) != 0;
  return rdtscp || (query(0).eax >= 7 && (query(7).ecx & (1 << 22)) != 0);
}

// Protection keys (CPUID.(7,0):ECX[3]).
export function hasPku(): bool {
  return query(0).eax >= 7 && (query(7).ecx & CPUID7_ECX_PKU) != 0;
}

// The instructions that switch guests' user state (vmm/vcpustate/xstate.ts):
// XSAVE (CPUID.1:ECX[26]) needs CR4.OSXSAVE for XSETBV, XSAVE and XRSTOR,
// and protection keys need CR4.PKE for RDPKRU and WRPKRU. CR4.PKE changes
// nothing for the hypervisor itself: keys govern only user pages, and its
// page tables have none (SDM Vol. 3A 4.6.2).
export function enableStateSwitching(): void {
  if ((query(1).ecx & CPUID1_ECX_XSAVE) != 0) writeCr4(readCr4() | CR4_OSXSAVE);
  if (hasPku()) writeCr4(readCr4() | CR4_PKE);
}

function fourChars(v: u32): string {
  let s = "";
  for (let i: u32 = 0; i < 4; i++) {
    const c = (v >> (i * 8)) & 0xff;
    if (c != 0) s += String.fromCharCode(c);
  }
  return s;
}
