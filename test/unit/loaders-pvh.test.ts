// The PVH loader (vmm/setup/loaders/pvh.ts) on synthetic ELF64 vmlinux images: PT_LOAD
// segments at their physical addresses, a "Xen" note of type 18 with the 32-bit
// entry, and the hvm_start_info (version 1) it builds in guest RAM, with the
// module list and memory map; then every malformed ELF it must refuse.
import { beforeEach, describe, expect, it } from "vitest";
import { PhysMemory, load, type Exports } from "./harness";

const RAM_HPA = 0x1_0000_0000;
const IMAGE_HPA = 0x2_0000_0000;
const INITRD_HPA = 0x3_0000_0000;
const MiB = 0x100000;
const KERNEL_VIRT = 0xffff_ffff_8000_0000n; // __START_KERNEL_map

let e: Exports<any>;
let phys: PhysMemory;
const g = (gpa: bigint | number) => RAM_HPA + Number(gpa);
const str = (p: number) => (p ? e.__getString(p) : null);

beforeEach(async () => {
  phys = new PhysMemory();
  e = (await load("loaders.ts", { phys })).exports;
  e.reset();
});

interface Seg {
  type?: number;
  paddr: number;
  vaddr?: bigint;
  data: Uint8Array;
  memsz?: number;
  filesz?: number;
  offset?: number;
  align?: number;
}
interface ElfOptions {
  cls?: number;
  endian?: number;
  type?: number;
  machine?: number;
  phentsize?: number;
  phnum?: number;
  entry?: bigint;
}

// An ELF64 executable: header, program headers, then each segment's bytes.
function elf64(segs: Seg[], o: ElfOptions = {}): Uint8Array {
  let offset = 64 + 56 * segs.length;
  const offsets = segs.map((s) => {
    offset = (offset + 15) & ~15;
    const at = offset;
    offset += s.data.length;
    return at;
  });
  const img = new Uint8Array(offset);
  const d = new DataView(img.buffer);
  img.set([0x7f, 0x45, 0x4c, 0x46, o.cls ?? 2, o.endian ?? 1, 1]);
  d.setUint16(16, o.type ?? 2, true); // ET_EXEC
  d.setUint16(18, o.machine ?? 62, true); // EM_X86_64
  d.setUint32(20, 1, true);
  d.setBigUint64(24, o.entry ?? KERNEL_VIRT, true);
  d.setBigUint64(32, 64n, true); // e_phoff
  d.setUint16(52, 64, true);
  d.setUint16(54, o.phentsize ?? 56, true);
  d.setUint16(56, o.phnum ?? segs.length, true);
  segs.forEach((s, i) => {
    const p = 64 + 56 * i;
    d.setUint32(p, s.type ?? 1, true);
    d.setBigUint64(p + 8, BigInt(s.offset ?? offsets[i]), true);
    d.setBigUint64(p + 16, s.vaddr ?? KERNEL_VIRT + BigInt(s.paddr), true);
    d.setBigUint64(p + 24, BigInt(s.paddr), true);
    d.setBigUint64(p + 32, BigInt(s.filesz ?? s.data.length), true);
    d.setBigUint64(p + 40, BigInt(s.memsz ?? s.data.length), true);
    d.setBigUint64(p + 48, BigInt(s.align ?? 4), true);
    img.set(s.data, offsets[i]);
  });
  return img;
}

// One ELF note: namesz, descsz, type, name (NUL-terminated), descriptor, padded to `align`.
function note(name: string, type: number, desc: Uint8Array, align = 4): Uint8Array {
  const pad = (n: number) => (n + align - 1) & ~(align - 1);
  const nameLen = name.length + 1;
  const out = new Uint8Array(12 + pad(nameLen) + pad(desc.length));
  const d = new DataView(out.buffer);
  d.setUint32(0, nameLen, true);
  d.setUint32(4, desc.length, true);
  d.setUint32(8, type, true);
  for (let i = 0; i < name.length; i++) out[12 + i] = name.charCodeAt(i);
  out.set(desc, 12 + pad(nameLen));
  return out;
}
const u64le = (v: number) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
  return b;
};
const u32le = (v: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
};
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 13 + seed) & 0xff;
  return out;
}

