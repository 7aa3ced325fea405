// The multiboot 1 loader (vmm/setup/loaders/multiboot1.ts) on synthetic kernels: one
// with the header's address fields (the "a.out kludge", flag 16) and one ELF32
// with a higher-half entry. Checks the kernel, bss and modules in guest RAM, the
// information structure (also read back with the hypervisor's own multiboot
// parser), the entry state, and the errors for malformed headers and images.
import { beforeEach, describe, expect, it } from "vitest";
import { PhysMemory, load, type Exports } from "./harness";

const RAM_HPA = 0x1_0000_0000;
const IMAGE_HPA = 0x2_0000_0000;
const MODULE_HPA = 0x3_0000_0000;
const MiB = 0x100000;
const MAGIC = 0x1badb002;

let e: Exports<any>;
let phys: PhysMemory;
let ramHpa = RAM_HPA;
const g = (gpa: bigint | number) => ramHpa + Number(gpa);
const str = (p: number) => (p ? e.__getString(p) : null);

beforeEach(async () => {
  phys = new PhysMemory();
  e = (await load("loaders.ts", { phys })).exports;
  e.reset();
  ramHpa = RAM_HPA;
});

function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 17 + seed) & 0xff;
  return out;
}

interface Header {
  flags?: number;
  checksum?: number;
  headerAddr?: number;
  loadAddr?: number;
  loadEnd?: number;
  bssEnd?: number;
  entry?: number;
}
function writeHeader(img: Uint8Array, at: number, h: Header): void {
  const d = new DataView(img.buffer, img.byteOffset);
  const flags = h.flags ?? 0x10003;
  d.setUint32(at, MAGIC, true);
  d.setUint32(at + 4, flags, true);
  d.setUint32(at + 8, h.checksum ?? (-(MAGIC + flags) >>> 0), true);
  if (flags & 0x10000) {
    const load = h.loadAddr ?? 0x100000;
    d.setUint32(at + 12, h.headerAddr ?? load + at, true);
    d.setUint32(at + 16, load, true);
    d.setUint32(at + 20, h.loadEnd ?? 0, true);
    d.setUint32(at + 24, h.bssEnd ?? 0x108000, true);
    d.setUint32(at + 28, h.entry ?? 0x100100, true);
  }
}
// An a.out-kludge kernel of `size` bytes with its header at `at`.
function aout(h: Header = {}, size = 0x2000, at = 0x20): Uint8Array {
  const img = pattern(size, 3);
  writeHeader(img, at, h);
  return img;
}

// An ELF32 kernel: one PT_LOAD at paddr 0x200000, vaddr 0xc0200000, with the
// multiboot header at its start (file offset 0x1000) and a bss.
function elf32(o: { machine?: number; entry?: number; flags?: number; cls?: number } = {}): Uint8Array {
  const img = new Uint8Array(0x1000 + 0x800);
  const d = new DataView(img.buffer);
  img.set([0x7f, 0x45, 0x4c, 0x46, o.cls ?? 1, 1, 1]);
  d.setUint16(16, 2, true);
  d.setUint16(18, o.machine ?? 3, true);
  d.setUint32(20, 1, true);
  d.setUint32(24, o.entry ?? 0xc0200010, true);
  d.setUint32(28, 52, true); // e_phoff
  d.setUint16(40, 52, true);
  d.setUint16(42, 32, true);
  d.setUint16(44, 1, true);
  d.setUint32(52, 1, true); // PT_LOAD
  d.setUint32(56, 0x1000, true);
  d.setUint32(60, 0xc0200000, true);
  d.setUint32(64, 0x200000, true);
  d.setUint32(68, 0x800, true); // filesz
  d.setUint32(72, 0x3000, true); // memsz
  img.set(pattern(0x800, 5), 0x1000);
  writeHeader(img, 0x1000, { flags: o.flags ?? 0x3 });
  return img;
}

function loadMb1(img: Uint8Array, mib = 64): boolean {
  e.ramAdd(0n, BigInt(ramHpa), BigInt(mib * MiB));
  phys.writeBytes(IMAGE_HPA, img);
  return e.loadMb1(BigInt(IMAGE_HPA), BigInt(img.length)) === 1;
}
function addModule(bytes: Uint8Array, cmdline: string, at = MODULE_HPA): void {
  phys.writeBytes(at, bytes);
  e.moduleAdd(BigInt(at), BigInt(bytes.length), e.__newString(cmdline));
}
const error = () => str(e.resError());
function readCString(gpa: number | bigint): string {
  let s = "";
  for (let a = g(gpa); phys.read8(a) !== 0; a++) s += String.fromCharCode(phys.read8(a));
  return s;
}

