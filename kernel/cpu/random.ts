// Random bytes from the CPU's own generator, where it has one: RDSEED
// draws from its entropy source, RDRAND from the generator that source
// reseeds (Intel SDM Vol. 2B "RDRAND", "RDSEED"; AMD implements both).
// Either may have nothing ready at a given moment; Intel's guidance is to
// retry RDRAND ten times before calling it a failure, and RDSEED, which
// can run dry under load, falls back to RDRAND.

import { hwRandom } from "../arch/shim";
import { CPUID1_ECX_RDRAND, CPUID7_EBX_RDSEED } from "../arch/x86";
import { query } from "./cpuid";

const RETRIES = 10;
const word = memory.data(8);

export function hasRdrand(): bool {
  return (query(1).ecx & CPUID1_ECX_RDRAND) != 0;
}

export function hasRdseed(): bool {
  return query(0).eax >= 7 && (query(7).ebx & CPUID7_EBX_RDSEED) != 0;
}

// Fills `count` bytes of `into` from `start` with random bytes; returns how
// many it filled (fewer when the CPU had none to give).
export function randomBytes(into: Uint8Array, start: i32, count: i32, seed: bool): i32 {
  let done = 0;
  while (done < count) {
    if (!draw(seed)) break;
    const v = load<u64>(word);
    for (let i = 0; i < 8 && done < count; i++, done++) into[start + done] = <u8>(v >> (<u64>i * 8));
  }
  return done;
}

function draw(seed: bool): bool {
  if (seed && hwRandom(1, word) != 0) return true;
  for (let i = 0; i < RETRIES; i++) if (hwRandom(0, word) != 0) return true;
  return false;
}
