// How much of the garbage-collected heap is in use, for accounting (a VM's
// share of the hypervisor's memory, vmm/setup/vmcreate.ts).
//
// The runtime (asconfig.json's "minimal": the TLSF allocator of
// ~lib/rt/tlsf.ts under a mark-and-sweep collector) keeps no count a
// program can read, so this one is derived: the heap is the linear memory
// past the static data that linearpages.ts did not take, and its free part
// is what TLSF's free lists hold. Objects that are garbage but not yet
// collected count as used.

import { Block, ROOT } from "rt/tlsf";
import { linearPagesBytes } from "./linearpages";

// TLSF's root (~lib/rt/tlsf.ts, wasm32), which it does not export: the
// free-list heads start at byte 96, one per (first level, second level)
// pair, 23 x 16. A block's size word has tags in its low two bits and
// precedes its payload.
const HEADS_START: usize = 96;
const HEADS: usize = 23 * 16;
const SIZE_TAGS: usize = 3;

export function heapUsedBytes(): usize {
  let free: usize = 0;
  const root = changetype<usize>(ROOT);
  if (root != 0) {
    for (let i: usize = 0; i < HEADS; i++) {
      let block = load<Block | null>(root + HEADS_START + i * sizeof<usize>());
      while (block !== null) {
        free += offsetof<Block>("prev") + (block.mmInfo & ~SIZE_TAGS);
        block = block.next;
      }
    }
  }
  return (<usize>memory.size() << 16) - __heap_base - linearPagesBytes() - free;
}
