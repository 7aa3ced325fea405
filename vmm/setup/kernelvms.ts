// VMs from the configuration module: kernels loaded the way QEMU's -kernel
// and a Linux boot loader load them, on the PC platform.
//
// A boot module with the word "config" among its words (bootmodules.ts) is
// the VM configuration (config/config.ts, JSON), whose entries name their
// kernel and initrd by the names of other boot modules or of host disks'
// partitions (bootimages.ts). Each VM gets its RAM
// and vCPUs (vmcreate.ts, shared with the flat-binary VMs), ACPI tables, its
// kernel loaded by loadKernel() (loaders/kernel.ts), the PC devices
// (platform/pc/platform.ts) with its disks and its NICs, ports of the
// host's one virtual switch (net/switch.ts), and the boot vCPU in the entry state the loader
// asked for (loaders/entrystate.ts). The first configuration module that
// asks for an uplink gets it (net/uplink.ts). A problem with one VM is reported with
// its name and field, and only that VM is not started. The VM keeps its
// KernelImage (kernelimage.ts), which a reset by the guest loads again
// (Vm.restart()) unless its configuration says "on_reset": "stop", and a
// power-on through the management API loads after it stopped.

import { BootModule, MemoryRegion, RegionType } from "../../kernel/boot/bootinfo";
import { rdtsc } from "../../kernel/arch/shim";
import * as log from "../../kernel/console/log";
import { tscPerMillisecond } from "../../kernel/time/tsc";
import { FrameAllocator } from "../../kernel/mm/frames";
import { Backend } from "../core/backend";
import { allModuleNames, findModule, isConfigModule } from "./bootmodules";
import { imageError, releaseBootImages, VmBootImages, vmBootImages } from "./bootimages";
import { BootImageRelease, KernelImage, loadInto } from "./kernelimage";
import { checkVm, readConfig, VmConfig } from "./config/config";
import { ConfiguredImage } from "./config/configured";
import { ClaimedDisk } from "./config/disks";
import { ClaimedMac } from "./config/nics";
import { JsonValue } from "./config/json";
import { GuestMemory } from "../core/guestmemory";
import { Footprint } from "./footprint";
import { allocateRam, createVmOn, notStarted, shareOf } from "./vmcreate";
import { BootOptions, CpuMode, hex, LoadResult, span } from "./loaders/loader";
import { PcPlatform } from "../platform/pc/platform";
import { IoBudget } from "../storage/budget";
import { DiskMeter, VmDisk } from "../storage/vmdisk";
import { claimError, claimPartition, releasePartition } from "../storage/hostdisks";
import { PartitionDisk } from "../storage/partition";
import { RamDisk } from "../storage/ramdisk";
import { ECAM_BASE, ECAM_SIZE } from "../platform/pc/pcimap";
import { StopListener, Vm } from "../core/vm";
import { formatMac } from "../net/ethernet";
import { NO_MAC, PortMeter, VmPort } from "../net/port";
import { VirtualSwitch } from "../net/switch";
import { startManagement } from "../net/ip/management";
import { startUplink } from "../net/uplink";
import { PciFunction } from "../../kernel/pci/functions";
import { ManagementConfig } from "./config/management";
import { UplinkConfig } from "./config/uplink";

// The host's virtual switch, whose ports are every VM's NICs.
const hostSwitch = new VirtualSwitch();

// The management API's token from the configuration, "" for none: set by
// createConfiguredVms().
let apiToken = "";
// What createConfiguredVms() was given, for the VMs made later
// (createVmFromEntry()), and the management address's MAC, or NO_MAC.
let bootModules: BootModule[] = [];
let framePool: FrameAllocator | null = null;
let vmBackend: Backend | null = null;
let managementMac: u64 = NO_MAC;
export function configuredApiToken(): string {
  return apiToken;
}

// The VMs of every configuration module, numbered on from `firstId`, and
// the switch's uplink on one of the host's PCI functions `pci` and the
// hypervisor's own address if asked for.
export function createConfiguredVms(
  modules: BootModule[],
  frames: FrameAllocator,
  backend: Backend,
  firstId: u32,
  pci: PciFunction[],
): Vm[] {
  bootModules = modules;
  framePool = frames;
  vmBackend = backend;
  const vms: Vm[] = [];
  let uplink: UplinkConfig | null = null;
  let management: ManagementConfig | null = null;
  const names = allModuleNames(modules);
  for (let i = 0; i < modules.length; i++) {
    if (!isConfigModule(modules[i].cmdline)) continue;
    const config = readConfig(modules[i], names);
    for (let j = 0; j < config.errors.length; j++) log.error("config: " + config.errors[j]);
    if (config.unreported > 0) log.error("config: and " + config.unreported.toString() + " more problems");
    if (config.errors.length > 0) log.error("config: the VMs with errors above are not started");
    if (config.uplink !== null && uplink !== null) {
      log.error("config: uplink: an earlier configuration module has configured the uplink; this one is ignored");
    } else if (config.uplink !== null) uplink = config.uplink;
    if (config.management !== null && management !== null) {
      log.error("config: management: an earlier configuration module has configured it; this one is ignored");
    } else if (config.management !== null) management = config.management;
    if (config.apiToken.length > 0 && apiToken.length > 0) {
      log.error("config: api: an earlier configuration module has set the token; this one is ignored");
    } else if (config.apiToken.length > 0) apiToken = config.apiToken;
    for (let j = 0; j < config.vms.length; j++) {
      const vm = createKernelVm(firstId + <u32>vms.length, config.vms[j], modules, frames, backend);
      if (vm !== null) vms.push(vm);
    }
  }
  startUplink(uplink, pci, hostSwitch);
  startManagement(management, hostSwitch);
  if (management !== null) managementMac = management.mac;
  return vms;
}

