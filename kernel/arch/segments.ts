// Segment descriptors and the hidden part of a segment register.
//
// A segment register is more than its selector: the CPU keeps a hidden part
// (base, limit, attributes) loaded from the descriptor, and VM entry takes
// that hidden part from the VMCB or VMCS, not from the GDT (Intel SDM Vol. 3A
// 3.4.3 "Segment Registers", 3.4.5 "Segment Descriptors"; Vol. 3C 24.4.1;
// AMD APM Vol. 2 4.7, 15.5.1 and Appendix B).

// Descriptor attribute bits in the packed 12-bit form the VMCB uses:
// descriptor bits 40-47 at 0-7, bits 52-55 at 8-11.
export const ATTR_ACCESSED: u16 = 1 << 0;
export const ATTR_WRITABLE: u16 = 1 << 1; // data: writable; code: readable
export const ATTR_CODE: u16 = 1 << 3;
export const ATTR_S: u16 = 1 << 4; // code or data (not system)
export const ATTR_PRESENT: u16 = 1 << 7;
export const ATTR_LONG: u16 = 1 << 9; // CS.L: 64-bit code
export const ATTR_DEFAULT_32: u16 = 1 << 10; // CS.D: 32-bit code
export const ATTR_GRANULARITY: u16 = 1 << 11; // the limit counts 4 KiB units
// System segment types (SDM Vol. 3A 3.5 Table 3-2): an LDT, and a busy
// 32-bit (in IA-32e mode: 64-bit) TSS.
export const TYPE_LDT: u16 = 0x2;
export const TYPE_BUSY_TSS: u16 = 0xb;
// The segment registers after RESET (SDM Vol. 3A 10.1.1 Table 10-1; APM
// Vol. 2 Table 14-1): present and accessed, CS readable code, the others
// writable data, LDTR an LDT.
export const RESET_CODE: u16 = ATTR_PRESENT | ATTR_S | ATTR_CODE | ATTR_WRITABLE | ATTR_ACCESSED;
export const RESET_DATA: u16 = ATTR_PRESENT | ATTR_S | ATTR_WRITABLE | ATTR_ACCESSED;
export const RESET_LDT: u16 = ATTR_PRESENT | TYPE_LDT;
// TR as a loader hands it over: a present busy TSS of the minimum size.
// It is also what VM entry accepts in IA-32e mode (SDM 26.3.1.2).
export const TR_ATTRIBUTES: u16 = ATTR_PRESENT | TYPE_BUSY_TSS;
export const TR_LIMIT: u32 = 0x67;

// A segment register with its hidden part. `attributes` is in the packed
// form above; VMX wants the same bits spread differently (vmxAccessRights).
export class SegmentState {
  constructor(public selector: u16, public base: u64, public limit: u32, public attributes: u16) {}

  // SDM Vol. 3C 24.4.1 Table 24-2: bits 0-7 as here, bits 8-11 at 12-15.
  get vmxAccessRights(): u32 {
    const a = <u32>this.attributes;
    return (a & 0xff) | ((a & 0xf00) << 4);
  }
}

// The hidden part a descriptor loads (SDM Vol. 3A 3.4.5): the base from
// bits 16-39 and 56-63, the 20-bit limit in bytes or (G) in 4 KiB units.
export function segmentFromDescriptor(selector: u16, d: u64): SegmentState {
  const base = ((d >> 16) & 0xff_ffff) | (((d >> 56) & 0xff) << 24);
  let limit = <u32>((d & 0xffff) | ((d >> 32) & 0xf_0000));
  const attributes = <u16>(((d >> 40) & 0xff) | (((d >> 52) & 0xf) << 8));
  if (attributes & ATTR_GRANULARITY) limit = (limit << 12) | 0xfff;
  return new SegmentState(selector, base, limit, attributes);
}
