// A vCPU's extended processor state: XCR0, the XSAVE-managed registers
// beyond x87/SSE (AVX, AVX-512), which the exit stubs' FXSAVE does not cover,
// and PKRU, the protection-key rights a guest's user code sets with WRPKRU.
//
// The hypervisor itself never uses them, so a guest's XCR0 and extended
// registers stay loaded for its whole slice: enter() loads them when the
// slice starts, leave() saves them when it ends, so no other VM can read
// them. XSETBV from the guest is checked against the rules of Intel SDM Vol. 1
// 13.3 "Enabling the XSAVE feature set" and the components we offer.
// PKRU is switched by RDPKRU and WRPKRU, not XSAVE: a guest may set CR4.PKE
// and write PKRU without enabling its XSAVE component.

import { rdpkru, wrpkru, xgetbv, xrstor, xsave, xsetbv } from "../../kernel/arch/shim";
import { CPUID1_ECX_XSAVE, XCR0_AVX, XCR0_AVX512, XCR0_PKRU, XCR0_SSE, XCR0_X87 } from "../../kernel/arch/x86";
import { hasPku, query } from "../../kernel/cpu/cpuid";
import { allocPage, freePage } from "../../kernel/mm/linearpages";

const LEGACY: u64 = XCR0_X87 | XCR0_SSE; // handled by FXSAVE in the exit stubs
const XSAVE_AREA_MAX: u32 = 4096; // one page
const PKRU_COMPONENT: u32 = 9;

// The XCR0 bits guests may set: what the CPU supports, limited to state that
// fits our one-page save area. 0 if the CPU has no XSAVE.
let offered: u64 = 0;
// Protection keys: each vCPU has its own PKRU.
let keys = false;

// Called once at boot, after the host enabled CR4.OSXSAVE and CR4.PKE.
export function initExtendedState(): void {
  keys = hasPku();
  if ((query(1).ecx & CPUID1_ECX_XSAVE) == 0) return;
  const leaf = query(0xd, 0);
  const supported = <u64>leaf.eax | (<u64>leaf.edx << 32);
  const avx512 = leaf.ecx <= XSAVE_AREA_MAX ? XCR0_AVX512 : 0;
  // Subleaf 9 gives the PKRU component's size (EAX) and offset (EBX).
  const pkru = query(0xd, PKRU_COMPONENT);
  const pkruFits = keys && pkru.ebx + pkru.eax <= XSAVE_AREA_MAX;
  offered = supported & (LEGACY | XCR0_AVX | avx512 | (pkruFits ? XCR0_PKRU : 0));
}

// Protection keys are offered where the host has them and XCR0 may hold
// their state (CPUID.(7,0):ECX.PKU, emul/cpuidpolicy.ts).
export function protectionKeysOffered(): bool {
  return (offered & XCR0_PKRU) != 0;
}

export function xsaveAvailable(): bool {
  return offered != 0;
}

// The XCR0 bits guests may set: what CPUID leaf 0xD reports (emul/cpuidpolicy.ts).
export function offeredXcr0(): u64 {
  return offered;
}

// Is `value` a valid XCR0 for a guest? (SDM Vol. 1 13.3)
export function validXcr0(value: u64): bool {
  if ((value & ~offered) != 0 || (value & XCR0_X87) == 0) return false;
  if ((value & XCR0_AVX) != 0 && (value & XCR0_SSE) == 0) return false;
  const avx512 = value & XCR0_AVX512;
  return avx512 == 0 || (avx512 == XCR0_AVX512 && (value & XCR0_AVX) != 0);
}

export class ExtendedState {
  xcr0: u64 = XCR0_X87; // the reset value
  private pkru: u32 = 0; // the reset value: every key allows everything
  private readonly area: usize = offered != 0 ? allocPage() : 0; // zeroed: every component in its initial state

  // Its save area back to the pages (a destroyed vCPU's).
  free(): void {
    if (this.area != 0) freePage(this.area);
  }

  enter(): void {
    if (keys) wrpkru(this.pkru);
    if (offered == 0) return;
    xsetbv(0, this.xcr0);
    const saved = this.xcr0 & offered & ~LEGACY;
    if (saved) xrstor(this.area, saved);
  }

  // QEMU 7.2's AMD-V does not intercept XSETBV (measured: a guest's XSETBV
  // there never exits), so leave() takes the live XCR0 as the guest's: on
  // hardware that honours the intercept it is the value we set anyway. Only
  // the components we offer are saved, so the save area cannot overflow; a
  // guest that bypasses the check on such an emulator could see others'
  // state in components outside that set.
  leave(): void {
    if (keys) this.pkru = rdpkru();
    if (offered == 0) return;
    this.xcr0 = xgetbv(0);
    const saved = this.xcr0 & offered & ~LEGACY;
    if (saved) xsave(this.area, saved);
  }

  // Power-up, during the vCPU's slice: XCR0 back to x87 only, and every
  // component the guest may turn on again in its initial state.
  powerOn(): void {
    this.pkru = 0;
    this.xcr0 = XCR0_X87;
    if (offered != 0) memory.fill(this.area, 0, 4096);
    this.enter();
  }

  // The guest's XSETBV (already validated): components it turns on start in
  // their initial state or where it left them, never with another VM's values.
  change(value: u64): void {
    this.leave();
    this.xcr0 = value;
    this.enter();
  }
}
