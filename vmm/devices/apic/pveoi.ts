// KVM's paravirtual end of interrupt (MSR_KVM_PV_EOI_EN; Linux's
// Documentation/virt/kvm/x86/msr.rst), which the CPUID policy offers with
// KVM's signature (emul/cpuidpolicy.ts). The guest names a 4-byte word of
// its RAM. Before an entry the VMM sets its bit 0 when the interrupt in
// service can be ended by clearing its ISR bit alone (LocalApic.quietEoi);
// the guest then ends it by clearing that bit, in one instruction,
// instead of writing the EOI register, which would exit. At the next exit
// the VMM clears the bit if the guest did not, or ends the interrupt on
// its behalf if it did. The VMM touches the word only while its vCPU is
// out of the guest, and only bit 0, so the two never race.

import { physRead32, physWrite32 } from "../../../kernel/arch/shim";

export const MSR_KVM_PV_EOI_EN: u32 = 0x4b564d04;
// The MSR: bit 0 enables, bit 1 is reserved, bits 63:2 the word's address.
const ENABLED: u64 = 1;
const RESERVED: u64 = 2;
const ADDRESS: u64 = ~(<u64>3);
// The word's bit 0: the guest may end the interrupt in service by clearing it.
const MAY_SKIP: u32 = 1;

// The guest-physical address of the word an MSR value names.
export function pvEoiWord(value: u64): u64 {
  return value & ADDRESS;
}

export class PvEoi {
  // What the guest wrote last, as RDMSR reads it back.
  msr: u64 = 0;
  // The word's host-physical address, 0 while off; whether bit 0 is set.
  private word: u64 = 0;
  private armed: bool = false;

  get enabled(): bool {
    return this.word != 0;
  }

  // WRMSR of `value`, whose word (pvEoiWord()) lies at host-physical
  // `host`, negative if not all in the VM's RAM; false for #GP: a reserved
  // bit, or the word enabled outside RAM.
  write(value: u64, host: i64): bool {
    if ((value & RESERVED) != 0) return false;
    let word: u64 = 0;
    if ((value & ENABLED) != 0) {
      if (host < 0) return false;
      word = <u64>host;
    }
    this.msr = value;
    this.word = word;
    this.armed = false;
    return true;
  }

  // INIT or power-on: off, as the MSR's reset value says.
  reset(): void {
    this.msr = 0;
    this.word = 0;
    this.armed = false;
  }

  // Before an entry: the guest may end the interrupt in service itself.
  // Still armed (no exit came between two entries), the word is left as
  // the guest left it, for the next takeEnded().
  arm(): void {
    if (this.armed) return;
    physWrite32(this.word, physRead32(this.word) | MAY_SKIP);
    this.armed = true;
  }

  // At an exit: whether the guest ended the interrupt in service through
  // the word since arm(). Either way the word says "write the EOI
  // register" again until the next arm().
  takeEnded(): bool {
    if (!this.armed) return false;
    this.armed = false;
    const v = physRead32(this.word);
    if ((v & MAY_SKIP) == 0) return true;
    physWrite32(this.word, v & ~MAY_SKIP);
    return false;
  }
}