// A VM made after the boot (the management API's vm.create) from one
// configuration entry, numbered `id`: checked as the file's entries are
// (problems added to `errors`), against the disks and NIC addresses the
// host's VMs `vms` and its management address have, then made as they
// were. Null if it has problems, or (`refusal`, vmcreate.ts) if the host
// lacks what it needs.
export function createVmFromEntry(entry: JsonValue, id: u32, vms: Vm[], errors: string[]): Vm | null {
  const disks: ClaimedDisk[] = [], macs: ClaimedMac[] = [];
  for (let i = 0; i < vms.length; i++) {
    const image = vms[i].image;
    if (!(image instanceof ConfiguredImage)) continue;
    const c = (<ConfiguredImage>image).config, owner = "vm " + c.name;
    for (let j = 0; j < c.disks.length; j++) disks.push(new ClaimedDisk(c.disks[j].what, owner));
    for (let j = 0; j < c.nics.length; j++) macs.push(new ClaimedMac(c.nics[j].mac, owner));
  }
  if (managementMac != NO_MAC) macs.push(new ClaimedMac(managementMac, "the management address"));
  const c = checkVm(<i32>id, entry, [], disks, macs, allModuleNames(bootModules), errors);
  return c !== null ? createKernelVm(id, c, bootModules, framePool!, vmBackend!) : null;
}

// One VM of the configuration, or null (reported) for a missing module or
// partition, a kernel the loaders refuse or too little host memory. The
// initrd is the initrd of a Linux kernel and the one module of a multiboot
// kernel, with its name as the module's command line.
function createKernelVm(
  id: u32,
  c: VmConfig,
  modules: BootModule[],
  frames: FrameAllocator,
  backend: Backend,
): Vm | null {
  const images = vmBootImages(c, modules, "vm " + c.name);
  if (images === null) {
    notStarted(c.name, imageError);
    return null;
  }
  const vm = buildKernelVm(id, c, images, modules, frames, backend);
  if (vm === null) releaseBootImages(images);
  return vm;
}

function buildKernelVm(
  id: u32,
  c: VmConfig,
  images: VmBootImages[],
  modules: BootModule[],
  frames: FrameAllocator,
  backend: Backend,
): Vm | null {
  const name = c.name;
  const options = new BootOptions();
  // The PCI configuration region is the board's, like a PC firmware's
  // (platform/pc/pcimap.ts); the ACPI tables describe it too.
  options.reserved.push(new MemoryRegion(ECAM_BASE, ECAM_SIZE, RegionType.Reserved));

  const share = shareOf(name, c.affinity, c.weight, c.cap);
  if (share === null) return null;
  const mib = <u64>c.memoryMib;
  const footprint = new Footprint(frames);
  const memory = allocateRam(name, mib, frames);
  if (memory === null) return null;
  const image = loadInto(memory, c, images[0], options, frames);
  if (image.error !== null) return refuse(name, image.error!, memory, frames);

  const disks = vmDisks(c, modules);
  if (disks === null) {
    memory.giveBack(frames);
    return null;
  }
  const vm = createVmOn(id, name, memory, frames, backend, c.cpus, share);
  if (vm === null) {
    releaseDisks(disks);
    return null;
  }
  const nics = connectNics(c, vm);
  vm.stopListeners.push(new DiskRelease(disks));
  vm.stopListeners.push(new BootImageRelease(images));
  for (let i = 0; i < disks.length; i++) vm.meters.push(new DiskMeter(disks[i]));
  const platform = new PcPlatform(vm, mib << 20, <u16>c.cpus, c.console, disks, nics, hostSwitch, null);
  vm.image = new KernelImage(c, images, frames, options, disks, nics, platform, hostSwitch);
  vm.restartOnReset = c.restartOnReset;
  vm.vcpus[0].enterKernel(image.entry!);
  log.info(
    "vm " + name + ": " + mib.toString() + " MiB at host " + log.hex(memory.regions[0].hpa) + ", "
      + describe(image.result)
      + ", console " + c.console + describeDisks(disks) + describeNics(nics) + ", " + backend.name,
  );
  footprint.report(vm);
  return vm;
}

