// Nested page tables (AMD-V): the x86-64 page-table format walked with the
// guest-physical address as input. Every entry needs the U bit, because the
// nested walk is treated as a user access (APM Vol. 2 15.25.5).

import { PTE_USER } from "../../../kernel/arch/x86";
import { X86EntryFormat } from "../../../kernel/mm/hostpaging";

export class NptEntryFormat extends X86EntryFormat {
  table(phys: u64): u64 {
    return super.table(phys) | PTE_USER;
  }
  leaf(phys: u64, level: i32, attributes: u64): u64 {
    return super.leaf(phys, level, attributes) | PTE_USER;
  }
}
