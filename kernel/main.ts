// Typervisor's kernel entry: the first AssemblyScript that runs.
//
// linker/shim.c calls boot() with the multiboot magic and information pointer
// once the CPU is in long mode. boot() brings the machine up in order:
// console, exceptions, boot information, command line, memory, ACPI, CPU
// checks, and then has the virtual machine monitor build the VMs; every CPU
// then runs them from its loop through cpuNext(). onTrap() is called by the
// shim for every exception.

import { firstInstructionTsc, setEmulatorExit } from "./arch/shim";
import { BootInfo } from "./boot/bootinfo";
import { CommandLine } from "./boot/cmdline";
import { parseMultiboot1, MULTIBOOT1_MAGIC } from "./boot/multiboot1";
import { parseMultiboot2, MULTIBOOT2_MAGIC } from "./boot/multiboot2";
import { initConsole, println } from "./console/console";
import { FramebufferKind, PixelDisplay } from "./console/framebuffer";
import { attachScreen, screenCosts, screenName, screenPut } from "./console/screen";
import { VgaText } from "./console/vgatext";
import * as log from "./console/log";
import { installIdt } from "./cpu/idt";
import { brand, vendor, hasHugePages, enableStateSwitching } from "./cpu/cpuid";
import { onTrap as handleTrap } from "./cpu/trap";
import { findRsdp } from "./acpi/rsdp";
import { initMemory, Memory } from "./mm/memory";
import { panic, stop, ExitStatus } from "./console/panic";
import { crashOnRequest } from "./boot/selftest";
import { detectVirtualization, Virtualization } from "../vmm/hw/detect";
import { runVmm } from "../vmm/vmm";

export const VERSION = "0.1.0";
// The command line's word that opens the management API (docs/api.md).
const API_TOKEN = "api_token";

// True if there are VMs to run: every CPU then enters its loop.
export function boot(magic: u32, info: u32): bool {
  initConsole();
  println("");
  println("Typervisor " + VERSION + ": a hypervisor in AssemblyScript, compiled to native code");
  installIdt();

  const bootInfo = readBootInfo(magic, <u64>info);
  startScreen(bootInfo);
  const cmdline = new CommandLine(bootInfo.cmdline);
  setEmulatorExit(cmdline.get("exit") == "emulator");
  if (cmdline.has("loglevel") && !log.setLogLevel(cmdline.get("loglevel"))) {
    log.warn("unknown loglevel '" + cmdline.get("loglevel") + "'");
  }
  log.info(
    "boot: " + bootInfo.protocol + (bootInfo.loaderName.length > 0 ? " from " + bootInfo.loaderName : "")
      + ", command line '" + cmdline.hiding(API_TOKEN) + "'",
  );
  log.info("boot: the hypervisor's first instructions ran at tsc " + firstInstructionTsc().toString());

  reportMemoryMap(bootInfo);
  const memory = initMemory(bootInfo, hasHugePages());
  reportMemory(memory);
  reportModules(bootInfo);

  const rsdp = findRsdp(bootInfo.rsdp);
  if (rsdp !== null) {
    log.info(
      "acpi: RSDP at " + log.hex(rsdp.address) + ", revision " + rsdp.revision.toString() + ", OEM '" + rsdp.oemId
        + "'",
    );
  } else log.warn("acpi: no RSDP found");

  log.info("cpu: " + vendor() + " " + brand());
  const virt = detectVirtualization();
  if (virt.kind == Virtualization.None) panic("no hardware virtualization: " + virt.reason);
  log.info("cpu: hardware virtualization: " + virt.name);
  enableStateSwitching();

  crashOnRequest(cmdline.get("crash"));

  return runVmm(virt, bootInfo.modules, memory.frames, rsdp, cmdline.get("gdb"), cmdline.get(API_TOKEN), VERSION);
}

// After the last VM stopped (or when there was none to run).
export function shutdown(): void {
  log.info("screen: " + screenCosts());
  println("typervisor: shutdown");
  stop(ExitStatus.Shutdown);
}

export function onTrap(frame: u64, cpu: u32): void {
  handleTrap(frame, cpu);
}

// The C side's output waits for what the console has queued and appears
// on the screen too (linker/console.c), and its wasm traps report the vCPU
// (linker/runtime.c).
export { flushConsole } from "./console/console";
export function screenEcho(c: u8): void {
  screenPut(c);
}
export { reportFaultWitness } from "./console/panic";

// Every CPU's loop (linker/shim.c) asks, under the hypervisor lock.
export { cpuLane, cpuNext } from "../vmm/sched/scheduler";

// The exit fast paths, called by the world-switch stubs (boot/svm.S,
// boot/vmx.S) through linker/shim.c after every exit.
export { svmFastExit, svmFastQuickIo, svmFastStore } from "../vmm/hw/svm/svmvcpu";
export { vmxFastExit, vmxFastQuickIo, vmxFastStore } from "../vmm/hw/vmx/vmxvcpu";

function readBootInfo(magic: u32, info: u64): BootInfo {
  if (magic != MULTIBOOT1_MAGIC && magic != MULTIBOOT2_MAGIC) {
    panic(
      "missing boot information: not started by a multiboot loader (magic " + log.hex(magic)
        + "); boot Typervisor with GRUB or QEMU -kernel",
    );
  }
  const bootInfo = magic == MULTIBOOT1_MAGIC ? parseMultiboot1(info) : parseMultiboot2(info);
  const error = bootInfo.error;
  if (error !== null) panic(error);
  return bootInfo;
}

// The screen: the loader's framebuffer if we can draw on it, else the VGA's
// text mode, which only BIOS firmware provides.
function startScreen(boot: BootInfo): void {
  const fb = boot.framebuffer;
  if (fb !== null && fb.drawable) {
    attachScreen(new PixelDisplay(fb));
  } else if (!boot.uefi && (fb === null || fb.kind == FramebufferKind.EgaText)) {
    attachScreen(new VgaText());
  }
  log.info("screen: " + screenName());
  if (fb !== null && !fb.drawable) log.warn("screen: cannot draw on the loader's framebuffer: " + fb.describe());
}

function reportMemoryMap(boot: BootInfo): void {
  for (let i = 0; i < boot.memory.length; i++) {
    const r = boot.memory[i];
    log.debug("memory map: " + log.hex(r.base) + "-" + log.hex(r.end) + " type " + r.type.toString());
  }
}

function reportMemory(memory: Memory): void {
  log.info(
    "memory: " + (memory.usable >> 20).toString() + " MiB usable RAM, " + (memory.frames.freeBytes >> 20).toString()
      + " MiB free for guests, " + (memory.linearPool >> 20).toString() + " MiB for the hypervisor",
  );
}

function reportModules(boot: BootInfo): void {
  log.info("modules: " + boot.modules.length.toString());
  for (let i = 0; i < boot.modules.length; i++) {
    const m = boot.modules[i];
    log.info(
      "module " + i.toString() + ": " + log.hex(m.start) + "-" + log.hex(m.end) + " (" + (m.end - m.start).toString()
        + " bytes) '" + m.cmdline + "'",
    );
  }
}
