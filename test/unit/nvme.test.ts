// The NVMe driver (vmm/storage/nvme/, vmm/storage/hostdisks.ts): the
// commands it builds and the PRP entries it points them at (NVM Express
// Base Specification 1.4, 4.2, 4.3, 5, 6); then the whole driver against a
// fake controller behind a fake PCI bus (fakenvme.ts): the initialization
// sequence, the GPT scan, reads and writes straight into a VM's RAM split
// at MDTS, Write Zeroes, 4096-byte blocks, and each way a controller fails;
// and partitions as VMs' kernels (vmm/setup/bootimages.ts): shared
// read-only claims, and how much of a partition one load reads.
import { beforeEach, describe, expect, it } from "vitest";
import { ALPHA, BAR, FakeNvme, FakeOptions, GUEST_HPA, GUEST_SIZE } from "./fakenvme";
import { controllerShim, type HostDiskExports } from "./fakepci";
import { load, PhysMemory, type Exports } from "./harness";

interface NvmeExports extends HostDiskExports {
  dword(i: number): number;
  buildReadWrite(write: number, nsid: number, lba: bigint, blocks: number): void;
  buildIdentify(what: number, nsid: number): void;
  buildCompletionQueue(id: number, entries: number, phys: bigint): void;
  buildSubmissionQueue(id: number, entries: number, phys: bigint, cq: number): void;
  buildWriteZeroes(nsid: number, lba: bigint, blocks: number, deallocate: number): void;
  buildFlush(nsid: number): void;
  buildQueueCount(pairs: number): void;
  listPhys(): bigint;
  prp(phys: bigint, length: bigint): void;
  prp1(): bigint;
  prp2(): bigint;
  prpClear(): void;
  prpAdd(phys: bigint, length: bigint): void;
  prpNext(most: bigint, unit: bigint): bigint;
  listEntry(i: number): bigint;
  bootFrames(start: bigint, end: bigint): void;
  freeFrames(): bigint;
  bootClaim(partition: number, size: number, owner: number): number;
  bootError(): number;
  bootRead(limit: bigint): bigint;
  bootReadError(): number;
  bootByte(offset: bigint): number;
  bootClose(): void;
  bootRelease(owner: number): void;
}

const dwords = (e: NvmeExports) => Array.from({ length: 16 }, (_, i) => e.dword(i) >>> 0);

