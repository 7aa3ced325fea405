// Loading a guest kernel of whichever kind the image is.
//
// The VMM does not ask the user what a kernel image is: the formats identify
// themselves. A bzImage has "HdrS" at 0x202 (boot.rst); an ELF64 image with a
// PVH note boots through PVH (the fastest way into an uncompressed vmlinux);
// anything else with a multiboot header in its first 8192 bytes, ELF32 or
// with address fields (an ELF64 one too, as QEMU allows), is multiboot 1.

import { GuestMemory } from "../../core/guestmemory";
import { loadBzImage } from "./bzimage";
import { elfClass } from "./elf";
import { BootOptions, LoadResult } from "./loader";
import { findMultiboot1Header, loadMultiboot1 } from "./multiboot1";
import { findPvhEntry, loadPvh } from "./pvh";
import { ImageSource } from "./source";

export function loadKernel(memory: GuestMemory, image: ImageSource, options: BootOptions): LoadResult {
  if (image.has(0x202, 4) && image.readU32(0x202) == 0x53726448) return loadBzImage(memory, image, options);
  const multiboot = findMultiboot1Header(image);
  if (elfClass(image) == 2) {
    const pvh = findPvhEntry(image);
    // Without a PVH note, a 64-bit kernel may still be multiboot.
    if (pvh.error === null || multiboot.error !== null) return loadPvh(memory, image, options);
  }
  if (multiboot.error === null) return loadMultiboot1(memory, image, options);
  const result = new LoadResult();
  if (image.size == 0) return result.fail("the kernel image is empty");
  if (multiboot.error!.startsWith("multiboot:")) return result.fail(multiboot.error!); // a header with a bad checksum
  return result.fail(
    "not a kernel image typervisor can boot: no bzImage header (\"HdrS\" at 0x202), no ELF64 PVH "
      + "note, no multiboot header",
  );
}
