// The Linux bzImage loader (vmm/setup/loaders/bzimage.ts) on synthetic bzImages built
// byte by byte: a setup header as Documentation/arch/x86/boot.rst lays it out,
// followed by a recognisable "protected-mode kernel". Checks what lands in
// guest RAM (kernel, zero page, command line, initrd, E820 map, GDT, page
// tables), the entry state, and a clear error for each malformed input.
import { beforeEach, describe, expect, it } from "vitest";
import { PhysMemory, load, type Exports } from "./harness";

const RAM_HPA = 0x1_0000_0000; // guest-physical 0 in fake host memory
const IMAGE_HPA = 0x2_0000_0000;
const INITRD_HPA = 0x3_0000_0000;
const MiB = 0x100000;

let e: Exports<any>;
let phys: PhysMemory;
const g = (gpa: bigint | number) => RAM_HPA + Number(gpa); // guest-physical -> fake host
const str = (p: number) => (p ? e.__getString(p) : null);

beforeEach(async () => {
  phys = new PhysMemory();
  e = (await load("loaders.ts", { phys })).exports;
  e.reset();
});

interface BzOptions {
  setupSects?: number;
  version?: number;
  loadflags?: number;
  xloadflags?: number;
  code32?: number;
  cmdlineSize?: number;
  initrdMax?: number;
  syssize?: number;
  headerLength?: number;
  bootFlag?: number;
  pref?: number;
  initSize?: number;
  relocatable?: number;
  alignment?: number;
  kernel?: Uint8Array;
}

// A bzImage: setup sectors with the header at 0x1f1, then the kernel.
function bzImage(o: BzOptions = {}): Uint8Array {
  const kernel = o.kernel ?? pattern(0x3000, 7);
  const sects = o.setupSects ?? 2;
  const setup = ((sects === 0 ? 4 : sects) + 1) * 512;
  const img = new Uint8Array(setup + kernel.length);
  const d = new DataView(img.buffer);
  img.fill(0xaa, 0x26c, 0x2d0); // past the header's end: must not reach the zero page
  img[0x1f1] = sects;
  d.setUint32(0x1f4, o.syssize ?? kernel.length / 16, true);
  d.setUint16(0x1fe, o.bootFlag ?? 0xaa55, true);
  img[0x200] = 0xeb;
  img[0x201] = o.headerLength ?? 0x6a; // header ends at 0x26c, as in Linux 6.x
  d.setUint32(0x202, 0x53726448, true); // "HdrS"
  d.setUint16(0x206, o.version ?? 0x20f, true);
  img[0x211] = o.loadflags ?? 0x01;
  d.setUint32(0x214, o.code32 ?? 0x100000, true);
  d.setUint32(0x22c, o.initrdMax ?? 0x7fffffff, true);
  d.setUint32(0x230, o.alignment ?? 0x200000, true);
  img[0x234] = o.relocatable ?? 1;
  d.setUint16(0x236, o.xloadflags ?? 0x03, true); // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
  d.setUint32(0x238, o.cmdlineSize ?? 2047, true);
  d.setBigUint64(0x258, BigInt(o.pref ?? 0x1000000), true);
  d.setUint32(0x260, o.initSize ?? 0x200000, true);
  img.set(kernel, setup);
  return img;
}

function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

// A VM of `mib` MiB at guest-physical 0; the image in fake host memory.
function loadBz(img: Uint8Array, mib = 64): boolean {
  e.ramAdd(0n, BigInt(RAM_HPA), BigInt(mib * MiB));
  phys.writeBytes(IMAGE_HPA, img);
  return e.loadBz(BigInt(IMAGE_HPA), BigInt(img.length)) === 1;
}
function setInitrd(bytes: Uint8Array): void {
  phys.writeBytes(INITRD_HPA, bytes);
  e.setInitrd(BigInt(INITRD_HPA), BigInt(bytes.length));
}
const error = () => str(e.resError());
function readCString(gpa: bigint): string {
  let s = "";
  for (let a = g(gpa); phys.read8(a) !== 0; a++) s += String.fromCharCode(phys.read8(a));
  return s;
}
function e820(bp: bigint): Array<[bigint, bigint, number]> {
  const out: Array<[bigint, bigint, number]> = [];
  for (let i = 0; i < phys.read8(g(bp) + 0x1e8); i++) {
    const at = g(bp) + 0x2d0 + i * 20;
    out.push([phys.read64(at), phys.read64(at + 8), phys.read32(at + 16)]);
  }
  return out;
}

