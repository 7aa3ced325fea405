// Unit-test entry: the repair of an RFLAGS that QEMU 7.2's #VMEXIT saved
// wrong (vmm/hw/svm/rflagsrepair.ts), as the AMD-V backend's fastExit()
// applies it.

import { repairedRflags, rflagsCorrupted } from "../../../vmm/hw/svm/rflagsrepair";

export function corrupted(saved: u64): bool {
  return rflagsCorrupted(saved);
}

export function repaired(saved: u64, entered: u64): u64 {
  return repairedRflags(saved, entered);
}
