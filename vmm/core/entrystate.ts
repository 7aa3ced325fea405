// The state a vCPU starts a loaded kernel in, in a form both backends copy
// into their hardware structure (VMCB save area, VMCS guest state):
// 32-bit protected or 64-bit long mode with flat segments, the control
// registers, and the boot protocol's registers. A loader's result becomes
// one in setup/loaders/entrystate.ts; Vcpu.enterKernel() applies it.

import { SegmentState, TR_ATTRIBUTES, TR_LIMIT } from "../../kernel/arch/segments";

export class EntryState {
  // TR: a busy TSS at base 0, the minimum limit.
  readonly tr: SegmentState = new SegmentState(0, 0, TR_LIMIT, TR_ATTRIBUTES);
  // No boot protocol gives the kernel a stack.
  readonly rsp: u64 = 0;
  rip: u64 = 0;
  rflags: u64 = 0;
  cr0: u64 = 0;
  cr3: u64 = 0;
  cr4: u64 = 0;
  efer: u64 = 0;
  gdtBase: u64 = 0;
  gdtLimit: u32 = 0;
  // The protocol's registers: EAX and EBX for multiboot, RSI for Linux, EBX
  // for PVH; every other general register starts at 0.
  rax: u64 = 0;
  rbx: u64 = 0;
  rsi: u64 = 0;
  // `data` is DS, ES, SS, FS and GS.
  constructor(public cs: SegmentState, public data: SegmentState) {}
}
