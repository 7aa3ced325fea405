// The host's disks and their partitions, found once at boot, for the VM
// configuration to name as disks.
//
// scanHostDisks() goes through the host's PCI functions, starts every NVMe controller
// (class 01h, subclass 08h, interface 02h) and every AHCI controller
// (class 01h, subclass 06h, interface 01h) whose registers it can reach
// (mapping them if the firmware put them above 4 GiB), reads the GPT of
// each disk (an NVMe namespace, a SATA disk on an AHCI port) and remembers
// every partition: one log line per disk and one per partition. The scan only reads; nothing is written to any
// disk until a VM that names a partition writes to it, so partitions no VM
// names are never touched. A controller or a table that fails is logged
// and contributes nothing; the hypervisor runs on without it.
//
// A partition is named by its GPT name (exact) or its unique GUID (in any
// case); a name that several partitions carry names none of them. A
// partition is at most one VM's disk (claimPartition()); the VMs using
// partitions of one disk share it through the disk's one arbiter
// (diskarbiter.ts). A partition holding a kernel or initrd image is read,
// never written, so any number of VMs may boot from it
// (claimBootPartition()); but while it is a VM's disk none may, and while
// some VM boots from it, it is no VM's disk, whose writes would change the
// image under them.

import * as log from "../../kernel/console/log";
import { driverRegisters } from "../../kernel/pci/driverregisters";
import { PciFunction } from "../../kernel/pci/functions";
import { AHCI_BAR, AhciController } from "./ahci/controller";
import { BlockDevice } from "./blockdevice";
import { DiskArbiter } from "./diskarbiter";
import { GptPartition, parseGptHeader, parsePartitions } from "./gpt";
import { NvmeController } from "./nvme/controller";
import { openNamespaces } from "./nvme/namespace";
import { PartitionDisk } from "./partition";

const NVME_CLASS: u32 = 0x01_08_02, AHCI_CLASS: u32 = 0x01_06_01;
const NVME_BAR: i32 = 0; // an NVMe controller's registers: BAR0, with BAR1 its upper half

class HostPartition {
  // The VM whose disk it is, or "".
  owner: string = "";
  // The VMs that boot from it ("vm a"), once for each image.
  bootOwners: string[] = [];

  constructor(readonly device: BlockDevice, readonly gpt: GptPartition, readonly arbiter: DiskArbiter) {}

  answersTo(nameOrGuid: string): bool {
    return this.gpt.name == nameOrGuid || this.gpt.guid == nameOrGuid.toUpperCase();
  }
}

// A global, so that the garbage collector, which sees only what globals
// reach, keeps the partitions and through them their disks and controllers.
const partitions: HostPartition[] = [];

// `functions`: the host's PCI functions (scanPci()).
export function scanHostDisks(functions: PciFunction[]): void {
  for (let i = 0; i < functions.length; i++) {
    const f = functions[i];
    if (f.classCode == NVME_CLASS) scanNvme(f);
    else if (f.classCode == AHCI_CLASS) scanAhci(f);
  }
}

// The namespaces of the NVMe controller at `f` that it can use, each scanned.
function scanNvme(f: PciFunction): void {
  const name = "nvme " + f.name, registers = driverRegisters(f, NVME_BAR, name);
  if (registers == 0) return;
  const c = new NvmeController(f, registers);
  if (!c.start()) return;
  const namespaces = openNamespaces(c);
  const id = c.identity!;
  if (namespaces.length == 0 && c.failure === null) {
    log.info(name + ": " + id.model + ", serial " + id.serial + ", no namespace in use");
  }
  for (let i = 0; i < namespaces.length; i++) scanDisk(namespaces[i]);
}

// The ATA disks on the ports of the AHCI controller at `f`, each scanned as it is opened.
function scanAhci(f: PciFunction): void {
  const name = "ahci " + f.name, registers = driverRegisters(f, AHCI_BAR, name);
  if (registers != 0) new AhciController(f, registers).start(scanDisk);
}

