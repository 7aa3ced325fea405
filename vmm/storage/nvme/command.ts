// NVMe commands as the controller reads them from a submission queue: 64
// bytes, sixteen little-endian dwords (NVM Express Base Specification 1.4,
// 4.2 "Submission Queue Entry"). Dword 0 holds the opcode (bits 7-0) and
// the command identifier (31-16), dword 1 the namespace, dwords 6-9 the
// data pointer (two PRP entries, 4.3), dwords 10-15 the command's own
// fields. The builders below fill a Command and touch nothing else, so
// that unit tests can read what the controller would; the queue
// (queue.ts) stamps the identifier and copies the entry into its ring.

// Opcodes of the admin command set (5) and of the NVM command set (6),
// which share numbers: a queue's set decides.
export const enum AdminOpcode {
  CreateIoSubmissionQueue = 0x01,
  CreateIoCompletionQueue = 0x05,
  Identify = 0x06,
  SetFeatures = 0x09,
}
export const enum IoOpcode {
  Flush = 0x00,
  Write = 0x01,
  Read = 0x02,
  WriteZeroes = 0x08,
}

// What an Identify command returns: its CNS field (5.15).
export const enum IdentifyWhat {
  Namespace = 0x00,
  Controller = 0x01,
  ActiveNamespaces = 0x02,
}

const NUMBER_OF_QUEUES: u32 = 0x07; // the feature (5.21.1.7)
const PHYSICALLY_CONTIGUOUS: u32 = 1; // CDW11 bit 0 of both queue creations
const DEALLOCATE: u32 = 1 << 25; // Write Zeroes CDW12: DEAC

export class Command {
  readonly dwords: StaticArray<u32> = new StaticArray<u32>(16);

  get opcode(): u8 {
    return <u8>this.dwords[0];
  }
  get nsid(): u32 {
    return this.dwords[1];
  }
  get prp1(): u64 {
    return this.pair(6);
  }
  get prp2(): u64 {
    return this.pair(8);
  }
  set prp1(v: u64) {
    this.setPair(6, v);
  }
  set prp2(v: u64) {
    this.setPair(8, v);
  }
  // A read's or write's starting LBA (CDW10-11) and block count (CDW12 15:0, 0-based).
  get lba(): u64 {
    return this.pair(10);
  }
  get blocks(): u32 {
    return (this.dwords[12] & 0xffff) + 1;
  }

  // A fresh command: every field zero but the opcode and the namespace.
  begin(opcode: u32, nsid: u32): Command {
    this.dwords.fill(0);
    this.dwords[0] = opcode;
    this.dwords[1] = nsid;
    return this;
  }

  set identifier(id: u16) {
    this.dwords[0] = (this.dwords[0] & 0xffff) | (<u32>id << 16);
  }

  private pair(i: i32): u64 {
    return <u64>this.dwords[i] | (<u64>this.dwords[i + 1] << 32);
  }
  private setPair(i: i32, v: u64): void {
    this.dwords[i] = <u32>v;
    this.dwords[i + 1] = <u32>(v >> 32);
  }
}

// Identify (5.15): a 4 KiB structure into the page at PRP1.
export function identify(c: Command, what: IdentifyWhat, nsid: u32): void {
  c.begin(AdminOpcode.Identify, nsid).dwords[10] = <u32>what;
}

// Set Features, Number of Queues (5.21.1.7): `pairs` I/O submission and
// completion queues, both 0-based in CDW11.
export function setQueueCount(c: Command, pairs: u32): void {
  c.begin(AdminOpcode.SetFeatures, 0);
  c.dwords[10] = NUMBER_OF_QUEUES;
  c.dwords[11] = ((pairs - 1) << 16) | (pairs - 1);
}

// Create I/O Completion Queue (5.3): `entries` at `phys`, physically
// contiguous, interrupts off (IEN, CDW11 bit 1, clear): the driver polls.
export function createCompletionQueue(c: Command, id: u16, entries: u32, phys: u64): void {
  c.begin(AdminOpcode.CreateIoCompletionQueue, 0).prp1 = phys;
  c.dwords[10] = ((entries - 1) << 16) | <u32>id;
  c.dwords[11] = PHYSICALLY_CONTIGUOUS;
}

// Create I/O Submission Queue (5.4): completions go to queue `completions`.
export function createSubmissionQueue(c: Command, id: u16, entries: u32, phys: u64, completions: u16): void {
  c.begin(AdminOpcode.CreateIoSubmissionQueue, 0).prp1 = phys;
  c.dwords[10] = ((entries - 1) << 16) | <u32>id;
  c.dwords[11] = (<u32>completions << 16) | PHYSICALLY_CONTIGUOUS;
}

// Read or Write (6, "Read command", "Write command") of `blocks` (1 to 65536) from `lba`; the
// caller sets the data pointer.
export function readWrite(c: Command, write: bool, nsid: u32, lba: u64, blocks: u32): void {
  c.begin(write ? IoOpcode.Write : IoOpcode.Read, nsid);
  blockRange(c, lba, blocks);
}

// Write Zeroes (6, "Write Zeroes command"): the blocks read as zeroes afterwards; with
// `deallocate`, the controller may also free them (DEAC).
export function writeZeroes(c: Command, nsid: u32, lba: u64, blocks: u32, deallocate: bool): void {
  c.begin(IoOpcode.WriteZeroes, nsid);
  blockRange(c, lba, blocks);
  if (deallocate) c.dwords[12] |= DEALLOCATE;
}

// Flush (6, "Flush command"): what was written is on non-volatile media.
export function flush(c: Command, nsid: u32): void {
  c.begin(IoOpcode.Flush, nsid);
}

// SLBA in CDW10-11, NLB (0-based) in CDW12 bits 15-0.
function blockRange(c: Command, lba: u64, blocks: u32): void {
  c.dwords[10] = <u32>lba;
  c.dwords[11] = <u32>(lba >> 32);
  c.dwords[12] = (blocks - 1) & 0xffff;
}
