// Where a kernel VM's kernel and initrd are read from at each load (its
// creation, a reset by its guest, a power-on through the API): a boot
// module, which stays in the hypervisor's memory, or a GPT partition of a
// host disk (config/images.ts), read into host pages for that load and
// given back after it, so that a VM holds no copy between loads and a
// kernel written to the partition meanwhile is the one the next load boots.
//
// How much of a partition one load reads: the configured "size" if given;
// else as much as the image's own header says it has, rounded up to whole
// blocks: a bzImage its (setup_sects + 1) * 512 bytes of setup code and
// syssize 16-byte paragraphs of kernel (Documentation/arch/x86/boot.rst,
// "The Real-Mode Kernel Header"; one with no syssize is read whole), an
// ELF image (PVH, multiboot) the end of its program header table or of its
// furthest segment's file bytes; else (an initramfs, a multiboot kernel
// with address fields) the whole partition. The zeros after an initramfs
// archive are harmless: the initramfs buffer is ("\0" | cpio_archive |
// cpio_compressed_archive)* (Documentation/driver-api/early-userspace/
// buffer-format.rst), and init/initramfs.c's unpack_to_rootfs() skips zero
// bytes between and after archives. An image larger than the VM's RAM or
// MAX_IMAGE_BYTES is refused before a byte of it is read. A load reads
// with the hypervisor's lock held, as the VMs' disk requests are served.

import { BootModule } from "../../kernel/boot/bootinfo";
import { rdtsc } from "../../kernel/arch/shim";
import * as log from "../../kernel/console/log";
import { ticksToNs } from "../../kernel/time/tsc";
import { FrameAllocator } from "../../kernel/mm/frames";
import { alignUp, PAGE_SIZE } from "../../kernel/mm/range";
import { findModule } from "./bootmodules";
import { BootSourceConfig } from "./config/bootsources";
import { VmConfig } from "./config/config";
import { ImageConfig, MAX_IMAGE_BYTES } from "./config/images";
import { bytes, hex } from "./loaders/loader";
import { ImageSource, moduleSource, PhysImageSource } from "./loaders/source";
import { SECTOR_SIZE } from "../storage/backing";
import { PartitionDisk } from "../storage/partition";
import { readLittleEndian } from "../storage/littleendian";
import { claimBootPartition, claimError, releaseBootPartition } from "../storage/hostdisks";

// The start of a partition read to find its image's length: the bzImage
// setup header ends before 0x290 and ELF program headers usually follow
// the ELF header at once.
const HEAD_BYTES: u64 = 4096;

export abstract class BootImage {
  // Why the last open() failed.
  error: string = "";

  // The image for one load, at most `limit` bytes; null, with `error`, if it cannot be had.
  abstract open(frames: FrameAllocator, limit: u64): ImageSource | null;
  // The load is over: what open() took goes back.
  close(frames: FrameAllocator): void {}
  // The VM is gone, or was never made: a claimed partition is free again.
  release(): void {}
}

export class ModuleBootImage extends BootImage {
  constructor(private module: BootModule) {
    super();
  }

  open(frames: FrameAllocator, limit: u64): ImageSource | null {
    return moduleSource(this.module);
  }
}

export class PartitionBootImage extends BootImage {
  // The host pages of the open image, or 0.
  private start: u64 = 0;
  private pages: u64 = 0;

  // `owner` ("vm a") boots from `disk` as its `field` ("kernel").
  constructor(private disk: PartitionDisk, private image: ImageConfig, private owner: string, private field: string) {
    super();
  }

  open(frames: FrameAllocator, limit: u64): ImageSource | null {
    const disk = this.disk, partitionBytes = disk.sectors * SECTOR_SIZE, block = disk.device.blockSize;
    const length = this.image.size > 0 ? <u64>this.image.size : this.measure(partitionBytes);
    if (length == 0) return null;
    if (length > partitionBytes) {
      return this.fail("size: " + length.toString() + " bytes, but the partition has " + partitionBytes.toString());
    }
    const most = min(limit, <u64>MAX_IMAGE_BYTES);
    if (length > most) {
      return this.fail(
        "an image of " + bytes(length) + " is too big (at most " + bytes(most) + ", the VM's RAM or "
          + bytes(MAX_IMAGE_BYTES) + "); give its \"size\"",
      );
    }
    const readBytes = alignUp(length, block);
    this.pages = alignUp(readBytes, PAGE_SIZE) / PAGE_SIZE;
    this.start = frames.allocContiguous(this.pages, PAGE_SIZE);
    if (this.start == 0) return this.fail("no " + bytes(readBytes) + " of contiguous host memory to read it into");
    if (!disk.device.addressable(this.start, readBytes)) {
      this.close(frames);
      return this.fail("its disk's controller cannot reach host memory at " + hex(this.start));
    }
    const begun = rdtsc();
    if (!disk.readToHost(0, this.start, readBytes)) {
      this.close(frames);
      return this.fail("the host disk failed to read " + bytes(readBytes));
    }
    const us = ticksToNs(rdtsc() - begun) / 1000;
    log.info(
      this.owner + ": " + this.field + ": " + bytes(length) + " read from partition " + this.image.partition + " in "
        + us.toString() + " us",
    );
    return new PhysImageSource(this.start, length, false);
  }

  close(frames: FrameAllocator): void {
    for (let i: u64 = 0; i < this.pages; i++) frames.free(this.start + i * PAGE_SIZE);
    this.start = 0;
    this.pages = 0;
  }

