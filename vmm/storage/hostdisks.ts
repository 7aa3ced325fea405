// The host's disks and their partitions, found once at boot, for the VM
// configuration to name as disks.
//
// scanHostDisks() lists the PCI functions, starts every NVMe controller
// (class 01h, subclass 08h, interface 02h) whose registers it can reach
// (mapping them if the firmware put them above 4 GiB), reads the GPT of
// each namespace and remembers every partition: one log line per namespace
// and one per partition. The scan only reads; nothing is written to any
// disk until a VM that names a partition writes to it, so partitions no VM
// names are never touched. A controller or a table that fails is logged
// and contributes nothing; the hypervisor runs on without it.
//
// A partition is named by its GPT name (exact) or its unique GUID (in any
// case); a name that several partitions carry names none of them. A
// partition is at most one VM's disk (claimPartition()).

import { linearBase } from "../../kernel/arch/shim";
import * as log from "../../kernel/console/log";
import { UNCACHED } from "../../kernel/mm/hostpaging";
import { hostMemory } from "../../kernel/mm/memory";
import { alignDown, alignUp, PAGE_SIZE } from "../../kernel/mm/range";
import { Bar, BUS_MASTER, INTX_DISABLE, MEMORY_SPACE, PciFunction, scanPci } from "../../kernel/pci/functions";
import { DiskBacking } from "./backing";
import { GptPartition, parseGptHeader, parsePartitions } from "./gpt";
import { NvmeController } from "./nvme/controller";
import { NvmeNamespace, openNamespaces } from "./nvme/namespace";
import { NvmePartition } from "./nvme/partition";

const NVME_CLASS: u32 = 0x01_08_02;
// The host page tables map device memory below 4 GiB (kernel/mm/hostpaging.ts).
const DEVICE_MEMORY_END: u64 = 1 << 32;

class HostPartition {
  // The VM whose disk it is, or "".
  owner: string = "";

  constructor(readonly namespace: NvmeNamespace, readonly gpt: GptPartition) {}

  answersTo(nameOrGuid: string): bool {
    return this.gpt.name == nameOrGuid || this.gpt.guid == nameOrGuid.toUpperCase();
  }
}

// A global, so that the garbage collector, which sees only what globals
// reach, keeps the partitions and through them their namespaces and controllers.
const partitions: HostPartition[] = [];

export function scanHostDisks(): void {
  const functions = scanPci();
  for (let i = 0; i < functions.length; i++) {
    if (functions[i].classCode != NVME_CLASS) continue;
    const c = controllerAt(functions[i]);
    if (c === null || !c.start()) continue;
    const namespaces = openNamespaces(c);
    const id = c.identity!;
    const about = c.name + ": " + id.model + ", serial " + id.serial;
    if (namespaces.length == 0 && c.failure === null) log.info(about + ", no namespace in use");
    for (let j = 0; j < namespaces.length; j++) scanNamespace(about, namespaces[j]);
  }
}

// The partition named `nameOrGuid` as `owner`'s disk, read-only or not;
// null, with `claimError` saying why, if no partition or several answer to
// the name, or another VM has it already (by whatever name it used).
export function claimPartition(nameOrGuid: string, readOnly: bool, owner: string): DiskBacking | null {
  let found: HostPartition | null = null, matches = 0;
  for (let i = 0; i < partitions.length; i++) {
    if (partitions[i].answersTo(nameOrGuid)) {
      found = partitions[i];
      matches++;
    }
  }
  if (matches == 0) return refuseClaim("no host disk has a partition named " + nameOrGuid);
  if (matches > 1) return refuseClaim(matches.toString() + " partitions are named " + nameOrGuid + "; name it by GUID");
  const p = found!;
  if (p.owner.length > 0) return refuseClaim("partition " + nameOrGuid + " is already a disk of " + p.owner);
  p.owner = owner;
  return new NvmePartition(p.namespace, p.gpt, readOnly);
}

// Why the last claimPartition() failed.
export let claimError: string = "";

function refuseClaim(why: string): DiskBacking | null {
  claimError = why;
  return null;
}

// The controller at `f`, memory decoding and bus mastering on and INTx off
// (the driver polls), or null if its registers are out of reach (logged).
function controllerAt(f: PciFunction): NvmeController | null {
  const bars = f.bars();
  const name = "nvme " + f.name;
  if (bars.length == 0 || bars[0].index != 0 || bars[0].io) {
    log.warn(name + ": BAR0 holds no memory address; controller skipped");
    return null;
  }
  if (bars[0].address >= DEVICE_MEMORY_END && !mapRegisters(f, bars[0], name)) return null;
  f.command(MEMORY_SPACE | BUS_MASTER | INTX_DISABLE, 0);
  return new NvmeController(f, bars[0].address);
}

// Maps a BAR that the firmware put above 4 GiB (OVMF does), where the host
// tables map only RAM, uncached like the PCI hole below; false (logged) if
// it reaches the hypervisor's own window at linearBase().
function mapRegisters(f: PciFunction, bar: Bar, name: string): bool {
  const start = alignDown(bar.address, PAGE_SIZE), end = alignUp(bar.address + f.memoryBarSize(bar), PAGE_SIZE);
  if (end > linearBase()) {
    log.warn(name + ": registers at " + log.hex(bar.address) + ", beyond what the host can map; controller skipped");
    return false;
  }
  hostMemory!.hostTable.map(start, start, end - start, UNCACHED);
  log.debug(name + ": registers at " + log.hex(bar.address) + " mapped uncached, " + log.size(end - start));
  return true;
}

// Reads the namespace's GPT and keeps its partitions.
function scanNamespace(about: string, ns: NvmeNamespace): void {
  const line = about + ", namespace " + ns.id.toString() + ": " + log.size(ns.bytes) + ", "
    + ns.blockSize.toString() + "-byte blocks, ";
  const block = new Uint8Array(<i32>ns.blockSize);
  if (ns.blocks < 2 || !ns.readInto(1, block)) {
    log.info(line + (ns.blocks < 2 ? "too small for a GPT" : "LBA 1 unreadable"));
    return;
  }
  const header = parseGptHeader(block, ns.blocks);
  let found: GptPartition[] | null = null;
  if (header.problem === null) {
    const size = ns.blockSize, bytes = (header.entryBytes + size - 1) / size * size;
    const entries = new Uint8Array(<i32>bytes);
    if (ns.readInto(header.entriesLba, entries)) found = parsePartitions(header, entries);
    else header.problem = "GPT partition entries unreadable";
  }
  if (found === null) {
    log.info(line + header.problem!);
    return;
  }
  log.info(line + "GPT with " + found.length.toString() + (found.length == 1 ? " partition" : " partitions"));
  for (let i = 0; i < found.length; i++) {
    const p = found[i];
    partitions.push(new HostPartition(ns, p));
    log.info(
      "  partition " + p.index.toString() + " \"" + p.name + "\" " + p.guid + ": " + log.size(p.blocks * ns.blockSize)
        + " at LBA " + p.firstLba.toString(),
    );
  }
}