describe("bzImage, 64-bit boot protocol", () => {
  it("loads the kernel at 1 MiB and builds the zero page, command line, initrd and E820 map", () => {
    const img = bzImage();
    const initrd = pattern(0x2345, 99);
    setInitrd(initrd);
    e.setCmdline(e.__newString("console=ttyS0 root=/dev/ram0"));
    e.reservedAdd(0x3ff0000n, 0x10000n, 3); // ACPI tables at the top of RAM
    e.setRsdp(0x3ff0000n);
    expect(loadBz(img)).toBe(true);
    expect(error()).toBeNull();
    expect(str(e.resProtocol())).toBe("linux");

    // The protected-mode kernel, from file offset (2 + 1) * 512, at code32_start.
    expect([...phys.readBytes(g(0x100000), 0x3000)]).toEqual([...img.subarray(3 * 512)]);

    // Entry: 64-bit, at load address + 0x200, RSI = the zero page.
    expect(e.resMode()).toBe(2);
    expect(e.resEntry()).toBe(0x100200n);
    const bp = e.resRsi();
    expect(bp).toBe(e.resBootInfo());
    expect(bp % 4096n).toBe(0n);
    expect(bp).toBeGreaterThanOrEqual(0x1000n);
    expect(bp + 4096n).toBeLessThanOrEqual(0x9f000n);

    // The setup header copied in (0x1f1 up to 0x26c), updated fields, nothing past it.
    expect([...phys.readBytes(g(bp) + 0x1f1, 0x11)]).toEqual([...img.subarray(0x1f1, 0x202)]);
    expect(phys.read32(g(bp) + 0x202)).toBe(0x53726448);
    expect(phys.read16(g(bp) + 0x206)).toBe(0x20f);
    expect(phys.read32(g(bp) + 0x260)).toBe(0x200000); // init_size
    expect(phys.read8(g(bp) + 0x210)).toBe(0xff); // type_of_loader
    expect(phys.read8(g(bp) + 0x211)).toBe(0x81); // LOADED_HIGH | CAN_USE_HEAP
    expect(phys.read16(g(bp) + 0x224)).toBe(0xde00); // heap_end_ptr
    expect([...phys.readBytes(g(bp) + 0x26c, 0x290 - 0x26c)].every((b) => b === 0)).toBe(true);
    expect(phys.read8(g(bp) + 0x1ef)).toBe(0); // sentinel
    expect(phys.read64(g(bp) + 0x70)).toBe(0x3ff0000n); // acpi_rsdp_addr

    const cmdline = BigInt(phys.read32(g(bp) + 0x228));
    expect(cmdline).toBe(e.resCmdline());
    expect(readCString(cmdline)).toBe("console=ttyS0 root=/dev/ram0");

    // The initrd: page-aligned, as high as it goes below the ACPI tables.
    const rd = BigInt(phys.read32(g(bp) + 0x218));
    expect(phys.read32(g(bp) + 0x21c)).toBe(initrd.length);
    expect(rd % 4096n).toBe(0n);
    expect(rd + BigInt(initrd.length)).toBeLessThanOrEqual(0x3ff0000n);
    expect(rd + BigInt(initrd.length)).toBeGreaterThan(0x3ff0000n - 4096n);
    expect([...phys.readBytes(g(rd), initrd.length)]).toEqual([...initrd]);
    expect(e.resInitrdStart()).toBe(rd);

    expect(e820(bp)).toEqual([
      [0n, 0x9f000n, 1],
      [0x9f000n, 0x61000n, 2],
      [0x100000n, 0x3ef0000n, 1],
      [0x3ff0000n, 0x10000n, 3],
    ]);
  });

  it("enters long mode through an identity map and a GDT with __BOOT_CS and __BOOT_DS", () => {
    expect(loadBz(bzImage())).toBe(true);
    expect(e.resCodeSelector()).toBe(0x10);
    expect(e.resDataSelector()).toBe(0x18);
    const gdt = e.resGdtBase();
    expect(e.resGdtLimit()).toBe(31);
    expect(phys.read64(g(gdt) + 0x10)).toBe(0x00af9b000000ffffn); // 64-bit code
    expect(phys.read64(g(gdt) + 0x18)).toBe(0x00cf93000000ffffn); // flat data
    expect(e.resCr0() & 0x80000001n).toBe(0x80000001n); // PG | PE
    expect(e.resCr4() & 0x20n).toBe(0x20n); // PAE
    expect(e.resEfer()).toBe(0x500n); // LME | LMA
    expect(e.resRflags()).toBe(2n); // interrupts off
    // Walk the tables for a few addresses: 2 MiB pages, identity.
    const walk = (va: bigint): bigint => {
      const pml4e = phys.read64(g(e.resCr3()) + Number((va >> 39n) & 511n) * 8);
      const pdpte = phys.read64(g(pml4e & ~0xfffn) + Number((va >> 30n) & 511n) * 8);
      const pde = phys.read64(g(pdpte & ~0xfffn) + Number((va >> 21n) & 511n) * 8);
      expect(pde & 0x83n).toBe(0x83n); // present, writable, 2 MiB page
      return (pde & ~0x1fffffn & 0xfffffffffn) | (va & 0x1fffffn);
    };
    for (const va of [0x100200n, 0x7000n, 0x3ffffffn, 0xfee00000n, 0xffffffffn]) expect(walk(va)).toBe(va);
  });

  it("takes setup_sects 0 as 4", () => {
    const img = bzImage({ setupSects: 0 });
    expect(loadBz(img)).toBe(true);
    expect([...phys.readBytes(g(0x100000), 64)]).toEqual([...img.subarray(5 * 512, 5 * 512 + 64)]);
  });

  it("accepts a command line of exactly cmdline_size bytes", () => {
    e.setCmdline(e.__newString("x".repeat(16)));
    expect(loadBz(bzImage({ cmdlineSize: 16 }))).toBe(true);
    expect(readCString(e.resCmdline())).toBe("x".repeat(16));
  });

  it("keeps the initrd below initrd_addr_max", () => {
    setInitrd(pattern(0x1800, 3));
    expect(loadBz(bzImage({ initrdMax: 0x1ffffff }))).toBe(true);
    const end = e.resInitrdStart() + e.resInitrdSize();
    expect(end).toBeLessThanOrEqual(0x2000000n);
    expect(end).toBeGreaterThan(0x2000000n - 0x2000n);
  });
});