const TEXT = pattern(0x2000, 1), DATA = pattern(0x100, 2);
const ENTRY = 0x1000040;
const pvhNote = (entry = ENTRY) => note("Xen", 18, u64le(entry));
// A vmlinux-like image: text, data + bss, and a note segment with other notes around the PVH one.
const vmlinux = (
  notes = concat(note("GNU", 3, pattern(20, 5)), note("Xen", 1, u64le(0xdead)), pvhNote()),
  extra: Seg[] = [],
) =>
  elf64([
    { paddr: 0x1000000, data: TEXT },
    { paddr: 0x1002000, data: DATA, memsz: 0x1000 },
    { type: 4, paddr: 0, vaddr: 0n, data: notes },
    ...extra,
  ]);

function loadPvh(img: Uint8Array, mib = 64): boolean {
  e.ramAdd(0n, BigInt(RAM_HPA), BigInt(mib * MiB));
  phys.writeBytes(IMAGE_HPA, img);
  return e.loadPvhImage(BigInt(IMAGE_HPA), BigInt(img.length)) === 1;
}
const error = () => str(e.resError());
function readCString(gpa: bigint): string {
  let s = "";
  for (let a = g(gpa); phys.read8(a) !== 0; a++) s += String.fromCharCode(phys.read8(a));
  return s;
}

describe("PVH", () => {
  it("loads the segments by p_paddr, zeroes the bss and builds hvm_start_info", () => {
    phys.fill(g(0x1002100), 0xf00, 0xee); // stale bytes where the bss goes
    const initrd = pattern(0x1234, 9);
    phys.writeBytes(INITRD_HPA, initrd);
    e.setInitrd(BigInt(INITRD_HPA), BigInt(initrd.length));
    e.setCmdline(e.__newString("console=ttyS0 earlyprintk=serial"));
    e.reservedAdd(0x3ff0000n, 0x10000n, 3);
    e.setRsdp(0x3ff0000n);
    expect(loadPvh(vmlinux())).toBe(true);
    expect(error()).toBeNull();
    expect(str(e.resProtocol())).toBe("pvh");

    expect([...phys.readBytes(g(0x1000000), TEXT.length)]).toEqual([...TEXT]);
    expect([...phys.readBytes(g(0x1002000), DATA.length)]).toEqual([...DATA]);
    expect([...phys.readBytes(g(0x1002100), 0xf00)].every((b) => b === 0)).toBe(true);
    expect(e.resKernelStart()).toBe(0x1000000n);
    expect(e.resKernelEnd()).toBe(0x1003000n);

    // 32-bit protected mode, paging off, EBX = start_info.
    expect(e.resMode()).toBe(1);
    expect(e.resEntry()).toBe(BigInt(ENTRY));
    expect(e.resCr0()).toBe(0x11n);
    expect(e.resCr3()).toBe(0n);
    expect(e.resCr4()).toBe(0n);
    expect(e.resRflags()).toBe(2n);
    expect(phys.read64(g(e.resGdtBase()) + 0x10)).toBe(0x00cf9b000000ffffn);
    expect(phys.read64(g(e.resGdtBase()) + 0x18)).toBe(0x00cf93000000ffffn);
    const si = e.resRbx();
    expect(si).toBe(e.resBootInfo());
    expect(si % 8n).toBe(0n);

    const at = g(si);
    expect(phys.read32(at)).toBe(0x336ec578); // magic
    expect(phys.read32(at + 4)).toBe(1); // version
    expect(phys.read32(at + 8)).toBe(0); // flags
    expect(phys.read32(at + 12)).toBe(1); // nr_modules
    expect(readCString(phys.read64(at + 24))).toBe("console=ttyS0 earlyprintk=serial");
    expect(phys.read64(at + 32)).toBe(0x3ff0000n); // rsdp_paddr
    expect(phys.read32(at + 52)).toBe(0); // reserved

    const mod = g(phys.read64(at + 16));
    const rd = phys.read64(mod);
    expect(phys.read64(mod + 8)).toBe(BigInt(initrd.length));
    expect(phys.read64(mod + 16)).toBe(0n); // no command line
    expect(phys.read64(mod + 24)).toBe(0n);
    expect(rd % 4096n).toBe(0n);
    expect(rd + BigInt(initrd.length)).toBeLessThanOrEqual(0x3ff0000n);
    expect([...phys.readBytes(g(rd), initrd.length)]).toEqual([...initrd]);

    const memmap = g(phys.read64(at + 40)), entries = phys.read32(at + 48);
    const map: Array<[bigint, bigint, number, number]> = [];
    for (let i = 0; i < entries; i++) {
      const m = memmap + 24 * i;
      map.push([phys.read64(m), phys.read64(m + 8), phys.read32(m + 16), phys.read32(m + 20)]);
    }
    expect(map).toEqual([
      [0n, 0x9f000n, 1, 0],
      [0x9f000n, 0x61000n, 2, 0],
      [0x100000n, 0x3ef0000n, 1, 0],
      [0x3ff0000n, 0x10000n, 3, 0],
    ]);
  });

  it("without an initrd gives no modules", () => {
    expect(loadPvh(vmlinux())).toBe(true);
    const si = g(e.resRbx());
    expect(phys.read32(si + 12)).toBe(0);
    expect(phys.read64(si + 16)).toBe(0n);
    expect(readCString(phys.read64(si + 24))).toBe("");
  });

  it("reads a 4-byte entry note, and notes padded to 8 in a segment aligned to 8", () => {
    expect(loadPvh(vmlinux(note("Xen", 18, u32le(0x1000010))))).toBe(true);
    expect(e.resEntry()).toBe(0x1000010n);
    e.reset();
    const notes = concat(note("GNU", 3, u32le(7), 8), note("Xen", 18, u64le(0x1000020), 8));
    const img = elf64([{ paddr: 0x1000000, data: TEXT }, { type: 4, paddr: 0, vaddr: 0n, data: notes, align: 8 }]);
    expect(loadPvh(img)).toBe(true);
    expect(e.resEntry()).toBe(0x1000020n);
  });
});

