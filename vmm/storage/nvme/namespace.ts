// A namespace of an NVMe controller: a run of logical blocks the driver
// reads and writes (NVM Express Base Specification 1.4, 6 "NVM Command
// Set"), as a BlockDevice. Transfers go straight between the namespace and
// host-physical memory, a guest's RAM or the driver's buffer, in commands
// of at most the controller's largest transfer, each naming as many of the
// request's pieces as its PRP list can (prp.ts).
//
// Only the formats a 512-byte sector maps onto simply are used: blocks of
// 512 or 4096 bytes, with no metadata (whose separate buffer the commands
// would have to point at too). A namespace in any other format is
// reported and left alone.

import * as log from "../../../kernel/console/log";
import { BlockDevice } from "../blockdevice";
import { IoBatch } from "../iobatch";
import { Segments } from "../segments";
import { flush, readWrite, writeZeroes } from "./command";
import { NvmeController } from "./controller";
import { NamespaceFormat } from "./identify";
import { prpAligned } from "./prp";

// The NLB field is 16 bits, 0-based (6, "Read command").
const MAX_BLOCKS_PER_COMMAND: u64 = 0x1_0000;

export class NvmeNamespace extends BlockDevice {
  constructor(readonly controller: NvmeController, readonly id: u32, readonly format: NamespaceFormat) {
    super();
  }

  get blockSize(): u64 {
    return this.format.blockSize;
  }
  get blocks(): u64 {
    return this.format.blocks;
  }
  get kind(): string {
    return "NVMe";
  }
  get title(): string {
    const c = this.controller, id = c.identity!;
    return c.name + ": " + id.model + ", serial " + id.serial + ", namespace " + this.id.toString() + ": ";
  }
  get unit(): string {
    return "blocks";
  }
  get buffer(): usize {
    return this.controller.buffer;
  }
  get bufferPhys(): u64 {
    return this.controller.bufferPhys;
  }

  // PRP entries hold dword-aligned addresses (prp.ts); any address is in reach.
  addressable(phys: u64, length: u64): bool {
    return prpAligned(phys);
  }

  protected get hasRoom(): bool {
    return this.controller.hasRoom;
  }

  protected cover(data: Segments): u64 {
    return this.controller.describe(data, MAX_BLOCKS_PER_COMMAND * this.blockSize, this.blockSize);
  }

  protected start(lba: u64, blocks: u64, write: bool, batch: IoBatch, tag: i32): bool {
    const c = this.controller;
    readWrite(c.next, write, this.id, lba, <u32>blocks);
    return c.startIo(true, batch, tag);
  }

  protected reap(wait: bool): void {
    this.controller.reapIo(wait);
  }

  // With Write Zeroes, deallocating the blocks if the namespace can say
  // they read as zeroes then; false if the controller has no Write Zeroes.
  zero(lba: u64, count: u64): bool {
    const c = this.controller;
    if (!c.identity!.writeZeroes) return false;
    for (let done: u64 = 0; done < count;) {
      const n = min(MAX_BLOCKS_PER_COMMAND, count - done);
      writeZeroes(c.next, this.id, lba + done, <u32>n, this.format.zeroesDeallocate);
      if (!this.runAlone()) return false;
      done += n;
    }
    return true;
  }

  flush(): bool {
    flush(this.controller.next, this.id);
    return this.runAlone();
  }

  // Runs the controller's next I/O command, which has no data, and waits for it.
  private runAlone(): bool {
    return this.controller.startIo(false, this.own, 0) && this.finish(this.own) == 0;
  }
}

// The controller's namespaces in a format this driver uses; the others,
// and the ones it could not identify, are logged and left out.
export function openNamespaces(c: NvmeController): NvmeNamespace[] {
  const out: NvmeNamespace[] = [];
  const ids = c.namespaceIds();
  for (let i = 0; i < ids.length; i++) {
    const format = c.identifyNamespace(ids[i]);
    if (format === null || format.blocks == 0) continue; // failed (logged), or inactive
    const problem = formatProblem(format);
    if (problem !== null) log.warn(c.name + ": namespace " + ids[i].toString() + ": " + problem + "; not used");
    else out.push(new NvmeNamespace(c, ids[i], format));
  }
  return out;
}

function formatProblem(f: NamespaceFormat): string | null {
  if (f.blockSize != 512 && f.blockSize != 4096) {
    return f.blockSize.toString() + "-byte blocks (only 512 and 4096 are supported)";
  }
  if (f.metadataBytes != 0) return f.metadataBytes.toString() + " bytes of metadata per block (not supported)";
  return null;
}
