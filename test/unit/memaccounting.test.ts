// What a VM's footprint line counts (vmm/setup/footprint.ts): the pages
// held from the page allocator (kernel/mm/linearpages.ts) and the heap in
// use (kernel/mm/heap.ts), which reads the allocator's free lists.
import { beforeAll, describe, expect, it } from "vitest";
import { load } from "./harness";

interface AccountingExports {
  heapUsed(): number;
  pagesInUse(): number;
  keepArray(bytes: number): void;
  takePages(count: number): number;
  givePage(page: number): void;
}

describe("memory accounting", () => {
  let unit: AccountingExports;
  beforeAll(async () => {
    unit = (await load<AccountingExports>("test/unit/as/memaccounting.ts")).exports;
  });

  it("counts an object kept on the heap, with no more than its headers besides", () => {
    unit.keepArray(16);
    for (const bytes of [10_000, 300_000]) {
      const before = unit.heapUsed();
      unit.keepArray(bytes);
      const grown = unit.heapUsed() - before;
      expect(grown).toBeGreaterThanOrEqual(bytes);
      expect(grown).toBeLessThan(bytes + 64);
    }
  });

  it("counts pages while they are held, not the heap's growth past them", () => {
    const pages = unit.pagesInUse(), heap = unit.heapUsed();
    const first = unit.takePages(3);
    unit.takePages(20);
    expect(unit.pagesInUse() - pages).toBe(23 * 4096);
    // Only the allocator's own list of spare pages, never the pages themselves.
    expect(unit.heapUsed() - heap).toBeLessThan(1024);
    unit.givePage(first);
    expect(unit.pagesInUse() - pages).toBe(22 * 4096);
  });
});
