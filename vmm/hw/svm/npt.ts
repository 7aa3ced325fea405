// Nested page tables (AMD-V): the x86-64 page-table format walked with the
// guest-physical address as input. Every entry needs the U bit, because the
// nested walk is treated as a user access (APM Vol. 2 15.25.5).

import { X86EntryFormat } from "../../../kernel/mm/hostpaging";

const USER: u64 = 1 << 2;

export class NptEntryFormat extends X86EntryFormat {
  table(phys: u64): u64 { return super.table(phys) | USER; }
  leaf(phys: u64, level: i32, attributes: u64): u64 { return super.leaf(phys, level, attributes) | USER; }
}
