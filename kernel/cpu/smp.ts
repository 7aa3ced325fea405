// Waking the other processors, and reaching them later.
//
// The MADT lists the processors; each one other than us gets a stack, the
// start-up trampoline and the INIT-SIPI-SIPI sequence of the MP
// initialization protocol (Intel SDM Vol. 3A 10.4.4.1: INIT, 10 ms, STARTUP,
// 200 us, STARTUP). Each AP reports itself up in C and waits there until
// the VMs exist (linker/shim.c ap_main()). CPUs are numbered 0 (us) to
// cpuCount() - 1 in the order they came up; kick() sends one an interrupt
// that ends its guest's run or its idle period.

import { apPrepare, apWait } from "../arch/shim";
import * as log from "../console/log";
import { findTable } from "../acpi/tables";
import { processorApicIds } from "../acpi/madt";
import { Rsdp } from "../acpi/rsdp";
import { KICK_VECTOR } from "./irq";
import { lapicId, sendFixed, sendInit, sendStartup } from "./lapic";
import { FrameAllocator } from "../mm/frames";
import { delayMicroseconds } from "../time/pit";

export const MAX_CPUS: u32 = 16; // boot/layout.h
const AP_STACK_FRAMES: u64 = 4;
const AP_DONE: u32 = 2;
const WAIT_SPINS: u32 = 50_000_000;

// The local APIC ID of each CPU that runs, by CPU number.
const apicIds: u32[] = [];

export function cpuCount(): u32 {
  return max<u32>(1, <u32>apicIds.length);
}

// Starts every processor the MADT lists; returns how many CPUs now run (with us).
export function startSecondaryCpus(rsdp: Rsdp | null, frames: FrameAllocator): u32 {
  apicIds.push(lapicId());
  if (rsdp === null) return 1;
  const madt = findTable(rsdp, "APIC");
  if (madt == 0) {
    log.warn("smp: no MADT; running on the boot processor only");
    return 1;
  }
  const ids = processorApicIds(madt);
  const self = apicIds[0];
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (id == self) continue;
    if (<u32>apicIds.length >= MAX_CPUS) {
      log.warn("smp: more than " + MAX_CPUS.toString() + " processors; the rest stay off");
      break;
    }
    if (startCpu(<u32>apicIds.length, id, frames)) apicIds.push(id);
  }
  log.info("smp: " + apicIds.length.toString() + " of " + ids.length.toString() + " processors online");
  return <u32>apicIds.length;
}

function startCpu(cpu: u32, apicId: u32, frames: FrameAllocator): bool {
  const bytes = AP_STACK_FRAMES * 4096;
  const stack = frames.allocContiguous(AP_STACK_FRAMES, 4096);
  if (stack == 0) {
    log.warn("smp: no memory for the stack of APIC ID " + apicId.toString());
    return false;
  }
  const page = apPrepare(cpu, stack + bytes, bytes);
  sendInit(apicId);
  delayMicroseconds(10_000);
  sendStartup(apicId, page);
  delayMicroseconds(200);
  // A second STARTUP only if the first did not take (SDM 10.4.4.1).
  if (apWait(1000) == 0) sendStartup(apicId, page);
  if (apWait(WAIT_SPINS) != AP_DONE) {
    log.warn("smp: the processor with APIC ID " + apicId.toString() + " did not start");
    return false;
  }
  log.info("smp: cpu " + cpu.toString() + " running, local APIC ID " + apicId.toString());
  return true;
}

// Interrupts CPU `cpu` (another one): it leaves its guest or its idle halt
// and looks at what changed.
export function kick(cpu: u32): void {
  sendFixed(apicIds[cpu], KICK_VECTOR);
}