describe("loadKernel", () => {
  const loadAny = (img: Uint8Array) => {
    e.ramAdd(0n, BigInt(RAM_HPA), BigInt(64 * MiB));
    phys.writeBytes(IMAGE_HPA, img);
    return e.loadAny(BigInt(IMAGE_HPA), BigInt(img.length)) === 1;
  };
  // A multiboot header with address fields for a kernel loaded at 0x1000000 from file offset 0.
  const mbHeader = () => {
    const h = new Uint8Array(32), d = new DataView(h.buffer);
    [0x1badb002, 0x10000, (-(0x1badb002 + 0x10000)) >>> 0, 0x1000000 + 0x100, 0x1000000, 0, 0, 0x1000000].forEach((
      v,
      i,
    ) => d.setUint32(i * 4, v, true));
    return h;
  };

  it("boots an ELF64 image with a PVH note through PVH", () => {
    expect(loadAny(vmlinux())).toBe(true);
    expect(str(e.resProtocol())).toBe("pvh");
    expect(e.resEntry()).toBe(BigInt(ENTRY));
  });
  it("boots an ELF64 image without a PVH note but with multiboot address fields as multiboot", () => {
    const img = vmlinux(note("GNU", 3, u32le(0)));
    img.set(mbHeader(), 0x100);
    expect(loadAny(img)).toBe(true);
    expect(str(e.resProtocol())).toBe("multiboot1");
    expect(e.resEntry()).toBe(0x1000000n);
    expect(e.resRax()).toBe(0x2badb002n);
  });
  it("reports the missing PVH note for an ELF64 image that is neither", () => {
    expect(loadAny(vmlinux(note("GNU", 3, u32le(0))))).toBe(false);
    expect(error()).toMatch(/no PVH entry point/);
  });
  it("refuses what is no kernel at all", () => {
    expect(loadAny(pattern(0x3000, 4))).toBe(false);
    expect(error()).toMatch(/^not a kernel image typervisor can boot: no bzImage header/);
    e.reset();
    expect(loadAny(new Uint8Array(0))).toBe(false);
    expect(error()).toBe("the kernel image is empty");
  });
});

