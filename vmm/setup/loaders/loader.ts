// What every guest loader takes and gives back.
//
// A loader (bzimage.ts, pvh.ts, multiboot1.ts; kernel.ts picks one) reads a
// kernel image from an ImageSource, checks it, lays it and its boot
// information out in the VM's RAM through GuestMemory, and returns a
// LoadResult: either an error string saying what is wrong with the input, or
// the exact CPU state the VMM must give the boot vCPU. AssemblyScript has no
// exceptions, so nothing here throws: every malformed input (bad magic,
// truncated image, overlapping segments, an image larger than the VM's RAM)
// ends as `error`, and then the VM must not be started (guest RAM may hold a
// partial image).

import { MemoryRegion } from "../../../kernel/boot/bootinfo";
import { ImageSource, ModuleImage } from "./source";

export const enum CpuMode {
  Real = 0,
  // 32-bit protected mode, paging off, flat 4 GiB segments.
  Protected32 = 1,
  // 64-bit long mode with identity-mapped page tables (cr3).
  Long64 = 2,
}

// What the VM is booted with besides the kernel.
export class BootOptions {
  cmdline: string = "";
  // Linux initrd (bzImage, PVH); ignored by multiboot, which takes modules.
  initrd: ImageSource | null = null;
  // Multiboot modules, each with its own command line.
  modules: ModuleImage[] = [];
  // Guest-physical ranges the guest must not use as RAM (ACPI tables, device
  // memory...), with their E820 type. The legacy BIOS area [0x9f000, 0x100000)
  // is always reserved on top of these (layout.ts).
  reserved: MemoryRegion[] = [];
  // Guest-physical address of the ACPI RSDP the VMM built, or 0 if none.
  rsdp: u64 = 0;
}

// The boot vCPU's state. General-purpose registers not named here are 0.
// Segments: the loader built a GDT in guest RAM (gdtBase/gdtLimit) whose
// `codeSelector` and `dataSelector` entries are flat 4 GiB segments with the
// accessed bit set; CS is codeSelector, DS/ES/SS/FS/GS are dataSelector, and
// their hidden parts must match those descriptors. TR is a 32-bit busy TSS with
// base 0 and limit 0x67 (the PVH ABI asks for exactly that; the others do not
// care). Interrupts are disabled (rflags = 0x2).
export class LoadResult {
  error: string | null = null;
  // "linux" (bzImage), "pvh" or "multiboot1".
  protocol: string = "";
  mode: CpuMode = CpuMode.Real;
  entry: u64 = 0;
  rax: u64 = 0;
  rbx: u64 = 0;
  rsi: u64 = 0;
  rflags: u64 = 0x2;
  cr0: u64 = 0;
  cr3: u64 = 0;
  cr4: u64 = 0;
  efer: u64 = 0;
  gdtBase: u64 = 0;
  gdtLimit: u32 = 0;
  codeSelector: u16 = 0;
  dataSelector: u16 = 0;

  // Where things went, for the VMM's log and for tests.
  kernelStart: u64 = 0;
  kernelEnd: u64 = 0;
  // The zero page, hvm_start_info or multiboot information structure.
  bootInfo: u64 = 0;
  cmdlineAddress: u64 = 0;
  initrdStart: u64 = 0;
  initrdSize: u64 = 0;
  // Where each multiboot module went.
  moduleStarts: u64[] = [];

  fail(reason: string): LoadResult {
    if (this.error === null) this.error = reason;
    return this;
  }
}

export function hex(v: u64): string {
  return "0x" + v.toString(16);
}

// "[0x100000, 0x200000)"
export function span(start: u64, end: u64): string {
  return "[" + hex(start) + ", " + hex(end) + ")";
}

// A byte count for messages: "4096 bytes", "12 MiB" when whole MiB.
export function bytes(n: u64): string {
  if (n >= (1 << 20) && (n & ((1 << 20) - 1)) == 0) return (n >> 20).toString() + " MiB";
  return n.toString() + " bytes";
}

// The command line as the guest sees it: UTF-8, no terminator.
export function utf8(text: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(text));
}
