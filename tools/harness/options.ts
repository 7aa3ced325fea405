// What to boot and on what: the options shared by every emulator backend.

export type Platform = "qemu" | "uefi" | "bochs";

export interface Module {
  path: string;
  // The module's command line as the hypervisor sees it (its name, arguments).
  args: string;
}

export interface BootOptions {
  platform: Platform;
  // The hypervisor image: an ELF for QEMU's -kernel (multiboot 1), or an ISO
  // for GRUB (multiboot 2). Defaults: the ELF for "qemu", the ISO otherwise.
  elf?: string;
  iso?: string;
  // Boot the ISO even on "qemu" (SeaBIOS + GRUB instead of -kernel).
  useIso?: boolean;
  // Attach the ISO as a USB stick (xHCI mass storage) instead of a CD-ROM,
  // as if it had been written to one with `make usb`.
  usb?: boolean;
  cmdline?: string;
  modules?: Module[];
  memoryMiB?: number;
  cpus?: number;
  // QEMU: -cpu model (default "max", the one with AMD-V) and accelerator.
  qemuCpu?: string;
  accel?: "tcg" | "kvm";
  // Bochs: cpu model (default "broadwell_ult", VT-x with EPT).
  bochsCpu?: string;
  // Count instructions instead of time (QEMU -icount; Bochs always does),
  // and with icountSleeps the host's time while every CPU halts (qemu.ts).
  icount?: boolean;
  icountSleeps?: boolean;
  // QEMU: give each CPU a host thread of its own (multi-threaded TCG), so
  // that they run truly in parallel. Off by default: QEMU 7.2's threads race
  // on CPU 0's state under AMD-V (docs/smp.md, "Four emulator bugs").
  threadPerCpu?: boolean;
  // QEMU: a monitor socket (Machine.monitor) for screenshots and key presses.
  monitor?: boolean;
  // GRUB's gfxpayload in a test ISO: "text" keeps the VGA in text mode
  // instead of the framebuffer the hypervisor's multiboot2 header asks for.
  gfxpayload?: string;
  extraArgs?: string[];
  // Forward the console to this terminal and the terminal to the console.
  interactive?: boolean;
}

export const BUILD = "build";
export const DEFAULT_ELF = `${BUILD}/typervisor.elf`;
export const DEFAULT_ISO = `${BUILD}/typervisor.iso`;
