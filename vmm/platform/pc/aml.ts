// AML, the bytecode in which a DSDT describes the ACPI namespace, and the
// resource descriptors a _CRS buffer holds: the few terms the VM's DSDT
// needs (acpitables.ts). Each function returns the bytes of one term, so a
// namespace is written as nested calls that read like its ASL source:
//   scope("\\_SB", [device("PCI0", [name("_HID", eisaId("PNP0A08"))])])
// Sections are those of ACPI 6.5: the AML grammar 20.2, resource
// descriptors 6.4.

// The bytes of an AML term, or of a list of terms.
export type Aml = u8[];

// Opcodes and prefixes (20.2.2, 20.2.3, 20.2.5).
const ZERO_OP: u8 = 0x00;
const ONE_OP: u8 = 0x01;
const NAME_OP: u8 = 0x08;
const BYTE_PREFIX: u8 = 0x0a;
const WORD_PREFIX: u8 = 0x0b;
const DWORD_PREFIX: u8 = 0x0c;
const QWORD_PREFIX: u8 = 0x0e;
const SCOPE_OP: u8 = 0x10;
const BUFFER_OP: u8 = 0x11;
const PACKAGE_OP: u8 = 0x12;
const EXT_OP_PREFIX: u8 = 0x5b;
const DEVICE_OP: u8 = 0x82; // after EXT_OP_PREFIX
const ROOT_CHAR: u8 = 0x5c; // '\'
const NAME_SEG_SIZE = 4;
const NAME_PAD: u8 = 0x5f; // '_'

// Resource descriptor tags (6.4.2 small items, 6.4.3 large items) and fields.
const IO_PORT: u8 = 0x47; // small item 0x08, 7 bytes
const END_TAG: u8 = 0x79; // small item 0x0F, 1 byte
const MEMORY32_FIXED: u8 = 0x86;
const DWORD_ADDRESS_SPACE: u8 = 0x87;
const WORD_ADDRESS_SPACE: u8 = 0x88;
const DECODE_16: u8 = 1; // I/O port descriptor: all 16 address bits decoded
const MEMORY_RANGE: u8 = 0; // address space resource types (6.4.3.5)
const IO_RANGE: u8 = 1;
const BUS_NUMBER_RANGE: u8 = 2;
// General flags: _MIF and _MAF; bit 0 clear, a range the device produces.
const FIXED_RANGE: u8 = (1 << 2) | (1 << 3);
// Type-specific flags (6.4.3.5.5).
const READ_WRITE: u8 = 1; // memory: _RW set, _MEM 0 (non-cacheable)
const ENTIRE_RANGE: u8 = 3; // I/O: _RNG, both ISA and non-ISA ports

// `value`'s low `size` bytes, least significant first.
function littleEndian(value: u64, size: i32): Aml {
  const bytes: Aml = [];
  for (let i = 0; i < size; i++) bytes.push(<u8>(value >> (<u64>i * 8)));
  return bytes;
}

// `parts` one after another.
export function concat(parts: Aml[]): Aml {
  const bytes: Aml = [];
  for (let i = 0; i < parts.length; i++) {
    for (let j = 0; j < parts[i].length; j++) bytes.push(parts[i][j]);
  }
  return bytes;
}

// `body` after its PkgLength (20.2.4), which counts its own 1-4 bytes too.
// One byte holds up to 63; beyond, bits 7:6 of the lead byte give the
// number of bytes that follow, its bits 3:0 the length's low 4 bits, and
// the bytes that follow the rest, 8 bits each.
function withPkgLength(body: Aml): Aml {
  const length = <u32>body.length;
  if (length + 1 <= 0x3f) return concat([[<u8>(length + 1)], body]);
  let following: u32 = 1;
  while (length + 1 + following >= 1 << (4 + 8 * following)) following++;
  const total = length + 1 + following;
  const lead = <u8>((following << 6) | (total & 0xf));
  return concat([[lead], littleEndian(total >> 4, following), body]);
}

// A NameString (20.2.2): an optional root prefix and one NameSeg, padded
// with '_' to 4 characters ("\\_SB" is 5C "_SB_"). Paths of several
// segments (DualNamePath, MultiNamePath) are not needed here.
function nameString(path: string): Aml {
  const rooted = path.startsWith("\\");
  const bytes: Aml = rooted ? [ROOT_CHAR] : [];
  const seg = rooted ? path.substring(1) : path;
  for (let i = 0; i < NAME_SEG_SIZE; i++) bytes.push(<u8>(i < seg.length ? seg.charCodeAt(i) : NAME_PAD));
  return bytes;
}