describe("commands (4.2)", () => {
  let e: Exports<NvmeExports>;
  beforeEach(async () => {
    e = (await load<NvmeExports>("nvme.ts")).exports;
  });

  it("puts a read's and a write's LBA in CDW10-11 and its 0-based block count in CDW12", () => {
    e.buildReadWrite(0, 1, 0x1_2345_6789n, 8);
    expect(dwords(e)).toEqual([0x02, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x2345_6789, 1, 7, 0, 0, 0]);
    e.buildReadWrite(1, 2, 5n, 0x1_0000);
    expect(dwords(e).slice(0, 2).concat(dwords(e).slice(10, 13))).toEqual([0x01, 2, 5, 0, 0xffff]);
  });

  it("builds the admin commands start-up needs", () => {
    e.buildIdentify(1, 0);
    expect([e.dword(0), e.dword(1), e.dword(10)]).toEqual([0x06, 0, 1]);
    e.buildQueueCount(1);
    expect([e.dword(0), e.dword(10), e.dword(11)]).toEqual([0x09, 7, 0]);
    e.buildCompletionQueue(1, 64, 0x1234_5000n);
    expect([e.dword(0), e.prp1(), e.dword(10), e.dword(11)]).toEqual([0x05, 0x1234_5000n, (63 << 16) | 1, 1]);
    e.buildSubmissionQueue(1, 64, 0x1234_6000n, 1);
    expect([e.dword(0), e.prp1(), e.dword(10), e.dword(11)]).toEqual([
      0x01,
      0x1234_6000n,
      (63 << 16) | 1,
      (1 << 16) | 1,
    ]);
  });

  it("builds Write Zeroes with DEAC when asked, and Flush", () => {
    e.buildWriteZeroes(1, 100n, 16, 1);
    expect([e.dword(0), e.dword(10), e.dword(12) >>> 0]).toEqual([0x08, 100, (1 << 25) | 15]);
    e.buildWriteZeroes(1, 100n, 16, 0);
    expect(e.dword(12)).toBe(15);
    e.buildFlush(3);
    expect(dwords(e)).toEqual([0x00, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe("PRP entries (4.3)", () => {
  let e: Exports<NvmeExports>;
  beforeEach(async () => {
    e = (await load<NvmeExports>("nvme.ts")).exports;
  });
  const BASE = 0x8000_0000n, PAGE = 4096n;

  it.each([
    ["one whole page", BASE, PAGE, 0n],
    ["a sector inside a page", BASE + 0x200n, 512n, 0n],
    ["two whole pages", BASE, 2n * PAGE, BASE + PAGE],
    ["a page from an offset, into the next", BASE + 0xe00n, PAGE, BASE + PAGE],
  ])("%s: PRP1 is the first byte, PRP2 the second page or 0", (_, phys, length, second) => {
    e.prp(phys, length);
    expect([e.prp1(), e.prp2()]).toEqual([phys, second]);
  });

  it("points PRP2 at a list of the pages after the first when there are more than two", () => {
    e.prp(BASE + 0x200n, 3n * PAGE);
    expect([e.prp1(), e.prp2()]).toEqual([BASE + 0x200n, e.listPhys()]);
    expect([e.listEntry(0), e.listEntry(1), e.listEntry(2)]).toEqual([BASE + PAGE, BASE + 2n * PAGE, BASE + 3n * PAGE]);
  });

  it("fills the whole list page for 2 MiB from an offset: 512 entries, no chaining", () => {
    e.prp(BASE + 0x200n, 2n << 20n);
    expect(e.prp2()).toBe(e.listPhys());
    for (const i of [0, 255, 511]) expect(e.listEntry(i)).toBe(BASE + BigInt(i + 1) * PAGE);
  });

  // A request's pieces, then the bytes of each command cut from them.
  const commands = (pieces: Array<[bigint, bigint]>, most: bigint, unit = 512n) => {
    e.prpClear();
    for (const [phys, length] of pieces) e.prpAdd(phys, length);
    return e.prpNext(most, unit);
  };

  it("names pieces that meet at page boundaries in one list: only the first may start inside a page", () => {
    expect(commands([[BASE + 0x200n, 0xe00n], [BASE + 0x10000n, 2n * PAGE], [BASE + 0x30000n, PAGE]], 1n << 20n)).toBe(
      0x3e00n,
    );
    expect([e.prp1(), e.prp2()]).toEqual([BASE + 0x200n, e.listPhys()]);
    expect([0, 1, 2].map((i) => e.listEntry(i))).toEqual([BASE + 0x10000n, BASE + 0x11000n, BASE + 0x30000n]);
  });

  it("ends a command before a piece that starts inside a page, and after one that ends inside one", () => {
    expect(commands([[BASE, PAGE], [BASE + 0x5200n, 0x200n], [BASE + 0x9000n, PAGE]], 1n << 20n)).toBe(PAGE);
    expect([e.prp1(), e.prp2()]).toEqual([BASE, 0n]);
    expect(e.prpNext(1n << 20n, 512n)).toBe(0x200n);
    expect(e.prp1()).toBe(BASE + 0x5200n);
    expect(e.prpNext(1n << 20n, 512n)).toBe(PAGE);
    expect(e.prp1()).toBe(BASE + 0x9000n);
  });

  it("cuts at the largest transfer and at the list's last page, in whole blocks, then goes on in the piece", () => {
    expect(commands([[BASE, 3n * PAGE]], 2n * PAGE)).toBe(2n * PAGE);
    expect([e.prp1(), e.prp2()]).toEqual([BASE, BASE + PAGE]);
    expect(e.prpNext(2n * PAGE, 512n)).toBe(PAGE);
    expect([e.prp1(), e.prp2()]).toEqual([BASE + 2n * PAGE, 0n]);
    // 513 pages at most, PRP1's and 512 in the list: from 0x200, a block short of them.
    expect(commands([[BASE + 0x200n, 4n << 20n]], 8n << 20n)).toBe(513n * PAGE - 512n);
    expect(e.listEntry(511)).toBe(BASE + 512n * PAGE);
  });

  it("names nothing when not one whole block can be named", () => {
    expect(commands([[BASE, 0x100n], [BASE + PAGE, PAGE]], 1n << 20n)).toBe(0n);
    expect(commands([[BASE, 0x600n]], 1n << 20n, 4096n)).toBe(0n);
  });
});

// A fresh module whose shim reaches the fake controller (fakenvme.ts) and
// whose VM has 4 MiB of RAM at GUEST_HPA; the host disks already scanned.
async function bootWith(opts: FakeOptions = {}) {
  const phys = new PhysMemory();
  let e: Exports<NvmeExports> | null = null;
  const fake = new FakeNvme(opts, () => ({ linear: new Uint8Array(e!.memory.buffer), phys }));
  const unit = await load<NvmeExports>("nvme.ts", {
    phys,
    shim: controllerShim(fake, BAR, 0x4000, phys),
  });
  e = unit.exports;
  const str = (s: string) => e!.__newString(s);
  e.scan(GUEST_HPA, GUEST_SIZE);
  const m = unit.machine;
  return {
    e,
    fake,
    phys,
    serial: () => m.serial(),
    openError: () => e!.__getString(e!.openError()),
    open: (name: string, readOnly = false) => e!.open(str(name), readOnly ? 1 : 0) === 1,
  };
}

describe("the driver against a fake controller", () => {
  it("resets, sets up the admin queue, enables, identifies, makes one I/O queue pair and reads the GPT", async () => {
    const { fake, serial } = await bootWith();
    expect(fake.command & 0x406).toBe(0x406); // memory space, bus master, INTx disabled
    const admin = fake.log.filter((c) => c.queue === 0).map((c) => [c.opcode, c.dwords[10]]);
    expect(admin).toEqual([[0x06, 1], [0x09, 7], [0x05, (63 << 16) | 1], [0x01, (63 << 16) | 1], [0x06, 2], [0x06, 0]]);
    expect(serial()).toContain(
      "nvme 0000:00:04.0: Fake NVMe Controller, serial fake0001, namespace 1: 4096 KiB, 512-byte blocks, "
        + "GPT with 4 partitions\n",
    );
    expect(serial()).toContain(`  partition 1 "alpha" ${ALPHA}: 1024 KiB at LBA 2048\n`);
    expect(fake.log.filter((c) => c.queue === 1).every((c) => c.opcode === 0x02)).toBe(true);
    expect(fake.violations).toEqual([]);
  });

  it("finds a partition by name or GUID in any case, refuses a shared name, and gives it once", async () => {
    const { e, open, openError } = await bootWith();
    expect(open("twin")).toBe(false);
    expect(openError()).toBe("2 partitions are named twin; name it by GUID");
    expect(open("gamma")).toBe(false);
    expect(openError()).toBe("no host disk has a partition named gamma");
    expect(open(ALPHA.toLowerCase())).toBe(true);
    expect(e.sectors()).toBe(2048n);
    expect(e.__getString(e.describe())).toBe("NVMe partition alpha");
    expect(open("alpha")).toBe(false);
    expect(openError()).toBe("partition alpha is already a disk of vm test");
  });

  it("reads straight into the VM's RAM, split at MDTS, from the partition's own blocks", async () => {
    const { e, fake, phys, open } = await bootWith();
    open("beta");
    const before = fake.log.length;
    expect(e.read(4096n, 0x1_0200n, 65536n)).toBe(1);
    const reads = fake.log.slice(before);
    expect(reads.map((c) => [c.opcode, c.dwords[10], c.dwords[12]])).toEqual(
      [0, 1, 2, 3].map((i) => [0x02, 4096 + 8 + 32 * i, 31]),
    );
    const from = 4096 * 512 + 4096;
    expect(phys.readBytes(GUEST_HPA + 0x1_0200n, 65536)).toEqual(fake.disk.slice(from, from + 65536));
    expect(fake.violations).toEqual([]);
  });

  it("moves a request of scattered pieces in as few commands as MDTS allows, data in place", async () => {
    const { e, fake, phys, open } = await bootWith();
    open("beta");
    // 20 KiB in four pieces, the first from inside its page: two commands at the fake's MDTS of 16 KiB.
    const pieces: Array<[bigint, bigint]> = [[0x1_0e00n, 0x200n], [0x3_0000n, 0x2000n], [0x2_0000n, 0x1000n], [
      0x5_0000n,
      0x1e00n,
    ]];
    const load = (write: boolean) => {
      e.clearPieces();
      for (const [gpa, length] of pieces) expect(e.addPiece(gpa, length)).toBe(1);
      const before = fake.log.length, rung = fake.doorbells.length;
      expect(e.transferPieces(8192n, write ? 1 : 0)).toBe(1);
      // Both commands start before either is waited for.
      expect(fake.doorbells.slice(rung)).toEqual(["sq1", "sq1", "cq1", "cq1"]);
      return fake.log.slice(before).map((c) => [c.opcode, c.dwords[10], c.dwords[12]]);
    };
    expect(load(false)).toEqual([[0x02, 4096 + 16, 31], [0x02, 4096 + 48, 7]]);
    const from = 4096 * 512 + 8192;
    let at = from;
    for (const [gpa, length] of pieces) {
      expect(phys.readBytes(GUEST_HPA + gpa, Number(length))).toEqual(fake.disk.slice(at, at + Number(length)));
      at += Number(length);
    }
    for (const [gpa, length] of pieces) phys.fill(GUEST_HPA + gpa, Number(length), Number(gpa >> 16n));
    expect(load(true)).toEqual([[0x01, 4096 + 16, 31], [0x01, 4096 + 48, 7]]);
    expect([...fake.disk.slice(from, from + 0x200)].every((b) => b === 1)).toBe(true);
    expect([...fake.disk.slice(from + 0x4200, from + 0x5000)].every((b) => b === 5)).toBe(true);
    expect(fake.violations).toEqual([]);
  });

  it("keeps at most 32 commands in flight; when one fails, waits for the others and starts no more", async () => {
    const { e, fake, open, serial } = await bootWith({ failLba: 2048 + 32 });
    open("alpha");
    const rung = fake.doorbells.length;
    // 528 KiB in one piece: 33 commands of 16 KiB.
    expect(e.read(0n, 0x1_0000n, 528n << 10n)).toBe(0);
    const times = (d: string, n: number) => Array(n).fill(d);
    expect(fake.doorbells.slice(rung)).toEqual([...times("sq1", 32), ...times("cq1", 32)]);
    expect(serial()).toContain("read of 32 blocks at LBA 2080 of namespace 1 failed: status type 2, code 0x81");
    const again = fake.doorbells.length;
    expect(e.read(32768n, 0x1_0000n, 528n << 10n)).toBe(1);
    expect(fake.doorbells.slice(again)).toEqual([...times("sq1", 32), ...times("cq1", 32), "sq1", "cq1"]);
  });

  it("has a batch's requests in flight together, and names the one that failed by its tag", async () => {
    const { e, fake, open } = await bootWith({ failLba: 2048 + 8 });
    open("alpha");
    const rung = fake.doorbells.length;
    for (const tag of [0, 1, 2]) {
      e.clearPieces();
      e.addPiece(0x1_0000n + BigInt(tag) * 0x1000n, 4096n);
      expect(e.beginPieces(BigInt(tag) * 4096n, 0, tag)).toBe(1);
    }
    expect(e.finishBatch()).toBe(0b010n);
    expect(fake.doorbells.slice(rung)).toEqual(["sq1", "sq1", "sq1", "cq1", "cq1", "cq1"]);
    expect(e.finishBatch()).toBe(0n);
  });

  it("leaves a batch's commands running: a poll credits each as the controller completes it", async () => {
    const { e, fake, open } = await bootWith();
    open("alpha");
    fake.opts.heldCompletions = true;
    for (const tag of [0, 1, 2]) {
      e.clearPieces();
      e.addPiece(0x1_0000n + BigInt(tag) * 0x1000n, 4096n);
      expect(e.beginPieces(BigInt(tag) * 4096n, 0, tag)).toBe(1);
    }
    expect(e.pollBatch()).toBe(3);
    fake.postHeld(2);
    expect(e.pollBatch()).toBe(1);
    fake.postHeld();
    expect(e.pollBatch()).toBe(0);
    expect(e.finishBatch()).toBe(0n);
  });

  it("fails the controller, and every command in flight, when none completes for 10 s", async () => {
    const { e, fake, open, serial } = await bootWith();
    open("alpha");
    fake.opts.heldCompletions = true;
    for (const tag of [0, 1]) {
      e.clearPieces();
      e.addPiece(0x1_0000n + BigInt(tag) * 0x1000n, 4096n);
      expect(e.beginPieces(BigInt(tag) * 4096n, 0, tag)).toBe(1);
    }
    // The harness's TSC moves 1000 ticks a read, at 100 a millisecond.
    let polls = 0;
    while (e.pollBatch() > 0 && polls < 5000) polls++;
    expect(polls).toBeGreaterThan(100);
    expect(serial()).toContain("no completion within 10000 ms; the controller is not used");
    expect(e.finishBatch()).toBe(0b11n);
    expect(e.read(0n, 0x1_0000n, 4096n)).toBe(0);
  });

  it("fails a request whose pieces cannot be cut into whole blocks", async () => {
    const { e, fake, open } = await bootWith();
    open("beta");
    e.clearPieces();
    e.addPiece(0x1_0000n, 0x300n);
    e.addPiece(0x2_0000n, 0x100n);
    expect(e.transferPieces(0n, 0)).toBe(0);
    expect(fake.violations).toEqual([]);
  });

  it("writes from the VM's RAM, unless the disk is read-only", async () => {
    const { e, fake, phys, open } = await bootWith();
    phys.fill(GUEST_HPA, 8192, 0x5a);
    open("beta", true);
    expect(e.write(0n, 0n, 8192n)).toBe(0);
    expect(fake.disk[4096 * 512]).not.toBe(0x5a);
    open("alpha");
    expect(e.write(0n, 0n, 8192n)).toBe(1);
    expect(fake.disk.slice(2048 * 512, 2048 * 512 + 8192).every((b) => b === 0x5a)).toBe(true);
    expect(fake.disk[2048 * 512 + 8192]).not.toBe(0x5a);
    expect(e.flushDisk()).toBe(1);
    expect(fake.log.at(-1)!.opcode).toBe(0x00);
  });

  it("discards with Write Zeroes, deallocating, and the blocks read as zeroes", async () => {
    const { e, fake, open } = await bootWith();
    open("alpha");
    expect(e.discard(512n, 1024n)).toBe(1);
    const last = fake.log.at(-1)!;
    expect([last.opcode, last.dwords[10], last.dwords[12] >>> 0]).toEqual([0x08, 2049, (1 << 25) | 1]);
    expect(fake.disk.slice(2049 * 512, 2051 * 512).every((b) => b === 0)).toBe(true);
    expect(fake.disk[2051 * 512]).not.toBe(0);
  });

  it("refuses what leaves the partition, is not RAM, or is not dword-aligned, sending nothing", async () => {
    const { e, fake, open } = await bootWith();
    open("alpha");
    const before = fake.log.length;
    expect(e.read(1024n * 1024n - 512n, 0n, 1024n)).toBe(0); // past the end
    expect(e.read(0n, GUEST_SIZE - 512n, 1024n)).toBe(0); // not all RAM
    expect(e.read(0n, 2n, 512n)).toBe(0); // PRP offsets are dword-aligned
    expect(e.discard(1024n * 1024n, 512n)).toBe(0);
    expect(fake.log.length).toBe(before);
    expect(e.read(1024n * 1024n, 0n, 0n)).toBe(1);
  });

  it("takes 4096-byte blocks: sectors count 512 bytes, requests must be whole blocks", async () => {
    const { e, fake, phys, serial, open } = await bootWith({ blockSize: 4096 });
    expect(serial()).toContain("namespace 1: 4096 KiB, 4096-byte blocks, GPT with 4 partitions");
    open("alpha");
    expect(e.sectors()).toBe(2048n);
    expect(e.read(512n, 0n, 4096n)).toBe(0);
    expect(e.read(0n, 0n, 512n)).toBe(0);
    expect(e.read(4096n, 0n, 8192n)).toBe(1);
    expect(fake.log.at(-1)!.dwords[10]).toBe(257);
    expect(phys.readBytes(GUEST_HPA, 8192)).toEqual(fake.disk.slice(2048 * 512 + 4096, 2048 * 512 + 4096 + 8192));
  });

  it("fails a read that completes with an error, and goes on with the next", async () => {
    const { e, serial, open } = await bootWith({ failLba: 2048 });
    open("alpha");
    expect(e.read(0n, 0n, 512n)).toBe(0);
    expect(serial()).toContain(
      "nvme 0000:00:04.0: read of 1 blocks at LBA 2048 of namespace 1 failed: status type 2, code 0x81\n",
    );
    expect(e.read(512n, 0n, 512n)).toBe(1);
  });
});

describe("a controller that fails", () => {
  it("is given up when a command never completes: one line, bus mastering off, nothing more sent", async () => {
    const { e, fake, serial } = await bootWith({ hangOnIo: true });
    expect(serial()).toContain(
      "[error] nvme 0000:00:04.0: read of 1 blocks at LBA 1 of namespace 1: no completion within 10000 ms; "
        + "the controller is not used\n",
    );
    expect(fake.command & 0x4).toBe(0);
    const sent = fake.log.length;
    expect(e.open(e.__newString("alpha"), 0)).toBe(0);
    expect(fake.log.length).toBe(sent);
  });

  it("is given up when it never becomes ready", async () => {
    const { fake, serial } = await bootWith({ neverReady: true });
    expect(serial()).toContain("[error] nvme 0000:00:04.0: not ready within 500 ms; the controller is not used\n");
    expect(fake.log).toEqual([]);
  });

  it("is skipped when its registers lie where the host cannot map them, its BAR sized and left as it was", async () => {
    const { fake, serial } = await bootWith({ barHigh: 0x100 });
    expect(serial()).toContain("nvme 0000:00:04.0: registers at 0x100febf0000, beyond what the host can map");
    expect(fake.command & 0x6).toBe(0);
    expect(fake.bars).toEqual([(Number(BAR) | 4) >>> 0, 0x100]);
  });
});

describe("kernel images on partitions", () => {
  const ALPHA_BYTE = 2048 * 512; // alpha's first byte on the disk
  const FRAMES = 0x3000_0000n;

  async function withImages() {
    const disk = await bootWith();
    const e = disk.e, str = (s: string) => e.__newString(s);
    e.bootFrames(FRAMES, FRAMES + (4n << 20n));
    return {
      ...disk,
      claim: (partition: string, size: number, owner: string) => e.bootClaim(str(partition), size, str(owner)) === 1,
      claimError: () => e.__getString(e.bootError()),
      readError: () => e.__getString(e.bootReadError()),
      release: (owner: string) => e.bootRelease(str(owner)),
    };
  }

  it("lets any number of VMs boot from a partition, but not while it is a disk, nor make it a disk then", async () => {
    const { open, openError, claim, claimError, release } = await withImages();
    expect(claim("alpha", 0, "a")).toBe(true);
    expect(claim(ALPHA.toLowerCase(), 0, "b")).toBe(true);
    expect(open("alpha")).toBe(false);
    expect(openError()).toBe("partition alpha holds a boot image of vm a");
    expect(open("beta")).toBe(true);
    expect(claim("beta", 0, "c")).toBe(false);
    expect(claimError()).toBe("kernel: partition beta is a disk of vm test");
    expect(claim("gamma", 0, "c")).toBe(false);
    expect(claimError()).toBe("kernel: no host disk has a partition named gamma");
    release("a");
    expect(open("alpha")).toBe(false);
    expect(openError()).toBe("partition alpha holds a boot image of vm b");
    release("b");
    expect(open("alpha")).toBe(true);
  });

  it("reads as much as a bzImage's or an ELF image's header says, into frames it gives back", async () => {
    const { e, fake, claim } = await withImages();
    const view = new DataView(fake.disk.buffer, ALPHA_BYTE);
    view.setUint32(0x202, 0x53726448, true); // "HdrS"
    view.setUint8(0x1f1, 3); // setup_sects
    view.setUint32(0x1f4, 1000, true); // syssize, in 16-byte paragraphs
    const free = e.freeFrames();
    expect(claim("alpha", 0, "a")).toBe(true);
    expect(e.bootRead(4n << 20n)).toBe(BigInt(4 * 512 + 1000 * 16));
    expect(e.freeFrames()).toBe(free - 5n); // 18048 bytes, read as 36 whole blocks
    for (const at of [0, 0x202, 18047]) expect(e.bootByte(BigInt(at))).toBe(fake.disk[ALPHA_BYTE + at]);
    expect(e.bootByte(18048n)).toBe(0); // past the image: the source's bounds, not the disk's next byte
    e.bootClose();
    expect(e.freeFrames()).toBe(free);

    view.setUint32(0x1f4, 0, true); // no syssize: the whole partition
    expect(claim("alpha", 0, "b")).toBe(true);
    expect(e.bootRead(4n << 20n)).toBe(1n << 20n);
    e.bootClose();

    fake.disk.fill(0, ALPHA_BYTE, ALPHA_BYTE + 4096);
    view.setUint32(0, 0x464c457f, true); // an ELF64 image with two program headers at 64
    view.setUint8(4, 2);
    view.setBigUint64(32, 64n, true);
    view.setUint16(54, 56, true);
    view.setUint16(56, 2, true);
    view.setBigUint64(64 + 8, 0x1000n, true); // p_offset
    view.setBigUint64(64 + 32, 0x3000n, true); // p_filesz
    view.setBigUint64(120 + 8, 0x200n, true);
    view.setBigUint64(120 + 32, 0x10n, true);
    expect(claim("alpha", 0, "c")).toBe(true);
    expect(e.bootRead(4n << 20n)).toBe(0x4000n);
    e.bootClose();
    expect(claim("alpha", 100, "d")).toBe(true);
    expect(e.bootRead(4n << 20n)).toBe(100n);
    e.bootClose();
  });

  it("refuses a size past the partition, an image larger than the VM's RAM, and one it has no room for", async () => {
    const { e, claim, readError } = await withImages();
    expect(claim("alpha", 2 << 20, "a")).toBe(true);
    expect(BigInt.asIntN(64, e.bootRead(4n << 20n))).toBe(-1n);
    expect(readError()).toBe("size: 2097152 bytes, but the partition has 1048576");
    expect(claim("alpha", 0, "b")).toBe(true); // no header: the whole partition
    expect(BigInt.asIntN(64, e.bootRead(512n << 10n))).toBe(-1n);
    expect(readError()).toBe(
      "an image of 1 MiB is too big (at most 524288 bytes, the VM's RAM or 256 MiB); give its \"size\"",
    );
    e.bootFrames(FRAMES, FRAMES + 0x8000n);
    expect(BigInt.asIntN(64, e.bootRead(4n << 20n))).toBe(-1n);
    expect(readError()).toBe("no 1 MiB of contiguous host memory to read it into");
    expect(e.freeFrames()).toBe(8n);
  });
});
