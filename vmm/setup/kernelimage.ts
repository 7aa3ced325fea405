// A kernel VM's image: its kernel and initrd loaded into its RAM as a boot
// loader would, when the VM is made (kernelvms.ts) and again each time it
// restarts (Vm.restart(): a reset by its guest, a power-on through the
// management API), with a new set of PC devices each time; and, when the
// VM is destroyed, the partitions it boots from let go.

import { FrameAllocator } from "../../kernel/mm/frames";
import { EntryState } from "../core/entrystate";
import { GuestMemory } from "../core/guestmemory";
import { StopListener, Vm } from "../core/vm";
import { Bus } from "../devices/bus";
import { VirtualSwitch } from "../net/switch";
import { VmPort } from "../net/port";
import { buildAcpiTables } from "../platform/pc/acpitables";
import { PcPlatform } from "../platform/pc/platform";
import { VmDisk } from "../storage/vmdisk";
import { VmBootImages } from "./bootimages";
import { VmConfig } from "./config/config";
import { ConfiguredImage } from "./config/configured";
import { entryStateOf } from "./loaders/entrystate";
import { loadKernel } from "./loaders/kernel";
import { BootOptions, LoadResult } from "./loaders/loader";
import { ModuleImage } from "./loaders/source";

// RAM as the firmware and a boot loader leave it: ACPI tables in the legacy
// BIOS area, which every loader's memory map reserves, found through the
// protocol's RSDP pointer; then the kernel and its initrd, read for this
// load (bootimages.ts). Its error names the image at fault.
export function loadInto(
  memory: GuestMemory,
  c: VmConfig,
  images: VmBootImages,
  options: BootOptions,
  frames: FrameAllocator,
): LoadResult {
  options.rsdp = buildAcpiTables(memory, c.cpus);
  options.initrd = null;
  options.modules = [];
  const kernelLabel = "kernel " + c.kernel.what + ": ";
  const kernel = images.kernel.open(frames, memory.size);
  if (kernel === null) return new LoadResult().fail(kernelLabel + images.kernel.error);
  const initrd = images.initrd;
  const source = initrd !== null ? initrd.open(frames, memory.size) : null;
  let loaded: LoadResult;
  if (initrd !== null && source === null) {
    loaded = new LoadResult().fail("initrd " + c.initrd.what + ": " + initrd.error);
  } else {
    if (source !== null) {
      options.initrd = source;
      options.modules.push(new ModuleImage(source, c.initrd.name));
    }
    loaded = loadKernel(memory, kernel, options);
    if (loaded.error !== null) loaded.error = kernelLabel + loaded.error!;
  }
  if (initrd !== null) initrd.close(frames);
  images.kernel.close(frames);
  return loaded;
}

// What a restart loads again: the kernel and its initrd, from their boot
// modules or read again from their partitions, into zeroed RAM, and a new
// set of PC devices on a new bus. The RTC's battery-backed RAM carries
// over, as on a PC.
export class KernelImage extends ConfiguredImage {
  constructor(
    config: VmConfig,
    private images: VmBootImages,
    private frames: FrameAllocator,
    private options: BootOptions,
    private disks: VmDisk[],
    private nics: VmPort[],
    private platform: PcPlatform,
    private hostSwitch: VirtualSwitch,
  ) {
    super(config);
  }

  reload(vm: Vm): EntryState | null {
    const c = this.config;
    vm.memory.zero();
    const loaded = loadInto(vm.memory, c, this.images, this.options, this.frames);
    const entry = loaded.error === null ? entryStateOf(loaded, vm.memory) : null;
    if (loaded.error !== null || entry!.error !== null) {
      this.failure = loaded.error !== null ? loaded.error! : "kernel " + c.kernel.what + ": " + entry!.error!;
      return null;
    }
    vm.bus = new Bus();
    const ram = <u64>c.memoryMib << 20;
    this.platform = new PcPlatform(
      vm,
      ram,
      <u16>c.cpus,
      c.console,
      this.disks,
      this.nics,
      this.hostSwitch,
      this.platform.cmos,
    );
    return entry!.state;
  }
}

// A destroyed VM boots from its kernel's and initrd's partitions no more.
export class BootImageRelease extends StopListener {
  constructor(private images: VmBootImages) {
    super();
  }
  stopped(vm: Vm): void {}
  destroyed(vm: Vm): void {
    this.images.release();
  }
}
