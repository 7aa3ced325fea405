// Kernel-loaded VMs, the pure parts: the entry state both backends copy into
// the VMCB/VMCS (vmm/setup/loaders/entrystate.ts), from the boot GDT the loaders write
// (vmm/setup/loaders/cpu.ts) in fake guest RAM, and what it refuses; and how boot
// modules are named under QEMU's -kernel and GRUB (vmm/setup/bootmodules.ts).
import { beforeEach, describe, expect, it } from "vitest";
import { PhysMemory, load, type Exports } from "./harness";

const RAM_HPA = 0x1_0000_0000;
const MiB = 0x100000;
const PROTECTED32 = 1, LONG64 = 2;
let e: Exports<any>;
let phys: PhysMemory;
const str = (p: number) => (p ? e.__getString(p) : null);
const s = (text: string) => e.__newString(text);

beforeEach(async () => {
  phys = new PhysMemory();
  e = (await load("kernelvm.ts", { phys })).exports;
  e.reset();
  e.ramAdd(0n, BigInt(RAM_HPA), BigInt(16 * MiB));
});

function segment(which: number) {
  if (which >= 0) e.selectSegment(which);
  return {
    selector: e.segSelector(),
    base: e.segBase(),
    limit: e.segLimit() >>> 0,
    attributes: e.segAttributes(),
    vmx: e.segVmxAccessRights() >>> 0,
  };
}

describe("entry state", () => {
  it("is flat 32-bit protected mode for a multiboot or PVH entry", () => {
    expect(str(e.loadTables(PROTECTED32, 0x10000cn, 0x2badb002n, 0x9000n, 0n))).toBeNull();
    expect(str(e.makeState())).toBeNull();
    expect(e.stMode()).toBe(PROTECTED32);
    expect(e.stRip()).toBe(0x10000cn);
    expect(e.stRax()).toBe(0x2badb002n);
    expect(e.stRbx()).toBe(0x9000n);
    expect(e.stRflags()).toBe(2n);
    expect(e.stCr0()).toBe(0x11n); // PE, ET
    expect(e.stCr3()).toBe(0n);
    expect(e.stCr4()).toBe(0n);
    expect(e.stEfer()).toBe(0n);
    expect(e.stGdtBase()).toBe(e.gdtBase());
    expect(e.stGdtLimit()).toBe(31);
    // D=1, G=1, present, DPL 0, execute/read, accessed: VMCB 0xc9b, VMX 0xc09b.
    expect(segment(0)).toEqual({ selector: 0x10, base: 0n, limit: 0xffffffff, attributes: 0xc9b, vmx: 0xc09b });
    expect(segment(1)).toEqual({ selector: 0x18, base: 0n, limit: 0xffffffff, attributes: 0xc93, vmx: 0xc093 });
    // A busy 32-bit TSS, as VM entry and the PVH ABI want it.
    expect(segment(2)).toEqual({ selector: 0, base: 0n, limit: 0x67, attributes: 0x8b, vmx: 0x8b });
  });

  it("is 64-bit long mode with paging for a Linux 64-bit entry", () => {
    expect(str(e.loadTables(LONG64, 0x1000200n, 0n, 0n, 0x7000n))).toBeNull();
    expect(str(e.makeState())).toBeNull();
    expect(e.stMode()).toBe(LONG64);
    expect(e.stRsi()).toBe(0x7000n);
    expect(e.stCr0()).toBe(0x80000011n); // PG, ET, PE
    expect(e.stCr4()).toBe(0x20n); // PAE
    expect(e.stEfer()).toBe(0x500n); // LME, LMA
    expect(e.stCr3()).not.toBe(0n);
    // L=1, D=0: VMX entry refuses L and D together in IA-32e mode (SDM 26.3.1.2).
    expect(segment(0)).toEqual({ selector: 0x10, base: 0n, limit: 0xffffffff, attributes: 0xa9b, vmx: 0xa09b });
    expect(segment(1).attributes).toBe(0xc93);
  });

  it("decodes base, limit and granularity from a descriptor", () => {
    e.decode(0x28, 0x12cf9a345678ffffn);
    expect(segment(-1)).toMatchObject({ selector: 0x28, base: 0x12345678n, limit: 0xffffffff, attributes: 0xc9a });
    e.decode(0x30, 0x0040920100000fffn); // byte granular, 4 KiB at 0x10000
    expect(segment(-1)).toMatchObject({ base: 0x10000n, limit: 0xfff, attributes: 0x492, vmx: 0x4092 });
  });

  it("refuses descriptors that do not fit the mode", () => {
    e.loadTables(PROTECTED32, 0x100000n, 0n, 0n, 0n);
    const gdt = RAM_HPA + Number(e.gdtBase());
    e.setSelectors(0x18, 0x18);
    expect(str(e.makeState())).toBe("entry state: CS 0x18 is not a code segment");
    e.setSelectors(0x10, 0x10);
    expect(str(e.makeState())).toBe("entry state: data segment 0x10 is not a writable data segment");
    e.setSelectors(0x20, 0x18);
    expect(str(e.makeState())).toBe("entry state: CS: selector 0x20 is null or past the GDT's limit 0x1f");
    e.setSelectors(0x13, 0x18);
    expect(str(e.makeState())).toBe("entry state: CS: selector 0x13 is not a ring-0 GDT selector");
    e.setSelectors(0x10, 0x18);
    e.setMode(LONG64); // a 32-bit code segment for a 64-bit entry
    expect(str(e.makeState())).toBe("entry state: CS 0x10 is not a 64-bit code segment (L=1, D=0)");
    e.setMode(PROTECTED32);
    phys.write64(gdt + 0x10, 0x00cf1b000000ffffn); // not present
    expect(str(e.makeState())).toBe("entry state: CS: descriptor 0x10 is not present");
    e.setError(s("bad kernel"));
    expect(str(e.makeState())).toBe("entry state: the kernel did not load");
  });
});

describe("boot module names", () => {
  it("names a module by its file name and, under QEMU, by the word after the path", () => {
    // QEMU -initrd "path args": the path comes first.
    expect(str(e.names(s("build/guests/mbtest.elf mbtest.elf")))).toBe("mbtest.elf");
    expect(str(e.names(s("build/test/mbmod.bin mbmod role=x")))).toBe("mbmod.bin,mbmod");
    // GRUB module2: only the arguments.
    expect(str(e.names(s("mbmod role=x")))).toBe("mbmod");
    expect(str(e.names(s("  ")))).toBe("");
  });

  it("finds the configuration by its marker word and modules by name", () => {
    expect(e.isConfig(s("build/test/vms.json vms.json config"))).toBe(1);
    expect(e.isConfig(s("vms.json config"))).toBe(1);
    expect(e.isConfig(s("build/config/vms.json vms.json"))).toBe(0);
    expect(e.isConfig(s("vm=config"))).toBe(0);
    const list = s("build/a.elf kernel-a|b.elf|build/c.bin c");
    expect(e.find(list, s("kernel-a"))).toBe(0);
    expect(e.find(list, s("a.elf"))).toBe(0);
    expect(e.find(list, s("b.elf"))).toBe(1);
    expect(e.find(list, s("c"))).toBe(2);
    expect(e.find(list, s("build/c.bin"))).toBe(-1);
    expect(e.find(list, s("d"))).toBe(-1);
  });
});
