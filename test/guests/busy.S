/*
 * A guest that computes forever without a single exit: an endless loop in
 * real mode. Only the host's alarm takes the CPU back from it, so the CPU
 * time it gets is what the scheduler grants (test/system/smp.test.ts: weights,
 * caps, affinity). It never stops by itself; the test ends with the emulator.
 */
    .code16
    .section .entry, "ax"
    .global _start
_start:
    xor %ecx, %ecx
1:  inc %ecx
    jmp 1b