describe("loadKernel", () => {
  it("recognises a bzImage by its HdrS signature", () => {
    const img = bzImage();
    e.ramAdd(0n, BigInt(RAM_HPA), BigInt(64 * MiB));
    phys.writeBytes(IMAGE_HPA, img);
    expect(e.loadAny(BigInt(IMAGE_HPA), BigInt(img.length))).toBe(1);
    expect(str(e.resProtocol())).toBe("linux");
    expect(e.resEntry()).toBe(0x100200n);
  });
});

describe("bzImage, 32-bit boot protocol", () => {
  it("enters at code32_start in flat protected mode when the kernel has no 64-bit entry", () => {
    for (const o of [{ version: 0x20b }, { version: 0x20f, xloadflags: 0 }]) {
      e.reset();
      expect(loadBz(bzImage(o))).toBe(true);
      expect(e.resMode()).toBe(1);
      expect(e.resEntry()).toBe(0x100000n);
      expect(e.resRsi()).toBe(e.resBootInfo());
      expect(e.resRbx()).toBe(0n);
      expect(e.resCr3()).toBe(0n);
      expect(e.resCr0()).toBe(0x11n); // PE, paging off
      expect(e.resEfer()).toBe(0n);
      expect(phys.read64(g(e.resGdtBase()) + 0x10)).toBe(0x00cf9b000000ffffn); // 32-bit code
      expect(phys.read8(g(e.resBootInfo()) + 0x210)).toBe(0xff);
    }
  });
});

