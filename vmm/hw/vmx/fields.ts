// VMCS field encodings: the names VMREAD and VMWRITE take.
//
// A field's encoding says its width (bits 14:13: 16-bit, 64-bit, 32-bit,
// natural width) and its kind (bits 11:10: control, read-only exit
// information, guest state, host state); the processor decides where the
// field really lives in the VMCS region, which software must never touch
// directly. Intel SDM Vol. 3C 24.11.2 "VMREAD, VMWRITE, and Encodings of VMCS
// Fields", Appendix B "Field Encoding in VMCS". (Section numbers in hw/vmx/
// follow the SDM editions in which Vol. 3C chapter 24 is "Virtual Machine
// Control Structures", 26 "VM Entries", 27 "VM Exits", 28 "VMX Support for
// Address Translation", 30 "VMX Instruction Reference".)

// 16-bit fields. The guest segment fields, here and below, are spaced 2
// apart in the order of the Seg enum (kernel/arch/x86.ts): ES CS SS DS FS GS
// LDTR TR.
export const VPID: u32 = 0x0000;
export const GUEST_SELECTOR: u32 = 0x0800; // + 2 * Seg
export const HOST_ES_SELECTOR: u32 = 0x0c00;
export const HOST_CS_SELECTOR: u32 = 0x0c02;
export const HOST_SS_SELECTOR: u32 = 0x0c04;
export const HOST_DS_SELECTOR: u32 = 0x0c06;
export const HOST_FS_SELECTOR: u32 = 0x0c08;
export const HOST_GS_SELECTOR: u32 = 0x0c0a;
export const HOST_TR_SELECTOR: u32 = 0x0c0c;

// 64-bit control fields (physical addresses, the EPT pointer).
export const IO_BITMAP_A: u32 = 0x2000;
export const IO_BITMAP_B: u32 = 0x2002;
export const MSR_BITMAP: u32 = 0x2004;
export const EXIT_MSR_STORE_ADDRESS: u32 = 0x2006;
export const EXIT_MSR_LOAD_ADDRESS: u32 = 0x2008;
export const ENTRY_MSR_LOAD_ADDRESS: u32 = 0x200a;
export const TSC_OFFSET: u32 = 0x2010;
export const EPT_POINTER: u32 = 0x201a;

// 64-bit exit information and guest state.
export const GUEST_PHYSICAL_ADDRESS: u32 = 0x2400;
export const VMCS_LINK_POINTER: u32 = 0x2800;
export const GUEST_DEBUGCTL: u32 = 0x2802;
export const GUEST_EFER: u32 = 0x2806;
export const GUEST_PDPTE0: u32 = 0x280a; // PDPTE1-3 follow, 2 apart

// 64-bit host state.
export const HOST_EFER: u32 = 0x2c02;

// 32-bit control fields.
export const PIN_CONTROLS: u32 = 0x4000;
export const PROC_CONTROLS: u32 = 0x4002;
export const EXCEPTION_BITMAP: u32 = 0x4004;
export const CR3_TARGET_COUNT: u32 = 0x400a;
export const EXIT_CONTROLS: u32 = 0x400c;
export const EXIT_MSR_STORE_COUNT: u32 = 0x400e;
export const EXIT_MSR_LOAD_COUNT: u32 = 0x4010;
export const ENTRY_CONTROLS: u32 = 0x4012;
export const ENTRY_MSR_LOAD_COUNT: u32 = 0x4014;
export const ENTRY_INTERRUPTION_INFO: u32 = 0x4016;
export const ENTRY_EXCEPTION_ERROR_CODE: u32 = 0x4018;
export const ENTRY_INSTRUCTION_LENGTH: u32 = 0x401a;
export const PROC2_CONTROLS: u32 = 0x401e;

// 32-bit read-only exit information.
export const VM_INSTRUCTION_ERROR: u32 = 0x4400;
export const EXIT_REASON: u32 = 0x4402;
export const EXIT_INTERRUPTION_INFO: u32 = 0x4404;
export const EXIT_INTERRUPTION_ERROR_CODE: u32 = 0x4406;
export const IDT_VECTORING_INFO: u32 = 0x4408;
export const IDT_VECTORING_ERROR_CODE: u32 = 0x440a;
export const EXIT_INSTRUCTION_LENGTH: u32 = 0x440c;

// 32-bit guest state.
export const GUEST_LIMIT: u32 = 0x4800; // + 2 * Seg
export const GUEST_GDTR_LIMIT: u32 = 0x4810;
export const GUEST_IDTR_LIMIT: u32 = 0x4812;
export const GUEST_ACCESS_RIGHTS: u32 = 0x4814; // + 2 * Seg
export const GUEST_INTERRUPTIBILITY: u32 = 0x4824;
export const GUEST_ACTIVITY_STATE: u32 = 0x4826;
export const GUEST_SYSENTER_CS: u32 = 0x482a;
export const PREEMPTION_TIMER_VALUE: u32 = 0x482e;

// 32-bit host state.
export const HOST_SYSENTER_CS: u32 = 0x4c00;

// Natural-width control fields.
export const CR0_GUEST_HOST_MASK: u32 = 0x6000;
export const CR4_GUEST_HOST_MASK: u32 = 0x6002;
export const CR0_READ_SHADOW: u32 = 0x6004;
export const CR4_READ_SHADOW: u32 = 0x6006;

// Natural-width exit information.
export const EXIT_QUALIFICATION: u32 = 0x6400;

// Natural-width guest state.
export const GUEST_CR0: u32 = 0x6800;
export const GUEST_CR3: u32 = 0x6802;
export const GUEST_CR4: u32 = 0x6804;
export const GUEST_BASE: u32 = 0x6806; // + 2 * Seg
export const GUEST_GDTR_BASE: u32 = 0x6816;
export const GUEST_IDTR_BASE: u32 = 0x6818;
export const GUEST_DR7: u32 = 0x681a;
export const GUEST_RSP: u32 = 0x681c;
export const GUEST_RIP: u32 = 0x681e;
export const GUEST_RFLAGS: u32 = 0x6820;
export const GUEST_PENDING_DEBUG: u32 = 0x6822;
export const GUEST_SYSENTER_ESP: u32 = 0x6824;
export const GUEST_SYSENTER_EIP: u32 = 0x6826;

// Natural-width host state. (HOST_RSP 0x6c14 and HOST_RIP 0x6c16 are
// written by boot/vmx.S on every entry.)
export const HOST_CR0: u32 = 0x6c00;
export const HOST_CR3: u32 = 0x6c02;
export const HOST_CR4: u32 = 0x6c04;
export const HOST_FS_BASE: u32 = 0x6c06;
export const HOST_GS_BASE: u32 = 0x6c08;
export const HOST_TR_BASE: u32 = 0x6c0a;
export const HOST_GDTR_BASE: u32 = 0x6c0c;
export const HOST_IDTR_BASE: u32 = 0x6c0e;
export const HOST_SYSENTER_ESP: u32 = 0x6c10;
export const HOST_SYSENTER_EIP: u32 = 0x6c12;
