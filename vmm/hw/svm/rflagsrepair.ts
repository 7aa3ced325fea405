// The repair of a guest's RFLAGS that QEMU 7.2's #VMEXIT saved wrong.
// Now and then, under load, the emulator writes the VMCB's RFLAGS with
// bits set that the guest never set: reserved ones, which no guest can set
// and the next VMRUN would load back, and others with them (docs/smp.md,
// "Four emulator bugs", bug 4). A Linux guest died of one: NT set, so the
// IRETQ of its sync_core() raised #GP and it panicked, "Attempted to kill
// the idle task" during its early code patching. Hardware never saves a
// reserved bit, so one is the sign; the bits then cleared are those a wrong
// 1 breaks and that a guest almost never sets between two entries.

import {
  RFLAGS_DF,
  RFLAGS_FIXED,
  RFLAGS_ID,
  RFLAGS_IOPL,
  RFLAGS_NT,
  RFLAGS_RESERVED,
  RFLAGS_TF,
  RFLAGS_VIF,
  RFLAGS_VIP,
  RFLAGS_VM,
} from "../../../kernel/arch/x86";

// Set only by POPF, IRET or a task switch (DF by STD, and an ABI keeps it
// clear but for a few instructions), each wrong as a stray 1: TF a #DB,
// DF string instructions run backwards, IOPL and NT an IRET that faults or
// switches tasks, VM, VIF and VIP another mode, ID a CPUID probe misled.
// The status flags, IF and AC change all the time; they are left as saved.
const SET_RARELY: u64 = RFLAGS_TF | RFLAGS_DF | RFLAGS_IOPL | RFLAGS_NT | RFLAGS_VM | RFLAGS_VIF | RFLAGS_VIP
  | RFLAGS_ID;

// Whether the RFLAGS a #VMEXIT saved show the emulator's bug.
export function rflagsCorrupted(saved: u64): bool {
  return (saved & RFLAGS_RESERVED) != 0;
}

// `saved` without its reserved bits, and without those of SET_RARELY that
// were clear in `entered`, what the VMRUN before it loaded. The bug has
// only been seen to add bits, so a bit clear in `saved` stays clear.
export function repairedRflags(saved: u64, entered: u64): u64 {
  return (saved & ~RFLAGS_RESERVED & ~(SET_RARELY & ~entered)) | RFLAGS_FIXED;
}