describe("PVH, malformed input", () => {
  const fails = (img: Uint8Array, pattern: RegExp, mib = 64) => {
    expect(loadPvh(img, mib)).toBe(false);
    expect(error()).toMatch(pattern);
  };
  const good = vmlinux();

  it("no ELF magic", () => {
    const img = good.slice();
    img[1] = 0x45 ^ 0x20;
    fails(img, /ELF: not an ELF image/);
  });
  it("a 32-bit ELF", () =>
    fails(elf64([{ paddr: 0x1000000, data: TEXT }], { cls: 1 }), /ELF: class 1 \(32-bit\), expected 64-bit/));
  it("a big-endian ELF", () =>
    fails(elf64([{ paddr: 0x1000000, data: TEXT }], { endian: 2 }), /ELF: not little-endian/));
  it("another machine", () =>
    fails(elf64([{ paddr: 0x1000000, data: TEXT }], { machine: 183 }), /ELF: machine 183, expected x86-64 \(62\)/));
  it("not an executable", () =>
    fails(elf64([{ paddr: 0x1000000, data: TEXT }], { type: 3 }), /ELF: type 3, expected an executable/));
  it("a wrong e_phentsize", () =>
    fails(elf64([{ paddr: 0x1000000, data: TEXT }], { phentsize: 64 }), /ELF: e_phentsize 64, expected 56/));
  it("a header cut short", () =>
    fails(good.subarray(0, 40), /ELF: truncated: the image \(40 bytes\) is shorter than an ELF header/));
  it("program headers past the end", () =>
    fails(
      elf64([{ paddr: 0x1000000, data: new Uint8Array(0) }], { phnum: 9 }),
      /ELF: truncated: program headers at 0x40 run past the end/,
    ));
  it("a segment past the end of the file", () =>
    fails(good.subarray(0, good.length - 16), /ELF: truncated: segment 2 needs file bytes/));
  it("a segment with p_filesz > p_memsz", () =>
    fails(
      vmlinux(undefined, [{ paddr: 0x2000000, data: pattern(64, 1), memsz: 32 }]),
      /ELF: segment 3: p_filesz 0x40 is larger than p_memsz 0x20/,
    ));
  it("overlapping segments", () =>
    fails(
      vmlinux(undefined, [{ paddr: 0x1002800, data: pattern(64, 1) }]),
      /segment 3 \[0x1002800, 0x1002840\) overlaps segment 1 \[0x1002000, 0x1003000\)/,
    ));
  it("a segment beyond the VM's RAM", () =>
    fails(good, /segment 0 \[0x1000000, 0x1002000\) does not fit in the VM's RAM \(16 MiB\)/, 16));
  it("a segment over the legacy BIOS area", () =>
    fails(
      vmlinux(undefined, [{ paddr: 0xf0000, data: pattern(64, 1) }]),
      /segment 3 .* overlaps the legacy BIOS area \[0x9f000, 0x100000\)/,
    ));
  it("no loadable segment", () =>
    fails(elf64([{ type: 4, paddr: 0, data: pvhNote() }]), /ELF: no loadable \(PT_LOAD\) segment/));
  it("no PVH note", () =>
    fails(vmlinux(note("Xen", 1, u64le(ENTRY))), /no "Xen" note of type 18 \(XEN_ELFNOTE_PHYS32_ENTRY\)/));
  it("a PVH note of the wrong size", () =>
    fails(vmlinux(note("Xen", 18, new Uint8Array(2))), /holds 2 bytes, expected 4 or 8/));
  it("a note running past its segment", () => {
    const n = pvhNote();
    new DataView(n.buffer).setUint32(4, 0x1000, true); // descsz far beyond the segment
    fails(vmlinux(n), /no "Xen" note of type 18/);
  });
  it("an entry point outside the kernel", () =>
    fails(vmlinux(pvhNote(0x3000000)), /the entry point 0x3000000 is outside the loaded kernel/));
  it("an entry point above 4 GiB", () =>
    fails(vmlinux(pvhNote(0x1_0000_0000)), /the 32-bit entry point 0x100000000 is above 4 GiB/));
  it("an initrd that does not fit", () => {
    e.setInitrd(BigInt(INITRD_HPA), BigInt(60 * MiB));
    fails(good, /no room for the initrd \(60 MiB\)/);
  });
});