// The partition named `nameOrGuid` as `owner`'s disk, read-only or not;
// null, with `claimError` saying why, if no partition or several answer to
// the name, or another VM has it already (by whatever name it used).
export function claimPartition(nameOrGuid: string, readOnly: bool, owner: string): PartitionDisk | null {
  const p = findPartition(nameOrGuid);
  if (p === null) return null;
  if (p.owner.length > 0) return refuseClaim("partition " + nameOrGuid + " is already a disk of " + p.owner);
  if (p.bootOwners.length > 0) {
    return refuseClaim("partition " + nameOrGuid + " holds a boot image of " + p.bootOwners[0]);
  }
  p.owner = owner;
  return new PartitionDisk(p.device, p.gpt, readOnly, p.arbiter);
}

// The partition named `nameOrGuid`, read-only, as an image `owner` boots
// from; null, with `claimError`, if none or several answer to the name or
// it is a VM's disk.
export function claimBootPartition(nameOrGuid: string, owner: string): PartitionDisk | null {
  const p = findPartition(nameOrGuid);
  if (p === null) return null;
  if (p.owner.length > 0) return refuseClaim("partition " + nameOrGuid + " is a disk of " + p.owner);
  p.bootOwners.push(owner);
  return new PartitionDisk(p.device, p.gpt, true, p.arbiter);
}

// `disk`'s partition is no VM's disk any more (its VM was destroyed).
export function releasePartition(disk: PartitionDisk): void {
  for (let i = 0; i < partitions.length; i++) {
    if (partitions[i].gpt === disk.partition) partitions[i].owner = "";
  }
}

// `owner` boots from `disk`'s partition no more, for one image (its VM
// was destroyed, or not made).
export function releaseBootPartition(disk: PartitionDisk, owner: string): void {
  for (let i = 0; i < partitions.length; i++) {
    const owners = partitions[i].bootOwners;
    if (partitions[i].gpt === disk.partition && owners.includes(owner)) owners.splice(owners.indexOf(owner), 1);
  }
}

// The one partition that answers to `nameOrGuid`; null, with `claimError`, if none or several do.
function findPartition(nameOrGuid: string): HostPartition | null {
  let found: HostPartition | null = null, matches = 0;
  for (let i = 0; i < partitions.length; i++) {
    if (partitions[i].answersTo(nameOrGuid)) {
      found = partitions[i];
      matches++;
    }
  }
  if (matches == 0) return refuseHost("no host disk has a partition named " + nameOrGuid);
  if (matches > 1) return refuseHost(matches.toString() + " partitions are named " + nameOrGuid + "; name it by GUID");
  return found;
}

// Why the last claimPartition() failed.
export let claimError: string = "";

function refuseClaim(why: string): PartitionDisk | null {
  claimError = why;
  return null;
}

function refuseHost(why: string): HostPartition | null {
  claimError = why;
  return null;
}

// Reads the disk's GPT and keeps its partitions.
function scanDisk(disk: BlockDevice): void {
  const line = disk.describe() + ", ";
  const block = new Uint8Array(<i32>disk.blockSize);
  if (disk.blocks < 2 || !disk.readInto(1, block)) {
    log.info(line + (disk.blocks < 2 ? "too small for a GPT" : "LBA 1 unreadable"));
    return;
  }
  const header = parseGptHeader(block, disk.blocks);
  let found: GptPartition[] | null = null;
  if (header.problem === null) {
    const size = disk.blockSize, bytes = (header.entryBytes + size - 1) / size * size;
    const entries = new Uint8Array(<i32>bytes);
    if (disk.readInto(header.entriesLba, entries)) found = parsePartitions(header, entries);
    else header.problem = "GPT partition entries unreadable";
  }
  if (found === null) {
    log.info(line + header.problem!);
    return;
  }
  log.info(line + "GPT with " + found.length.toString() + (found.length == 1 ? " partition" : " partitions"));
  const arbiter = new DiskArbiter();
  for (let i = 0; i < found.length; i++) {
    const p = found[i];
    partitions.push(new HostPartition(disk, p, arbiter));
    log.info(
      "  partition " + p.index.toString() + " \"" + p.name + "\" " + p.guid + ": " + log.size(p.blocks * disk.blockSize)
        + " at LBA " + p.firstLba.toString(),
    );
  }
}
