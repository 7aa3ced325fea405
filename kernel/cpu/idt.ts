// The interrupt descriptor table: 256 gates, each pointing at its entry stub
// in boot/isr.S. Faults that may come from a broken stack (double fault, NMI,
// machine check) switch to the TSS's IST1 stack.
// Intel SDM Vol. 3A 6.14.1 "64-Bit Mode IDT".

import { isrStub, lidt } from "../arch/shim";
import { allocPage } from "../mm/linearpages";

const KERNEL_CODE: u64 = 0x08;
const INTERRUPT_GATE: u64 = 0x8e; // present, DPL 0, type 14
const VECTORS = 256;

function usesIst(vector: u32): bool {
  return vector == 2 || vector == 8 || vector == 18;
}

export function installIdt(): void {
  const idt = allocPage(); // 256 gates x 16 bytes = one page
  for (let v: u32 = 0; v < <u32>VECTORS; v++) {
    const handler = isrStub(v);
    const low = (handler & 0xffff) | (KERNEL_CODE << 16) | ((usesIst(v) ? <u64>1 : 0) << 32)
      | (INTERRUPT_GATE << 40) | (((handler >> 16) & 0xffff) << 48);
    store<u64>(idt + <usize>v * 16, low);
    store<u64>(idt + <usize>v * 16 + 8, handler >> 32);
  }
  lidt(idt, VECTORS * 16 - 1);
}
