// Unit-test entry: the host CPUs' idle ticks (kernel/cpu/idletime.ts), as
// the scheduler marks the periods and the CPUID leaf of the VMs' exit
// counts reports them to a benchmark.

export { idleFrom, idleTicks, idleUntil } from "../../../kernel/cpu/idletime";