// The VM's disks with their budgets, or null (reported) if one cannot be
// had: a host disk's partition, which no other VM may have
// (storage/hostdisks.ts), with its weight among the VMs using that disk;
// or a RAM disk on a boot module (readConfig() checked that it exists and
// that no other VM has it), named by it.
function vmDisks(c: VmConfig, modules: BootModule[]): VmDisk[] | null {
  const disks: VmDisk[] = [];
  for (let i = 0; i < c.disks.length; i++) {
    const d = c.disks[i];
    const budget = new IoBudget(d.iops, d.bytesPerSecond);
    if (d.module.length > 0) {
      disks.push(new VmDisk(new RamDisk(findModule(modules, d.module)!, d.readOnly, d.module), budget));
      continue;
    }
    const partition = claimPartition(d.partition, d.readOnly, "vm " + c.name);
    if (partition === null) {
      notStarted(c.name, "disks: " + i.toString() + ": " + claimError);
      releaseDisks(disks);
      return null;
    }
    const arbiter = partition.arbiter;
    disks.push(new VmDisk(partition, budget, arbiter, arbiter.join(d.weight)));
  }
  return disks;
}

// The ports of `vm`'s NICs, connected to the host's switch. They stay there
// when the VM restarts: its new NICs take them over. When it stops, each
// says what went through it.
function connectNics(c: VmConfig, vm: Vm): VmPort[] {
  const ports: VmPort[] = [];
  for (let i = 0; i < c.nics.length; i++) {
    const n = c.nics[i];
    const port = new VmPort(n.mac, n.vlans, n.trunk, n.bytesPerSecond);
    hostSwitch.connect(port);
    vm.stopListeners.push(new PortReport(port));
    vm.meters.push(new PortMeter(port));
    ports.push(port);
  }
  return ports;
}

// "vm a: nic 52:54:00:12:00:00: sent 10, received 12, dropped 1 (queue full 1)";
// frames for the stopped VM then count as dropped, its NIC gone.
// Destroyed, the VM's port leaves the switch.
class PortReport extends StopListener {
  constructor(private port: VmPort) {
    super();
  }
  stopped(vm: Vm): void {
    this.port.receiver = null;
    log.info("vm " + vm.name + ": nic " + formatMac(this.port.mac) + ": " + this.port.describe());
  }
  destroyed(vm: Vm): void {
    hostSwitch.disconnect(this.port);
  }
}

// A stopped VM's disks want nothing more of the host disks they share; a
// destroyed VM's leave them, and its partitions may be other VMs' disks.
class DiskRelease extends StopListener {
  constructor(private disks: VmDisk[]) {
    super();
  }
  stopped(vm: Vm): void {
    for (let i = 0; i < this.disks.length; i++) this.disks[i].release(rdtsc(), tscPerMillisecond());
  }
  destroyed(vm: Vm): void {
    releaseDisks(this.disks);
  }
}

// ", nic 52:54:00:12:00:00 (VLAN 10, 1 MiB/s), nic 52:54:00:12:00:01 (trunk 10,20)"
function describeNics(ports: VmPort[]): string {
  let text = "";
  for (let i = 0; i < ports.length; i++) {
    text += ", nic " + formatMac(ports[i].mac) + " (" + ports[i].describeCard() + ")";
  }
  return text;
}

// ", disk data.img (RAM, 64 MiB), disk vm-a (NVMe partition, 8 GiB, read-only, 500 IOPS, weight 300)"
function describeDisks(disks: VmDisk[]): string {
  let text = "";
  for (let i = 0; i < disks.length; i++) text += ", disk " + disks[i].backing.serial + " (" + disks[i].describe() + ")";
  return text;
}

function refuse(name: string, reason: string, memory: GuestMemory, frames: FrameAllocator): Vm | null {
  notStarted(name, reason);
  memory.giveBack(frames);
  return null;
}

// Disks of a VM that was not made, or was destroyed: they leave their host
// disks' arbiters, and their partitions may be other VMs' disks.
function releaseDisks(disks: VmDisk[]): void {
  for (let i = 0; i < disks.length; i++) {
    const disk = disks[i], backing = disk.backing;
    disk.leave(rdtsc(), tscPerMillisecond());
    if (backing instanceof PartitionDisk) releasePartition(<PartitionDisk>backing);
  }
}

// "multiboot1 kernel [0x100000, 0x104000), entry 0x10000c in 32-bit protected mode"
function describe(r: LoadResult): string {
  const mode = r.mode == CpuMode.Long64
    ? "64-bit long mode"
    : r.mode == CpuMode.Protected32
    ? "32-bit protected mode"
    : "real mode";
  return r.protocol + " kernel " + span(r.kernelStart, r.kernelEnd) + ", entry " + hex(r.entry) + " in " + mode;
}
