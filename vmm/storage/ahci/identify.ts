// What IDENTIFY DEVICE returns: 256 little-endian words (ATA8-ACS,
// IDENTIFY DEVICE data; ACS-2 for the TRIM words 69, 105 and 169). A pure
// function over bytes, so unit tests can feed it made-up structures.

import { asciiField } from "../ascii";
import { readLittleEndian } from "../littleendian";

const SERIAL_WORD: i32 = 10, SERIAL_WORDS: i32 = 10;
const MODEL_WORD: i32 = 27, MODEL_WORDS: i32 = 20;
const ADDITIONAL_SUPPORTED: i32 = 69; // bit 14: DRAT, bit 5: RZAT
const DRAT: u64 = 1 << 14, RZAT: u64 = 1 << 5;
const COMMAND_SETS_SUPPORTED: i32 = 83; // bit 10: the 48-bit Address feature set
const ADDRESS_48: u64 = 1 << 10;
const SECTORS_48: i32 = 100; // words 100-103: user addressable sectors with 48-bit addresses
const MAX_DSM_BLOCKS: i32 = 105;
const SECTOR_SIZES: i32 = 106; // bits 15-14 = 01b: valid; bit 12: words 117-118 give the logical sector
const SECTOR_SIZES_VALID: u64 = 1 << 14, SECTOR_SIZES_MASK: u64 = 3 << 14, LONG_LOGICAL: u64 = 1 << 12;
const LOGICAL_SECTOR_WORDS: i32 = 117;
const DSM_SUPPORT: i32 = 169; // bit 0: TRIM
// Serial ATA words (SATA 3.x, 13.2.1): the queue depth less one in bits
// 4-0 of word 75, and native command queuing in bit 8 of word 76.
const QUEUE_DEPTH: i32 = 75, SATA_CAPABILITIES: i32 = 76;
const QUEUE_DEPTH_MASK: u64 = 0x1f, NCQ_SUPPORTED: u64 = 1 << 8;
const TRIM_SUPPORTED: u64 = 1;

export class AtaIdentity {
  constructor(
    readonly model: string,
    readonly serial: string,
    // Whether it takes 48-bit LBAs (the EXT commands).
    readonly lba48: bool,
    readonly sectors: u64,
    readonly sectorSize: u32, // bytes per logical sector
    // TRIM, and trimmed sectors then read as zeroes (DRAT and RZAT).
    readonly trimZeroes: bool,
    // The most 512-byte blocks of LBA range entries one DATA SET MANAGEMENT takes (at least 1).
    readonly maxTrimBlocks: u32,
    // How many queued commands it takes at once, tags 0 to this less one; 0 without NCQ.
    readonly queueDepth: u32,
  ) {}
}

export function parseIdentify(b: Uint8Array): AtaIdentity {
  const sizes = word(b, SECTOR_SIZES);
  const long = (sizes & SECTOR_SIZES_MASK) == SECTOR_SIZES_VALID && (sizes & LONG_LOGICAL) != 0;
  const trim = (word(b, DSM_SUPPORT) & TRIM_SUPPORTED) != 0;
  const zeroes = (word(b, ADDITIONAL_SUPPORTED) & (DRAT | RZAT)) == (DRAT | RZAT);
  return new AtaIdentity(
    ataString(b, MODEL_WORD, MODEL_WORDS),
    ataString(b, SERIAL_WORD, SERIAL_WORDS),
    (word(b, COMMAND_SETS_SUPPORTED) & ADDRESS_48) != 0,
    readLittleEndian(b, 2 * SECTORS_48, 8),
    long ? <u32>readLittleEndian(b, 2 * LOGICAL_SECTOR_WORDS, 4) * 2 : 512,
    trim && zeroes,
    max<u32>(1, <u32>word(b, MAX_DSM_BLOCKS)),
    (word(b, SATA_CAPABILITIES) & NCQ_SUPPORTED) != 0 ? <u32>(word(b, QUEUE_DEPTH) & QUEUE_DEPTH_MASK) + 1 : 0,
  );
}

// An ATA string: two characters a word, the first in the word's high byte.
function ataString(b: Uint8Array, word: i32, words: i32): string {
  const swapped = new Uint8Array(2 * words);
  for (let i = 0; i < words; i++) {
    swapped[2 * i] = b[2 * (word + i) + 1];
    swapped[2 * i + 1] = b[2 * (word + i)];
  }
  return asciiField(swapped, 0, 2 * words);
}

function word(b: Uint8Array, i: i32): u64 {
  return readLittleEndian(b, 2 * i, 2);
}
