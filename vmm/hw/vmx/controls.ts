// The bits of the VMX control words, the basic exit reasons, and the
// event-information format shared by injection and exit reporting.
//
// Controls: Intel SDM Vol. 3C 24.6.1 (pin-based), 24.6.2 (processor-based,
// primary and secondary), 24.7.1 (VM-exit), 24.8.1 (VM-entry). Exit reasons:
// Appendix C "VMX Basic Exit Reasons". Event information: 24.8.3 "VM-Entry
// Controls for Event Injection", 24.9.3 "Information for VM Exits That Occur
// During Event Delivery".

// Pin-based VM-execution controls.
export const PIN_EXTERNAL_INTERRUPT: u32 = 1 << 0;
export const PIN_NMI: u32 = 1 << 3;
// The CPU tracks the guest's NMI blocking for injected NMIs (virtual-NMI
// blocking, cleared by the guest's IRET), and NMI-window exiting works (24.6.1).
export const PIN_VIRTUAL_NMIS: u32 = 1 << 5;
export const PIN_PREEMPTION_TIMER: u32 = 1 << 6;

// Primary processor-based VM-execution controls.
export const PROC_INTERRUPT_WINDOW: u32 = 1 << 2;
export const PROC_TSC_OFFSETTING: u32 = 1 << 3;
export const PROC_HLT: u32 = 1 << 7;
export const PROC_MWAIT: u32 = 1 << 10;
export const PROC_RDPMC: u32 = 1 << 11;
export const PROC_CR8_LOAD: u32 = 1 << 19;
export const PROC_CR8_STORE: u32 = 1 << 20;
export const PROC_NMI_WINDOW: u32 = 1 << 22;
export const PROC_MOV_DR: u32 = 1 << 23;
export const PROC_IO_BITMAPS: u32 = 1 << 25;
export const PROC_MSR_BITMAPS: u32 = 1 << 28;
export const PROC_MONITOR: u32 = 1 << 29;
export const PROC_SECONDARY: u32 = 0x80000000;

// Secondary processor-based VM-execution controls.
export const PROC2_EPT: u32 = 1 << 1;
export const PROC2_RDTSCP: u32 = 1 << 3;
export const PROC2_VPID: u32 = 1 << 5;
export const PROC2_UNRESTRICTED_GUEST: u32 = 1 << 7;
export const PROC2_INVPCID: u32 = 1 << 12;
export const PROC2_VMCS_SHADOWING: u32 = 1 << 14;
export const PROC2_PML: u32 = 1 << 17;

// VM-exit controls.
export const EXIT_SAVE_DEBUG: u32 = 1 << 2;
export const EXIT_HOST_64BIT: u32 = 1 << 9;
export const EXIT_SAVE_EFER: u32 = 1 << 20;
export const EXIT_LOAD_EFER: u32 = 1 << 21;
export const EXIT_SAVE_PREEMPTION_TIMER: u32 = 1 << 22;

// VM-entry controls.
export const ENTRY_LOAD_DEBUG: u32 = 1 << 2;
export const ENTRY_IA32E_GUEST: u32 = 1 << 9;
export const ENTRY_LOAD_EFER: u32 = 1 << 15;

// Basic exit reasons (bits 15:0 of the exit reason field).
export const EXIT_EXCEPTION_OR_NMI: u32 = 0;
export const EXIT_EXTERNAL_INTERRUPT: u32 = 1;
export const EXIT_TRIPLE_FAULT: u32 = 2;
export const EXIT_INIT: u32 = 3;
export const EXIT_INTERRUPT_WINDOW: u32 = 7;
export const EXIT_NMI_WINDOW: u32 = 8;
export const EXIT_CPUID: u32 = 10;
export const EXIT_HLT: u32 = 12;
export const EXIT_RDPMC: u32 = 15;
export const EXIT_VMCALL: u32 = 18;
export const EXIT_VMCLEAR: u32 = 19; // 19-27: VMCLEAR VMLAUNCH VMPTRLD VMPTRST VMREAD VMRESUME VMWRITE VMXOFF VMXON
export const EXIT_VMXON: u32 = 27;
export const EXIT_CR_ACCESS: u32 = 28;
export const EXIT_IO: u32 = 30;
// Its exit qualification (SDM Vol. 3C 27.2.1, Table 27-5): the size less
// one (bits 2:0), IN rather than OUT, a string instruction, a REP prefix,
// the port (bits 31:16).
export const IO_SIZE_MASK: u32 = 7;
export const IO_IN: u32 = 1 << 3;
export const IO_STRING: u32 = 1 << 4;
export const IO_REP: u32 = 1 << 5;
export const IO_PORT_SHIFT: u32 = 16;
export const EXIT_RDMSR: u32 = 31;
export const EXIT_WRMSR: u32 = 32;
export const EXIT_MWAIT: u32 = 36;
export const EXIT_MONITOR: u32 = 39;
export const EXIT_EPT_VIOLATION: u32 = 48;
export const EXIT_EPT_MISCONFIG: u32 = 49;
export const EXIT_INVEPT: u32 = 50;
export const EXIT_PREEMPTION_TIMER: u32 = 52;
export const EXIT_INVVPID: u32 = 53;
export const EXIT_XSETBV: u32 = 55;
// Bit 31 of the exit reason: the VM entry failed (reasons 33, 34, 41).
export const EXIT_ENTRY_FAILURE: u32 = 0x80000000;

// Event information: VM-entry interruption information, IDT-vectoring information.
export const EVENT_TYPE_EXTERNAL: u32 = 0 << 8;
export const EVENT_TYPE_NMI: u32 = 2 << 8;
export const EVENT_TYPE_HARDWARE_EXCEPTION: u32 = 3 << 8;
export const EVENT_TYPE_SOFTWARE_EXCEPTION: u32 = 6 << 8; // INT3, INTO
export const EVENT_TYPE_MASK: u32 = 7 << 8;
export const EVENT_ERROR_CODE: u32 = 1 << 11;
export const EVENT_VALID: u32 = 0x80000000;
// Bits an IDT-vectoring record may carry into an injection (the rest is reserved there).
export const EVENT_REINJECT_MASK: u32 = 0x80000fff;

// Guest interruptibility state: blocking by STI and by MOV SS, and by NMI
// (with virtual NMIs, the guest's virtual-NMI blocking) (SDM 24.4.2).
export const BLOCKING_STI_OR_MOV_SS: u32 = 3;
export const BLOCKING_NMI: u32 = 1 << 3;
// Bit 12 of the exit interruption information (an exception's exit) and of
// an EPT violation's qualification: the exit came in an IRET that had
// already unblocked NMIs, which the VMM blocks again before the IRET runs
// again (27.2.2, 27.2.3).
export const NMI_UNBLOCKED_BY_IRET: u32 = 1 << 12;
// Pending debug exceptions (24.4.2 Table 24-4): B0-B3 and BS as in DR6, and
// bit 12, set when a breakpoint DR7 enables was met.
export const PENDING_ENABLED_BREAKPOINT: u64 = 1 << 12;

// The VM-instruction error numbers VM entry can report (SDM 30.4).
export function entryErrorName(error: u32): string {
  if (error == 4) return "VMLAUNCH with a VMCS that is not clear";
  if (error == 5) return "VMRESUME with a VMCS that is not launched";
  if (error == 7) return "invalid control fields";
  if (error == 8) return "invalid host-state fields";
  if (error == 26) return "events blocked by MOV SS";
  return "see Intel SDM Vol. 3C 30.4";
}
