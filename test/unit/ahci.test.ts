// The AHCI driver (vmm/storage/ahci/, vmm/storage/hostdisks.ts): the
// Register H2D FISes it builds for its ATA commands, its PRD entries and
// its reading of IDENTIFY DEVICE data; then the whole driver against a
// fake HBA behind a fake PCI bus (fakeahci.ts): taking the HBA over, the
// ports with and without a disk, the GPT scan, reads and writes straight
// into a VM's RAM, flush, discard by TRIM or by writing zeroes, a failed
// read, and a port that stops answering; with native command queuing,
// requests in flight together and a queued read that fails among them.
import { beforeEach, describe, expect, it } from "vitest";
import { ABAR, ABAR_BYTES, ALPHA, FakeAhci, FakeOptions } from "./fakeahci";
import { controllerShim, type HostDiskExports } from "./fakepci";
import { type Exports, LINEAR_PHYS_BASE, load, PhysMemory } from "./harness";

interface AhciExports extends HostDiskExports {
  pagePhys(): bigint;
  buildFis(kind: number, write: number, lba: bigint, count: number): void;
  fisByte(i: number): number;
  describeCommand(): number;
  prdt(phys: bigint, length: bigint): number;
  prdWord(entry: number, dword: number): number;
  identifyText(): number;
}

const GUEST_HPA = 0x2000_0000n, GUEST_SIZE = 4n << 20n;
const PART = 2048 * 512; // alpha's first byte on the disk

