// Waking the other processors.
//
// The MADT lists the processors; each one other than us gets a stack, the
// start-up trampoline and the INIT-SIPI-SIPI sequence of the MP
// initialization protocol (Intel SDM Vol. 3A 10.4.4.1: INIT, 10 ms, STARTUP,
// 200 us, STARTUP). Each AP then runs `apMain(cpu)` once, while we wait: the
// kernel is a single wasm instance and runs on one CPU at a time.

import { apPrepare, apWait } from "../arch/shim";
import * as log from "../console/log";
import { findTable } from "../acpi/tables";
import { processorApicIds } from "../acpi/madt";
import { Rsdp } from "../acpi/rsdp";
import { lapicId, sendInit, sendStartup } from "./lapic";
import { FrameAllocator } from "../mm/frames";
import { delayMicroseconds } from "../time/pit";

const MAX_CPUS: u32 = 16; // boot/layout.h
const AP_STACK_FRAMES: u64 = 4;
const AP_DONE: u32 = 2;
const WAIT_SPINS: u32 = 50_000_000;

// Starts every processor the MADT lists; returns how many CPUs now run (with us).
export function startSecondaryCpus(rsdp: Rsdp | null, frames: FrameAllocator): u32 {
  if (rsdp === null) return 1;
  const madt = findTable(rsdp, "APIC");
  if (madt == 0) {
    log.warn("smp: no MADT; running on the boot processor only");
    return 1;
  }
  const ids = processorApicIds(madt);
  const self = lapicId();
  let online: u32 = 1;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (id == self) continue;
    if (online >= MAX_CPUS) {
      log.warn("smp: more than " + MAX_CPUS.toString() + " processors; the rest stay off");
      break;
    }
    if (startCpu(online, id, frames)) online++;
  }
  log.info("smp: " + online.toString() + " of " + ids.length.toString() + " processors online");
  return online;
}

function startCpu(cpu: u32, apicId: u32, frames: FrameAllocator): bool {
  const stack = frames.allocContiguous(AP_STACK_FRAMES, 4096);
  if (stack == 0) {
    log.warn("smp: no memory for the stack of APIC ID " + apicId.toString());
    return false;
  }
  const page = apPrepare(cpu, stack + AP_STACK_FRAMES * 4096);
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
  return true;
}