  release(): void {
    releaseBootPartition(this.disk, this.owner);
  }

  // The length of the partition's image as its header gives it, else the
  // whole partition's; 0 (with `error`) if its first blocks are unreadable.
  private measure(partitionBytes: u64): u64 {
    const head = new Uint8Array(<i32>min(HEAD_BYTES, partitionBytes));
    if (!this.disk.readBytes(0, head)) {
      this.fail("the host disk failed to read its first " + bytes(<u64>head.length));
      return 0;
    }
    let stated = bzImageLength(head);
    if (stated == 0) stated = elfLength(head);
    return stated > 0 ? min(stated, partitionBytes) : partitionBytes;
  }

  private fail(why: string): ImageSource | null {
    this.error = why;
    return null;
  }
}

// A boot source's kernel and initrd (null for none).
export class VmBootImages {
  constructor(readonly source: BootSourceConfig, readonly kernel: BootImage, readonly initrd: BootImage | null) {}

  // The partitions are free again (the VM is destroyed, or was never made).
  release(): void {
    this.kernel.release();
    const initrd = this.initrd;
    if (initrd !== null) initrd.release();
  }
}

// The kernels and initrds of `c`'s boot sources, its own first, as
// `owner`'s ("vm a"): boot modules (the configuration checked their names)
// or partitions, claimed; null, with `imageError` naming the source and
// field, if a partition cannot be had.
export function vmBootImages(c: VmConfig, modules: BootModule[], owner: string): VmBootImages[] | null {
  const all: VmBootImages[] = [];
  for (let i = 0; i < c.sources.length; i++) {
    const source = c.sources[i];
    const images = sourceImages(source, modules, owner, i == 0 ? "" : source.name + " ");
    if (images === null) {
      if (i > 0) imageError = "boot_sources: " + source.name + ": " + imageError;
      releaseBootImages(all);
      return null;
    }
    all.push(images);
  }
  return all;
}

// Every source's partitions are free again.
export function releaseBootImages(all: VmBootImages[]): void {
  for (let i = 0; i < all.length; i++) all[i].release();
}

// Why the last vmBootImages() failed.
export let imageError: string = "";

// One source's images; `label` ("Recovery ", or "" for the VM's own) goes
// before "kernel" in the log's line for a partition read.
function sourceImages(
  source: BootSourceConfig,
  modules: BootModule[],
  owner: string,
  label: string,
): VmBootImages | null {
  const kernel = bootImage(source.kernel, modules, owner, label + "kernel");
  if (kernel === null) {
    imageError = "kernel: " + imageError;
    return null;
  }
  if (!source.initrd.given) return new VmBootImages(source, kernel, null);
  const initrd = bootImage(source.initrd, modules, owner, label + "initrd");
  if (initrd === null) {
    imageError = "initrd: " + imageError;
    kernel.release();
    return null;
  }
  return new VmBootImages(source, kernel, initrd);
}

function bootImage(image: ImageConfig, modules: BootModule[], owner: string, field: string): BootImage | null {
  if (image.module.length > 0) {
    const module = findModule(modules, image.module);
    if (module === null) imageError = "no boot module named " + image.module;
    return module !== null ? new ModuleBootImage(module) : null;
  }
  const disk = claimBootPartition(image.partition, owner);
  if (disk === null) imageError = claimError;
  return disk !== null ? new PartitionBootImage(disk, image, owner, field) : null;
}

// (setup_sects + 1) * 512 + syssize * 16 for a bzImage ("HdrS" at 0x202;
// a setup_sects of 0 means 4), else 0; 0 too for a syssize of 0, which a
// kernel's build fills in but a hand-made bzImage may leave out.
function bzImageLength(head: Uint8Array): u64 {
  if (head.length < 0x206 || readLittleEndian(head, 0x202, 4) != 0x53726448) return 0;
  const paragraphs = readLittleEndian(head, 0x1f4, 4);
  let sects = readLittleEndian(head, 0x1f1, 1);
  if (sects == 0) sects = 4;
  return paragraphs > 0 ? (sects + 1) * 512 + paragraphs * 16 : 0;
}

// The end of an ELF image's program header table or of its furthest
// segment's file bytes (ELF32 or ELF64), if the table lies in `head`; else 0.
function elfLength(head: Uint8Array): u64 {
  if (head.length < 64 || readLittleEndian(head, 0, 4) != 0x464c457f) return 0;
  const is64 = head[4] == 2;
  const phoff = readLittleEndian(head, is64 ? 32 : 28, is64 ? 8 : 4);
  const entry = readLittleEndian(head, is64 ? 54 : 42, 2), count = readLittleEndian(head, is64 ? 56 : 44, 2);
  const table = phoff + entry * count;
  const smallest: u64 = is64 ? 56 : 32, size = <u64>head.length;
  if (smallest > entry || phoff > size || table > size) return 0;
  let end = table;
  for (let i: u64 = 0; i < count; i++) {
    const p = <i32>(phoff + i * entry);
    const offset = readLittleEndian(head, p + (is64 ? 8 : 4), is64 ? 8 : 4);
    const fileBytes = readLittleEndian(head, p + (is64 ? 32 : 16), is64 ? 8 : 4);
    if (offset + fileBytes > end && offset + fileBytes >= offset) end = offset + fileBytes;
  }
  return end;
}
