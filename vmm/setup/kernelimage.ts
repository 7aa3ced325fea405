// A kernel VM's image: its kernel and initrd loaded into its RAM as a boot
// loader would, when the VM is made (kernelvms.ts) and again each time it
// restarts (Vm.restart(): a reset by its guest, a power-on through the
// management API), from the boot source its override picks, with a new
// set of PC devices each time; and, when the VM is destroyed, the
// partitions it boots from let go.

import * as log from "../../kernel/console/log";
import { FrameAllocator } from "../../kernel/mm/frames";
import { OWN_SOURCE } from "../core/bootoverride";
import { EntryState } from "../core/entrystate";
import { GuestMemory } from "../core/guestmemory";
import { StopListener, Vm } from "../core/vm";
import { VirtualSwitch } from "../net/switch";
import { VmPort } from "../net/port";
import { buildAcpiTables } from "../platform/pc/acpitables";
import { PcPlatform } from "../platform/pc/platform";
import { VmDisk } from "../storage/vmdisk";
import { releaseBootImages, VmBootImages } from "./bootimages";
import { VmConfig } from "./config/config";
import { ConfiguredImage } from "./config/configured";
import { entryStateOf } from "./loaders/entrystate";
import { loadKernel } from "./loaders/kernel";
import { BootOptions, LoadResult } from "./loaders/loader";
import { ModuleImage } from "./loaders/source";

// RAM as the firmware and a boot loader leave it: ACPI tables in the legacy
// BIOS area, which every loader's memory map reserves, found through the
// protocol's RSDP pointer; then the kernel and its initrd of one boot
// source, read for this load (bootimages.ts), with its command line; and
// the state the boot vCPU enters the kernel in. Its error names the image
// at fault.
export function loadInto(
  memory: GuestMemory,
  c: VmConfig,
  images: VmBootImages,
  options: BootOptions,
  frames: FrameAllocator,
): LoadedImage {
  const loaded = loadImages(memory, c, images, options, frames);
  if (loaded.error !== null) return new LoadedImage(loaded, null, loaded.error);
  const entry = entryStateOf(loaded, memory);
  const error = entry.error !== null ? "kernel " + images.source.kernel.what + ": " + entry.error! : null;
  return new LoadedImage(loaded, entry.state, error);
}

// A kernel and initrd in a VM's RAM: what the loader made of them, and
// the boot vCPU's entry state; or the error that kept them out.
export class LoadedImage {
  constructor(readonly result: LoadResult, readonly entry: EntryState | null, readonly error: string | null) {}
}

function loadImages(
  memory: GuestMemory,
  c: VmConfig,
  images: VmBootImages,
  options: BootOptions,
  frames: FrameAllocator,
): LoadResult {
  const source = images.source;
  options.rsdp = buildAcpiTables(memory, c.cpus);
  options.cmdline = source.cmdline;
  options.initrd = null;
  options.modules = [];
  const kernelLabel = "kernel " + source.kernel.what + ": ";
  const kernel = images.kernel.open(frames, memory.size);
  if (kernel === null) return new LoadResult().fail(kernelLabel + images.kernel.error);
  const initrd = images.initrd;
  const initrdSource = initrd !== null ? initrd.open(frames, memory.size) : null;
  let loaded: LoadResult;
  if (initrd !== null && initrdSource === null) {
    loaded = new LoadResult().fail("initrd " + source.initrd.what + ": " + initrd.error);
  } else {
    if (initrdSource !== null) {
      options.initrd = initrdSource;
      options.modules.push(new ModuleImage(initrdSource, source.initrd.name));
    }
    loaded = loadKernel(memory, kernel, options);
    if (loaded.error !== null) loaded.error = kernelLabel + loaded.error!;
  }
  if (initrd !== null) initrd.close(frames);
  images.kernel.close(frames);
  return loaded;
}

// What a restart loads again: the kernel and its initrd of the source the
// override picks (`images` holds each source's, the VM's own first), from
// their boot modules or read again from their partitions, into zeroed RAM,
// and a new set of PC devices on a new bus. The RTC's battery-backed RAM
// carries over, as on a PC.
export class KernelImage extends ConfiguredImage {
  constructor(
    config: VmConfig,
    private images: VmBootImages[],
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
    const c = this.config, images = this.images[this.bootOverride.takeNext()];
    if (images.source.name != OWN_SOURCE) {
      log.info("vm " + vm.name + ": booting boot source " + images.source.name + ", as its boot override asks");
    }
    vm.memory.zero();
    const image = loadInto(vm.memory, c, images, this.options, this.frames);
    if (image.error !== null) {
      this.failure = image.error!;
      return null;
    }
    vm.freshBus();
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
    return image.entry;
  }
}

// A destroyed VM boots from its kernels' and initrds' partitions no more.
export class BootImageRelease extends StopListener {
  constructor(private images: VmBootImages[]) {
    super();
  }
  stopped(vm: Vm): void {}
  destroyed(vm: Vm): void {
    releaseBootImages(this.images);
  }
}