describe("multiboot 1", () => {
  it("loads an a.out-kludge kernel, its bss and modules, and builds the information structure", () => {
    const img = aout();
    phys.fill(g(0x102000), 0x6000, 0xee); // stale bytes where the bss goes
    const m0 = pattern(0x1801, 7), m1 = pattern(0x10, 8);
    addModule(m0, "initrd.img rw");
    addModule(m1, "config", MODULE_HPA + 0x10000);
    e.setCmdline(e.__newString("kernel.bin exit=emulator"));
    expect(loadMb1(img)).toBe(true);
    expect(error()).toBeNull();
    expect(str(e.resProtocol())).toBe("multiboot1");

    // The whole file from load_addr (header_addr - header offset), then bss to bss_end_addr.
    expect([...phys.readBytes(g(0x100000), img.length)]).toEqual([...img]);
    expect([...phys.readBytes(g(0x102000), 0x6000)].every((b) => b === 0)).toBe(true);
    expect(e.resKernelStart()).toBe(0x100000n);
    expect(e.resKernelEnd()).toBe(0x108000n);

    // 3.2 Machine state.
    expect(e.resMode()).toBe(1);
    expect(e.resEntry()).toBe(0x100100n);
    expect(e.resRax()).toBe(0x2badb002n);
    expect(e.resCr0()).toBe(0x11n);
    expect(e.resRflags()).toBe(2n);
    expect(phys.read64(g(e.resGdtBase()) + 0x10)).toBe(0x00cf9b000000ffffn);
    const info = e.resRbx();
    expect(info).toBe(e.resBootInfo());

    const at = g(info);
    expect(phys.read32(at)).toBe(0x24d); // memory, cmdline, mods, mmap, loader name
    expect(phys.read32(at + 4)).toBe(636); // mem_lower: [0, 0x9f000) in KiB
    expect(phys.read32(at + 8)).toBe(63 * 1024); // mem_upper: 1 MiB to 64 MiB
    expect(readCString(phys.read32(at + 16))).toBe("kernel.bin exit=emulator");
    expect(readCString(phys.read32(at + 64))).toBe("typervisor");

    // Modules page-aligned after the kernel, in order.
    expect(phys.read32(at + 20)).toBe(2);
    const mods = g(phys.read32(at + 24));
    expect(phys.read32(mods)).toBe(0x108000);
    expect(phys.read32(mods + 4)).toBe(0x108000 + m0.length);
    expect(readCString(phys.read32(mods + 8))).toBe("initrd.img rw");
    expect(phys.read32(mods + 16)).toBe(0x10a000);
    expect(phys.read32(mods + 20)).toBe(0x10a010);
    expect(readCString(phys.read32(mods + 24))).toBe("config");
    expect([...phys.readBytes(g(0x108000), m0.length)]).toEqual([...m0]);
    expect([...phys.readBytes(g(0x10a000), m1.length)]).toEqual([...m1]);
    expect(e.resModuleCount()).toBe(2);
    expect(e.resModuleStart(1)).toBe(0x10a000n);

    // The memory map: entries of size 20 (not counting the size field).
    const mmap = g(phys.read32(at + 48)), length = phys.read32(at + 44);
    const map: Array<[number, bigint, bigint, number]> = [];
    for (let p = 0; p < length; p += 24) {
      map.push([
        phys.read32(mmap + p),
        phys.read64(mmap + p + 4),
        phys.read64(mmap + p + 12),
        phys.read32(mmap + p + 20),
      ]);
    }
    expect(map).toEqual([[20, 0n, 0x9f000n, 1], [20, 0x9f000n, 0x61000n, 2], [20, 0x100000n, 0x3f00000n, 1]]);
  });

  it("builds what the hypervisor's own multiboot parser reads back", () => {
    ramHpa = 0; // guest-physical = fake host-physical, so kernel/boot/multiboot1.ts can read it
    addModule(pattern(0x3000, 1), "mod0 a=b", 0x5_0000_0000);
    e.setCmdline(e.__newString("console=com1"));
    e.reservedAdd(0x3ff0000n, 0x10000n, 4);
    expect(loadMb1(aout({ loadEnd: 0x101800, bssEnd: 0 }), 64)).toBe(true);
    expect(str(e.mb1Parse(e.resRbx()))).toBeNull();
    expect(str(e.mb1Cmdline())).toBe("console=com1");
    expect(str(e.mb1LoaderName())).toBe("typervisor");
    expect(e.mb1ModuleCount()).toBe(1);
    // load_end_addr cuts the image at 0x1800 bytes; no bss; the module follows at the next page.
    expect(e.mb1ModuleStart(0)).toBe(0x102000n);
    expect(e.mb1ModuleEnd(0)).toBe(0x105000n);
    expect(str(e.mb1ModuleCmdline(0))).toBe("mod0 a=b");
    const regions = [];
    for (let i = 0; i < e.mb1RegionCount(); i++) {
      regions.push([e.mb1RegionBase(i), e.mb1RegionLength(i), e.mb1RegionType(i)]);
    }
    expect(regions).toEqual([[0n, 0x9f000n, 1], [0x9f000n, 0x61000n, 2], [0x100000n, 0x3ef0000n, 1], [
      0x3ff0000n,
      0x10000n,
      4,
    ]]);
    expect(phys.read8(0x101800)).toBe(0); // past load_end_addr: not loaded
  });

  it("loads an ELF32 kernel by physical address and turns a virtual entry into a physical one", () => {
    phys.fill(g(0x200800), 0x2800, 0xee);
    const img = elf32();
    expect(loadMb1(img)).toBe(true);
    expect(error()).toBeNull();
    expect(e.resEntry()).toBe(0x200010n);
    expect([...phys.readBytes(g(0x200000), 0x800)]).toEqual([...img.subarray(0x1000)]);
    expect([...phys.readBytes(g(0x200800), 0x2800)].every((b) => b === 0)).toBe(true);
    expect(e.resKernelEnd()).toBe(0x203000n);
    expect(phys.read32(g(e.resRbx()))).toBe(0x245); // no modules: no flag 3
  });
});