describe("commands, PRDs and IDENTIFY", () => {
  let e: Exports<AhciExports>;
  beforeEach(async () => {
    e = (await load<AhciExports>("ahci.ts")).exports;
  });
  const fis = () => Array.from({ length: 20 }, (_, i) => e.fisByte(i));

  it("puts READ DMA EXT's 48-bit LBA, count and LBA bit in a Register H2D FIS", () => {
    e.buildFis(0, 0, 0x1234_5678_9abcn, 0x1_0000);
    expect(fis()).toEqual([0x27, 0x80, 0x25, 0, 0xbc, 0x9a, 0x78, 0x40, 0x56, 0x34, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(e.__getString(e.describeCommand())).toBe("read of 65536 sectors at LBA 20015998343868");
    e.buildFis(0, 1, 5n, 8);
    expect(fis().slice(0, 13)).toEqual([0x27, 0x80, 0x35, 0, 5, 0, 0, 0x40, 0, 0, 0, 0, 8]);
  });

  it("builds IDENTIFY DEVICE, FLUSH CACHE EXT and DATA SET MANAGEMENT with TRIM", () => {
    e.buildFis(1, 0, 0n, 0);
    expect(fis()[2]).toBe(0xec);
    e.buildFis(2, 0, 0n, 0);
    expect(fis()[2]).toBe(0xea);
    e.buildFis(3, 0, 0n, 2);
    expect([fis()[2], fis()[3], fis()[12]]).toEqual([0x06, 1, 2]);
  });

  it("puts a queued command's sector count in the features and its tag in the count", () => {
    e.buildFis(4, 1, 0x12_3456n, 0x1_0000);
    expect(fis().slice(0, 14)).toEqual([0x27, 0x80, 0x61, 0, 0x56, 0x34, 0x12, 0x40, 0, 0, 0, 0, 5 << 3, 0]);
    expect(e.__getString(e.describeCommand())).toBe("queued write of 65536 sectors at LBA 1193046");
    e.buildFis(4, 0, 8n, 16);
    expect([fis()[2], fis()[3], fis()[11], fis()[12]]).toEqual([0x60, 16, 0, 5 << 3]);
    e.buildFis(5, 0, 0x10n, 0);
    expect([fis()[2], fis()[4], fis()[12]]).toEqual([0x2f, 0x10, 1]);
    expect(e.__getString(e.describeCommand())).toBe("read of log 10h");
  });

  it("describes contiguous memory in 4 MiB entries with even, 0-based byte counts", () => {
    const base = 0x8000_0200n;
    expect(e.prdt(base, 512n)).toBe(1);
    expect([e.prdWord(0, 0), e.prdWord(0, 1), e.prdWord(0, 3)]).toEqual([0x8000_0200 | 0, 0, 511]);
    expect(e.prdt(base + (1n << 32n), 9n << 20n)).toBe(3);
    expect([0, 1, 2].map((i) => [e.prdWord(i, 0) >>> 0, e.prdWord(i, 1), e.prdWord(i, 3)])).toEqual([
      [0x8000_0200, 1, (4 << 20) - 1],
      [0x8040_0200, 1, (4 << 20) - 1],
      [0x8080_0200, 1, (1 << 20) - 1],
    ]);
  });

  it("reads model, serial, size, logical sector size and TRIM from IDENTIFY DEVICE data", () => {
    const b = new Uint8Array(512), v = new DataView(b.buffer);
    const text = (word: number, s: string) => {
      for (let k = 0; k < s.length / 2; k++) {
        v.setUint16((word + k) * 2, (s.charCodeAt(2 * k) << 8) | s.charCodeAt(2 * k + 1), true);
      }
    };
    text(10, "SN-0123 ");
    text(27, "QEMU HARDDISK   ");
    v.setUint16(83 * 2, 1 << 10, true);
    v.setBigUint64(100 * 2, 0x1_0000_0000n, true);
    v.setUint16(106 * 2, (1 << 14) | (1 << 12), true);
    v.setUint32(117 * 2, 2048, true);
    v.setUint16(169 * 2, 1, true);
    v.setUint16(105 * 2, 8, true);
    const page = Number(e.pagePhys() - LINEAR_PHYS_BASE);
    new Uint8Array(e.memory.buffer).set(b, page);
    expect(e.__getString(e.identifyText())).toBe("QEMU HARDDISK|SN-0123|true|4294967296|4096|false|8|0");
    v.setUint16(69 * 2, (1 << 14) | (1 << 5), true); // DRAT and RZAT: trimmed sectors read as zeroes
    v.setUint16(106 * 2, 1 << 12, true); // word 106 not valid: 512-byte sectors
    v.setUint16(75 * 2, 31, true); // a queue 32 deep...
    new Uint8Array(e.memory.buffer).set(b, page);
    expect(e.__getString(e.identifyText())).toBe("QEMU HARDDISK|SN-0123|true|4294967296|512|true|8|0");
    v.setUint16(76 * 2, 1 << 8, true); // ...once word 76 says the disk has NCQ
    new Uint8Array(e.memory.buffer).set(b, page);
    expect(e.__getString(e.identifyText())).toBe("QEMU HARDDISK|SN-0123|true|4294967296|512|true|8|32");
  });
});

// A fresh module whose shim reaches the fake HBA and whose VM has 4 MiB of
// RAM at GUEST_HPA; the host disks already scanned.
async function bootWith(opts: FakeOptions = {}) {
  const phys = new PhysMemory();
  let e: Exports<AhciExports> | null = null;
  const fake = new FakeAhci(opts, () => ({ linear: new Uint8Array(e!.memory.buffer), phys }));
  const unit = await load<AhciExports>("ahci.ts", {
    phys,
    shim: controllerShim(fake, ABAR, ABAR_BYTES, phys),
  });
  e = unit.exports;
  const str = (s: string) => e!.__newString(s);
  e.scan(GUEST_HPA, GUEST_SIZE);
  return {
    e,
    fake,
    phys,
    serial: () => unit.machine.serial(),
    openError: () => e!.__getString(e!.openError()),
    open: (name: string, readOnly = false) => e!.open(str(name), readOnly ? 1 : 0) === 1,
  };
}

describe("the driver against a fake HBA", () => {
  it("stops the running port, identifies its disk, reads the GPT, and leaves the others", async () => {
    const { fake, serial } = await bootWith();
    expect(fake.command & 0x406).toBe(0x406); // memory space, bus master, INTx disabled
    expect(fake.ghc >>> 0).toBe(0x8000_0000); // AHCI mode
    expect(fake.resets).toBe(0);
    expect(fake.log.map((c) => [c.port, c.command])).toEqual([[0, 0xec], [0, 0x25], [0, 0x25]]);
    expect(serial()).toContain(
      "ahci 0000:00:06.0 port 0: Fake SATA Disk, serial fake-sata-1, 4096 KiB, 512-byte sectors, "
        + "GPT with 2 partitions\n",
    );
    expect(serial()).toContain(`  partition 1 "alpha" ${ALPHA}: 1024 KiB at LBA 2048\n`);
    expect(serial()).toContain("ahci 0000:00:06.0 port 2: an ATAPI device, not a disk; not used\n");
    expect(serial()).not.toContain("port 1");
    expect(serial().indexOf("port 0:")).toBeLessThan(serial().indexOf("port 2:")); // the log follows the ports
    expect(fake.ports[2].cmd).toBe(0); // stopped again
    expect(fake.violations).toEqual([]);
  });

  it("takes the HBA from a firmware that owns it, and resets it when a port will not stop", async () => {
    const owned = await bootWith({ biosOwned: true });
    expect(owned.fake.bohc & 3).toBe(2);
    expect(owned.serial()).toContain("GPT with 2 partitions");
    const stuck = await bootWith({ stuckPort: 0 });
    expect(stuck.fake.resets).toBe(1);
    expect(stuck.serial()).toContain("ahci 0000:00:06.0: a port does not stop; controller reset\n");
    expect(stuck.serial()).toContain("GPT with 2 partitions");
    expect(stuck.fake.violations).toEqual([]);
  });

  it("reads straight into the VM's RAM and writes from it, unless the disk is read-only", async () => {
    const { e, fake, phys, open } = await bootWith();
    expect(open("beta", true)).toBe(true);
    expect(e.__getString(e.describe())).toBe("SATA partition beta");
    expect(e.sectors()).toBe(2048n);
    expect(e.read(4096n, 0x1_0200n, 65536n)).toBe(1);
    expect(fake.log.at(-1)).toMatchObject({ command: 0x25, lba: 4096 + 8, count: 128, bytes: 65536 });
    expect(phys.readBytes(GUEST_HPA + 0x1_0200n, 65536)).toEqual(
      fake.disk.slice(4096 * 512 + 4096, 4096 * 512 + 69632),
    );
    phys.fill(GUEST_HPA, 8192, 0x5a);
    expect(e.write(0n, 0n, 8192n)).toBe(0);
    expect(open("alpha")).toBe(true);
    expect(e.write(0n, 0n, 8192n)).toBe(1);
    expect(fake.log.at(-1)).toMatchObject({ command: 0x35, lba: 2048, count: 16 });
    expect(fake.disk.slice(PART, PART + 8192).every((b) => b === 0x5a)).toBe(true);
    expect(fake.disk[PART + 8192]).not.toBe(0x5a);
    expect(e.flushDisk()).toBe(1);
    expect(fake.log.at(-1)!.command).toBe(0xea);
    expect(fake.violations).toEqual([]);
  });

  it("moves a request of scattered pieces in one command, a PRD entry each, sectors across entries", async () => {
    const { e, fake, phys, open } = await bootWith();
    expect(open("alpha")).toBe(true);
    const pieces: Array<[bigint, bigint]> = [[0x1_0100n, 0x300n], [0x3_0000n, 0x2000n], [0x2_0000n, 0x100n]];
    e.clearPieces();
    for (const [gpa, length] of pieces) expect(e.addPiece(gpa, length)).toBe(1);
    expect(e.transferPieces(1024n, 0)).toBe(1);
    expect(fake.log.at(-1)).toMatchObject({ command: 0x25, lba: 2048 + 2, count: 18, bytes: 0x2400 });
    let at = PART + 1024;
    for (const [gpa, length] of pieces) {
      expect(phys.readBytes(GUEST_HPA + gpa, Number(length))).toEqual(fake.disk.slice(at, at + Number(length)));
      at += Number(length);
    }
    expect(fake.violations).toEqual([]);
  });

  it("refuses what leaves the partition, is not RAM, or is not word-aligned, sending nothing", async () => {
    const { e, fake, open } = await bootWith();
    open("alpha");
    const before = fake.log.length;
    expect(e.read(1024n * 1024n - 512n, 0n, 1024n)).toBe(0);
    expect(e.read(0n, GUEST_SIZE - 512n, 1024n)).toBe(0);
    expect(e.read(0n, 1n, 512n)).toBe(0);
    expect(fake.log.length).toBe(before);
  });

  it.each([
    ["TRIM whose sectors read as zeroes", "zeroes" as const, [0x06]],
    ["TRIM that may leave the data: writes zeroes", "trim" as const, [0x35, 0x35, 0x35]],
    ["no TRIM: writes zeroes", "none" as const, [0x35, 0x35, 0x35]],
  ])("discards with %s", async (_, trim, commands) => {
    const { e, fake, open } = await bootWith({ trim });
    open("alpha");
    const before = fake.log.length;
    expect(e.discard(512n, 40960n)).toBe(1);
    expect(fake.log.slice(before).map((c) => c.command)).toEqual(commands);
    if (trim === "zeroes") expect(fake.trims).toEqual([[2049, 80]]);
    expect(fake.disk.slice(PART + 512, PART + 512 + 40960).every((b) => b === 0)).toBe(true);
    expect(fake.disk[PART + 512 + 40960]).not.toBe(0);
    expect(fake.violations).toEqual([]);
  });

  it("takes 4096-byte sectors: sectors count 512 bytes, requests must be whole sectors", async () => {
    const { e, fake, serial, open } = await bootWith({ sectorSize: 4096 });
    expect(serial()).toContain("port 0: Fake SATA Disk, serial fake-sata-1, 4096 KiB, 4096-byte sectors, GPT with 2");
    open("alpha");
    expect(e.sectors()).toBe(2048n);
    expect(e.read(512n, 0n, 4096n)).toBe(0);
    expect(e.read(4096n, 0n, 8192n)).toBe(1);
    expect(fake.log.at(-1)).toMatchObject({ lba: 257, count: 2, bytes: 8192 });
  });

  it("leaves a disk without 48-bit addresses alone", async () => {
    const { fake, serial } = await bootWith({ noLba48: true });
    expect(serial()).toContain("ahci 0000:00:06.0 port 0: no 48-bit addresses (not supported); not used\n");
    expect(fake.ports[0].cmd).toBe(0);
  });

  it("fails a read the device fails, restarts the port, and goes on with the next", async () => {
    const { e, fake, serial, open } = await bootWith({ failLba: 2048 });
    open("alpha");
    expect(e.read(0n, 0n, 512n)).toBe(0);
    expect(serial()).toContain(
      "[warn ] ahci 0000:00:06.0 port 0: read of 1 sectors at LBA 2048 failed: status 0x41, error 0x40\n",
    );
    expect(e.read(512n, 0n, 512n)).toBe(1);
    expect(fake.violations).toEqual([]);
  });

  // `count` reads of 4 KiB each, request i from offset 4096 * i of alpha
  // into guest address 0x1_0000 + 0x2000 * i, begun as one batch: the
  // failed requests' bits.
  function readBatch(e: Exports<AhciExports>, count: number): bigint {
    for (let i = 0; i < count; i++) {
      e.clearPieces();
      expect(e.addPiece(0x1_0000n + 0x2000n * BigInt(i), 4096n)).toBe(1);
      e.beginPieces(4096n * BigInt(i), 0, i);
    }
    return e.finishBatch();
  }
  const readRight = (phys: PhysMemory, fake: FakeAhci, i: number) =>
    phys.readBytes(GUEST_HPA + 0x1_0000n + 0x2000n * BigInt(i), 4096).every((b, k) =>
      b === fake.disk[PART + 4096 * i + k]
    );

  it("queues reads and writes with NCQ: 31 in flight, each tagged with its slot, ended in any order", async () => {
    const { e, fake, phys, serial, open } = await bootWith({ ncq: true });
    expect(serial()).toContain("4096 KiB, 512-byte sectors, 31 queued commands, GPT with 2 partitions\n");
    open("alpha");
    fake.disk.fill(0x3c, PART, PART + 64 * 4096);
    for (let i = 0; i < 40; i++) fake.disk[PART + 4096 * i] = i;
    const before = fake.log.length;
    expect(readBatch(e, 40)).toBe(0n);
    const queued = fake.log.slice(before);
    expect(queued.every((c) => c.command === 0x60 && c.slot >= 1 && c.count === c.slot << 3)).toBe(true);
    expect(queued.map((c) => c.lba)).toEqual(Array.from({ length: 40 }, (_, i) => 2048 + 8 * i));
    expect(fake.mostQueued).toBe(31);
    expect(Array.from({ length: 40 }, (_, i) => readRight(phys, fake, i))).toEqual(Array(40).fill(true));
    // Writes the same way; a flush after them is not queued.
    phys.fill(GUEST_HPA, 0x1_0000, 0x77);
    for (let i = 0; i < 4; i++) {
      e.clearPieces();
      e.addPiece(0x4000n * BigInt(i), 0x4000n);
      e.beginPieces(0x4000n * BigInt(i), 1, i);
    }
    expect(e.finishBatch()).toBe(0n);
    expect(fake.log.at(-1)).toMatchObject({ command: 0x61, features: 32 });
    expect(fake.disk.slice(PART, PART + 0x1_0000).every((b) => b === 0x77)).toBe(true);
    expect(e.flushDisk()).toBe(1);
    expect(fake.log.at(-1)).toMatchObject({ command: 0xea, slot: 0 });
    expect(fake.violations).toEqual([]);
  });

  it("leaves queued commands running: a poll credits those ended, and a flush waits for the rest", async () => {
    const { e, fake, open } = await bootWith({ ncq: true });
    open("alpha");
    const begin = (i: number, write: number) => {
      e.clearPieces();
      expect(e.addPiece(0x1_0000n + 0x2000n * BigInt(i), 4096n)).toBe(1);
      expect(e.beginPieces(4096n * BigInt(i), write, i)).toBe(1);
    };
    for (let i = 0; i < 3; i++) begin(i, 0);
    // The fake device ends one queued command each time PxSACT is read.
    expect(e.pollBatch()).toBe(2);
    expect(e.pollBatch()).toBe(1);
    for (let i = 3; i < 6; i++) begin(i, 1);
    expect(e.flushDisk()).toBe(1);
    expect(fake.log.at(-1)).toMatchObject({ command: 0xea, slot: 0 });
    expect(e.pollBatch()).toBe(0);
    expect(e.finishBatch()).toBe(0n);
    expect(fake.violations).toEqual([]);
  });

  it("fails only the request whose queued read failed, and issues the others again", async () => {
    const { e, fake, phys, serial, open } = await bootWith({ ncq: true, failLba: 2048 + 8 });
    open("alpha");
    expect(readBatch(e, 4)).toBe(0b10n);
    expect(serial()).toContain("[warn ] ahci 0000:00:06.0 port 0: a queued command failed: status 0x41, error 0x40\n");
    expect(serial()).toContain("port 0: it was the queued read of 8 sectors at LBA 2056; the others go again\n");
    expect([0, 2, 3].map((i) => readRight(phys, fake, i))).toEqual([true, true, true]);
    expect(fake.log.filter((c) => c.command === 0x2f)).toHaveLength(1);
    // The port goes on.
    expect(e.read(65536n, 0n, 4096n)).toBe(1);
    expect(fake.violations).toEqual([]);
  });

  it("fails every unfinished request when the NCQ error log cannot say which failed", async () => {
    const { e, fake, serial, open } = await bootWith({ ncq: true, failLba: 2048 + 8, ncqLog: false });
    open("alpha");
    expect(readBatch(e, 4)).toBe(0b1111n);
    expect(serial()).toContain("port 0: read of log 10h failed: status 0x41, error 0x4\n");
    expect(serial()).not.toContain("the others go again");
    expect(fake.violations).toEqual([]);
  });

  it("gives a port up when a command never completes: one line, the port stopped, nothing more sent", async () => {
    const { e, fake, serial, open } = await bootWith({ hangOnIo: true });
    expect(serial()).toContain(
      "[error] ahci 0000:00:06.0 port 0: read of 1 sectors at LBA 1: no completion within 10000 ms; "
        + "the port is not used\n",
    );
    expect(fake.ports[0].cmd & 0xc011).toBe(0);
    const sent = fake.log.length;
    expect(open("alpha")).toBe(false);
    expect(fake.log.length).toBe(sent);
  });
});