// An integer in its shortest encoding (20.2.3): ZeroOp, OneOp, or a
// Byte-, Word-, DWord- or QWordConst.
export function integer(value: u64): Aml {
  if (value == 0) return [ZERO_OP];
  if (value == 1) return [ONE_OP];
  if (value <= 0xff) return concat([[BYTE_PREFIX], littleEndian(value, 1)]);
  if (value <= 0xffff) return concat([[WORD_PREFIX], littleEndian(value, 2)]);
  if (value <= 0xffff_ffff) return concat([[DWORD_PREFIX], littleEndian(value, 4)]);
  return concat([[QWORD_PREFIX], littleEndian(value, 8)]);
}

// Scope (20.2.5.1) and Device (20.2.5.2): an opcode, then under one
// PkgLength the object's name and the terms inside it.
function namedBlock(opcode: Aml, path: string, terms: Aml[]): Aml {
  return concat([opcode, withPkgLength(concat([nameString(path), concat(terms)]))]);
}

export function scope(path: string, terms: Aml[]): Aml {
  return namedBlock([SCOPE_OP], path, terms);
}

export function device(path: string, terms: Aml[]): Aml {
  return namedBlock([EXT_OP_PREFIX, DEVICE_OP], path, terms);
}

// Name (20.2.5.1): `path` names the data object `value`.
export function name(path: string, value: Aml): Aml {
  return concat([[NAME_OP], nameString(path), value]);
}

// A Package (20.2.5.4) of at most 255 elements: NumElements is one byte
// (more would take a VarPackage).
export function packageOf(elements: Aml[]): Aml {
  return concat([[PACKAGE_OP], withPkgLength(concat([[<u8>elements.length], concat(elements)]))]);
}

// A Buffer (20.2.5.4): its size as an integer, then its bytes.
export function buffer(bytes: Aml): Aml {
  return concat([[BUFFER_OP], withPkgLength(concat([integer(<u64>bytes.length), bytes]))]);
}

// A compressed EISA ID (6.1.5), as ASL's EisaId() gives it: "PNP0A08" as
// a DWord whose bytes, in memory order, are the three letters at 5 bits
// each ('A' is 1) in 15 bits, big-endian, then the four hex digits,
// big-endian.
export function eisaId(id: string): Aml {
  let vendor: u32 = 0;
  for (let i = 0; i < 3; i++) vendor = (vendor << 5) | (<u32>id.charCodeAt(i) - 0x40);
  const product = <u32>parseInt(id.substring(3), 16);
  return concat([[DWORD_PREFIX], littleEndian(bswap<u32>((vendor << 16) | product), 4)]);
}

// ResourceTemplate: a Buffer of resource descriptors closed by an End Tag
// (6.4.2.9), whose checksum byte 0 means "treat the data as correct".
export function resourceTemplate(descriptors: Aml[]): Aml {
  return buffer(concat([concat(descriptors), [END_TAG, 0]]));
}

// IO (6.4.2.5): `count` ports at `base`, fixed there (minimum = maximum).
export function io(base: u16, count: u8): Aml {
  return concat([[IO_PORT, DECODE_16], littleEndian(base, 2), littleEndian(base, 2), [1, count]]);
}

// Memory32Fixed (6.4.3.4): `length` bytes at `base`, read-write.
export function memory32Fixed(base: u32, length: u32): Aml {
  return largeItem(MEMORY32_FIXED, concat([[READ_WRITE], littleEndian(base, 4), littleEndian(length, 4)]));
}

// WordBusNumber, WordIO (Word Address Space, 6.4.3.5.3) and DWordMemory
// (DWord Address Space, 6.4.3.5.2): a range [min, max] a bridge produces
// for the bus below it.
export function wordBusNumber(min: u16, max: u16): Aml {
  return addressSpace(WORD_ADDRESS_SPACE, 2, BUS_NUMBER_RANGE, 0, min, max);
}

export function wordIo(min: u16, max: u16): Aml {
  return addressSpace(WORD_ADDRESS_SPACE, 2, IO_RANGE, ENTIRE_RANGE, min, max);
}

export function dwordMemory(min: u32, max: u32): Aml {
  return addressSpace(DWORD_ADDRESS_SPACE, 4, MEMORY_RANGE, READ_WRITE, min, max);
}

// Fixed in place and size, so _GRA is 0 and _LEN is max - min + 1 (the
// valid combinations of 6.4.3.5), and not translated (_TRA 0); each field
// `size` bytes.
function addressSpace(tag: u8, size: i32, resourceType: u8, typeFlags: u8, min: u64, max: u64): Aml {
  const fields: Aml[] = [[resourceType, FIXED_RANGE, typeFlags]];
  const values: u64[] = [0, min, max, 0, max - min + 1];
  for (let i = 0; i < values.length; i++) fields.push(littleEndian(values[i], size));
  return largeItem(tag, concat(fields));
}

// A large resource item (6.4.3): its tag, the length of its data, the data.
function largeItem(tag: u8, data: Aml): Aml {
  return concat([[tag], littleEndian(<u64>data.length, 2), data]);
}