describe("loadKernel", () => {
  const loadAny = (img: Uint8Array) => {
    e.ramAdd(0n, BigInt(RAM_HPA), BigInt(64 * MiB));
    phys.writeBytes(IMAGE_HPA, img);
    return e.loadAny(BigInt(IMAGE_HPA), BigInt(img.length)) === 1;
  };
  it("boots a.out-kludge and ELF32 kernels as multiboot", () => {
    expect(loadAny(aout())).toBe(true);
    expect(str(e.resProtocol())).toBe("multiboot1");
    e.reset();
    expect(loadAny(elf32())).toBe(true);
    expect(e.resEntry()).toBe(0x200010n);
  });
  it("reports a header with a bad checksum rather than 'not a kernel'", () => {
    expect(loadAny(aout({ checksum: 1 }))).toBe(false);
    expect(error()).toMatch(/bad checksum/);
  });
});

describe("multiboot 1, malformed input", () => {
  const fails = (img: Uint8Array, pattern: RegExp, mib = 64) => {
    expect(loadMb1(img, mib)).toBe(false);
    expect(error()).toMatch(pattern);
  };

  it("no header", () =>
    fails(pattern(0x4000, 1), /not a multiboot kernel: no header \(magic 0x1badb002\) in the first 8192 bytes/));
  it("a header past the first 8192 bytes", () => fails(aout({}, 0x4000, 0x2000), /no header/));
  it("a misaligned header", () => fails(aout({}, 0x2000, 0x22), /no header/));
  it("a bad checksum", () => fails(aout({ checksum: 0x1234 }), /the header at 0x20 has a bad checksum/));
  it("a kernel requiring video mode information", () =>
    fails(aout({ flags: 0x10007 }), /requires video mode information \(flag 2\)/));
  it("a kernel requiring unknown features", () =>
    fails(aout({ flags: 0x10023 }), /requires features typervisor does not know \(flags 0x20\)/));
  it("address fields cut off by the end of the file", () =>
    fails(aout().subarray(0, 0x30), /truncated: the address fields run past the end/));
  it("header_addr below load_addr", () =>
    fails(aout({ headerAddr: 0xff000 }), /header_addr 0xff000 and load_addr 0x100000 do not match/));
  it("load_end_addr below load_addr", () =>
    fails(aout({ loadEnd: 0xf0000 }), /load_end_addr 0xf0000 is below load_addr/));
  it("load_end_addr past the end of the file", () =>
    fails(
      aout({ loadEnd: 0x103000 }),
      /truncated: load_end_addr asks for 12288 bytes from file offset 0x0, the image has 8192/,
    ));
  it("bss_end_addr below the loaded image", () =>
    fails(aout({ bssEnd: 0x101000 }), /bss_end_addr 0x101000 is below the end of the loaded image 0x102000/));
  it("an entry point outside the kernel", () =>
    fails(aout({ entry: 0x200000 }), /entry_addr 0x200000 is outside the kernel \[0x100000, 0x108000\)/));
  it("a kernel larger than the VM's RAM", () =>
    fails(
      aout({ bssEnd: 0x2100000 }),
      /the kernel \[0x100000, 0x2100000\) does not fit in the VM's RAM \(32 MiB\)/,
      32,
    ));
  it("a kernel over the legacy BIOS area", () =>
    fails(
      aout({ loadAddr: 0xa0000, entry: 0xa0100, bssEnd: 0xa8000 }),
      /the kernel \[0xa0000, 0xa8000\) overlaps the legacy BIOS area/,
    ));
  it("a 64-bit ELF without address fields", () =>
    fails(elf32({ cls: 2 }), /a 64-bit ELF image needs the header's address fields \(flag 16\)/));
  it("an ELF for another machine", () =>
    fails(elf32({ machine: 40 }), /multiboot: ELF: machine 40, expected i386 \(3\)/));
  it("an ELF entry in no segment", () =>
    fails(elf32({ entry: 0xd0000000 }), /the ELF entry point 0xd0000000 is in no loadable segment/));
  it("neither ELF nor address fields", () => fails(aout({ flags: 0x3 }), /multiboot: ELF: not an ELF image/));
  it("a module that does not fit", () => {
    e.moduleAdd(BigInt(MODULE_HPA), BigInt(40 * MiB), e.__newString("big"));
    fails(aout(), /no room for module 0 \(40 MiB\)/, 32);
  });
});
