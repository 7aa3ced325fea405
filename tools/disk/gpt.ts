// GUID Partition Tables made in JavaScript, byte by byte (UEFI 2.10, 5.2.3
// the protective MBR, 5.3.2 the header, 5.3.3 the entries), for the GPT
// parser's unit tests, the NVMe system tests' disk images and make run's
// VM disks (image.ts). Kept apart
// from the kernel's parser (vmm/storage/gpt.ts), so each checks the other.

export interface PartitionSpec {
  name: string;
  typeGuid: string;
  guid: string;
  firstLba: number;
  lastLba: number; // inclusive
}

export interface GptSpec {
  blockSize: number;
  blocks: number;
  partitions: PartitionSpec[];
  diskGuid?: string;
  entryCount?: number; // default 128
  entrySize?: number; // default 128
}

// A block's worth of bytes to put at `lba`.
export interface Write {
  lba: number;
  bytes: Uint8Array;
}

export const LINUX_DATA = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";

export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

// The 16 stored bytes of a GUID's text form: the first three fields little-endian.
export function guidBytes(text: string): Uint8Array {
  const hex = text.replace(/-/g, "");
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`not a GUID: ${text}`);
  const raw = Buffer.from(hex, "hex");
  return new Uint8Array([
    ...raw.subarray(0, 4).reverse(),
    ...raw.subarray(4, 6).reverse(),
    ...raw.subarray(6, 8).reverse(),
    ...raw.subarray(8),
  ]);
}

export function entryArray(spec: GptSpec): Uint8Array {
  const count = spec.entryCount ?? 128, size = spec.entrySize ?? 128;
  const entries = new Uint8Array(count * size);
  const view = new DataView(entries.buffer);
  spec.partitions.forEach((p, i) => {
    const at = i * size;
    entries.set(guidBytes(p.typeGuid), at);
    entries.set(guidBytes(p.guid), at + 16);
    view.setBigUint64(at + 32, BigInt(p.firstLba), true);
    view.setBigUint64(at + 40, BigInt(p.lastLba), true);
    [...p.name].forEach((_, k) => view.setUint16(at + 56 + 2 * k, p.name.charCodeAt(k), true));
  });
  return entries;
}

// The header for the copy at `myLba`, its entries at `entriesLba`; one block.
export function header(spec: GptSpec, entries: Uint8Array, myLba: number, entriesLba: number): Uint8Array {
  const block = new Uint8Array(spec.blockSize);
  const view = new DataView(block.buffer);
  const entryBlocks = Math.ceil(entries.length / spec.blockSize);
  block.set(Buffer.from("EFI PART", "ascii"), 0);
  view.setUint32(8, 0x0001_0000, true);
  view.setUint32(12, 92, true);
  view.setBigUint64(24, BigInt(myLba), true);
  view.setBigUint64(32, BigInt(myLba === 1 ? spec.blocks - 1 : 1), true);
  view.setBigUint64(40, BigInt(2 + entryBlocks), true);
  view.setBigUint64(48, BigInt(spec.blocks - 2 - entryBlocks), true);
  block.set(guidBytes(spec.diskGuid ?? "5E3A1C2B-0000-4000-8000-0000000000D1"), 56);
  view.setBigUint64(72, BigInt(entriesLba), true);
  view.setUint32(80, spec.entryCount ?? 128, true);
  view.setUint32(84, spec.entrySize ?? 128, true);
  view.setUint32(88, crc32(entries), true);
  view.setUint32(16, crc32(block.subarray(0, 92)), true);
  return block;
}

// LBA 0: a protective MBR, one partition of type EEh over the whole disk.
export function protectiveMbr(spec: GptSpec): Uint8Array {
  const block = new Uint8Array(spec.blockSize);
  const view = new DataView(block.buffer);
  block.set([0x00, 0x00, 0x02, 0x00, 0xee, 0xff, 0xff, 0xff], 446);
  view.setUint32(446 + 8, 1, true);
  view.setUint32(446 + 12, Math.min(spec.blocks - 1, 0xffffffff), true);
  block[510] = 0x55;
  block[511] = 0xaa;
  return block;
}

// Everything a disk with this GPT holds outside its partitions: the
// protective MBR, the primary header and entries, the backup entries and header.
export function gptWrites(spec: GptSpec): Write[] {
  const entries = entryArray(spec);
  const entryBlocks = Math.ceil(entries.length / spec.blockSize);
  const backupEntries = spec.blocks - 1 - entryBlocks;
  return [
    { lba: 0, bytes: protectiveMbr(spec) },
    { lba: 1, bytes: header(spec, entries, 1, 2) },
    { lba: 2, bytes: entries },
    { lba: backupEntries, bytes: entries },
    { lba: spec.blocks - 1, bytes: header(spec, entries, spec.blocks - 1, backupEntries) },
  ];
}