describe("bzImage, malformed input", () => {
  const fails = (img: Uint8Array, pattern: RegExp, mib = 64) => {
    expect(loadBz(img, mib)).toBe(false);
    expect(error()).toMatch(pattern);
  };

  it("no HdrS signature", () => {
    const img = bzImage();
    img[0x202] = 0x68; // "hdrS"
    fails(img, /not a bzImage: no "HdrS" signature at 0x202/);
  });
  it("an image too short for a setup header", () =>
    fails(bzImage().subarray(0, 0x203), /too short for a setup header/));
  it("a wrong boot_flag", () => fails(bzImage({ bootFlag: 0x1234 }), /boot_flag at 0x1fe is 0x1234, expected 0xaa55/));
  it("a boot protocol older than 2.06", () =>
    fails(bzImage({ version: 0x205 }), /boot protocol 2\.05 is too old \(2\.06 or later is needed\)/));
  it("a zImage (LOADED_HIGH clear)", () => fails(bzImage({ loadflags: 0 }), /LOADED_HIGH is clear/));
  it("a setup header that runs past its room in boot_params", () =>
    fails(bzImage({ headerLength: 0xa0 }), /setup header runs to 0x2a2, past its room/));
  it("a setup header too short for protocol 2.06", () =>
    fails(bzImage({ headerLength: 0x30 }), /ends at 0x232, before the fields of boot protocol 2\.15/));
  it("truncated setup code", () =>
    fails(
      bzImage({ setupSects: 30 }).subarray(0, 4096),
      /truncated: 30 setup sectors take 15872 bytes .* the image has 4096/,
    ));
  it("nothing after the setup code", () => fails(bzImage().subarray(0, 3 * 512), /truncated/));
  it("a kernel shorter than syssize says", () =>
    fails(bzImage({ syssize: 0x301 }), /truncated: syssize says the kernel is 12304 bytes, only 12288 follow/));
  it("a kernel larger than the VM's RAM", () =>
    fails(
      bzImage({ initSize: 0x4000000 }),
      /the kernel \(with init_size\) \[0x100000, 0x5000000\) does not fit in the VM's RAM \(64 MiB\)/,
    ));
  it("a kernel over a reserved range", () => {
    e.reservedAdd(0x400000n, 0x1000n, 2);
    fails(bzImage(), /the kernel .* overlaps reserved memory \[0x400000, 0x401000\)/);
  });
  it("an initrd that does not fit", () => {
    e.setInitrd(BigInt(INITRD_HPA), BigInt(40 * MiB)); // its bytes are never read
    fails(bzImage(), /no room for the initrd \(40 MiB\)/, 48);
  });
  it("a command line longer than cmdline_size", () => {
    e.setCmdline(e.__newString("y".repeat(17)));
    fails(bzImage({ cmdlineSize: 16 }), /the command line is 17 bytes; this kernel takes at most 16 \(cmdline_size\)/);
  });
  it("a code32_start below 1 MiB", () => fails(bzImage({ code32: 0x8000 }), /code32_start 0x8000 is below 1 MiB/));
  it("a kernel_alignment that is not a power of two", () =>
    fails(bzImage({ alignment: 0x300000 }), /kernel_alignment 0x300000 is not a power of two/));
  it("an empty image", () => fails(new Uint8Array(0), /too short/));
});
