// AML, the bytecode in which a DSDT describes the ACPI namespace, and the
// resource descriptors a _CRS buffer holds: the few terms the VM's DSDT
// needs (dsdt.ts). An AmlWriter writes them front to back into one
// buffer; each call appends one term and returns the writer, and a term
// that holds others (Scope, Device, Package, ResourceTemplate) is opened by
// a begin call and closed by end(), so that a namespace reads like its
// ASL source, a begin call for each opening brace:
//   w.beginScope("\\_SB");
//     w.beginDevice("PCI0");
//       w.name("_HID").eisaId("PNP0A08");
//     w.end();
//   w.end();
// Sections are those of ACPI 6.5: the AML grammar 20.2, resource
// descriptors 6.4.

import { writeLittleEndian } from "../../storage/littleendian";

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
const MEMORY32_FIXED_DATA: i32 = 9; // flags, base, length
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

// Enough for the VM's DSDT without growing.
const INITIAL_CAPACITY = 4096;

// What end() closes: a term whose body follows its PkgLength, or a
// ResourceTemplate, a Buffer whose size comes before its descriptors.
enum Open {
  Block,
  ResourceTemplate,
}

export class AmlWriter {
  private buffer: Uint8Array = new Uint8Array(INITIAL_CAPACITY);
  private used: i32 = 0;
  // Where the body of each open term starts, innermost last, and its kind.
  private starts: i32[] = [];
  private kinds: Open[] = [];

  // The AML written so far.
  get bytes(): Uint8Array {
    return this.buffer.subarray(0, this.used);
  }

  // Scope (20.2.5.1) and Device (20.2.5.2): an opcode, then under one
  // PkgLength the object's name and the terms inside it, up to end().
  beginScope(path: string): AmlWriter {
    return this.byte(SCOPE_OP).open(Open.Block).nameString(path);
  }

  beginDevice(path: string): AmlWriter {
    return this.byte(EXT_OP_PREFIX).byte(DEVICE_OP).open(Open.Block).nameString(path);
  }

  // A Package (20.2.5.4) of `count` elements, at most 255 (NumElements is
  // one byte; more would take a VarPackage), which follow up to end().
  beginPackage(count: u8): AmlWriter {
    return this.byte(PACKAGE_OP).open(Open.Block).byte(count);
  }

  // ResourceTemplate: a Buffer (20.2.5.4) of the resource descriptors that
  // follow, up to end(), which adds the End Tag.
  beginResourceTemplate(): AmlWriter {
    return this.byte(BUFFER_OP).open(Open.ResourceTemplate);
  }

  // Closes the innermost open term: puts its PkgLength (and a buffer's
  // size) in front of its body, which moves up to make room, once.
  end(): AmlWriter {
    const start = this.starts.pop(), kind = this.kinds.pop();
    // The End Tag (6.4.2.9), whose checksum byte 0 means "treat the data as correct".
    if (kind == Open.ResourceTemplate) this.byte(END_TAG).byte(0);
    const body = this.used - start;
    const size = kind == Open.ResourceTemplate ? integerSize(<u64>body) : 0;
    const prefix = pkgLengthSize(size + body) + size;
    this.reserve(prefix);
    this.buffer.copyWithin(start + prefix, start, this.used);
    this.used += prefix;
    const at = this.putPkgLength(start, size + body);
    if (kind == Open.ResourceTemplate) this.putInteger(at, <u64>body);
    return this;
  }

  // Name (20.2.5.1): `path` names the data object written next.
  name(path: string): AmlWriter {
    return this.byte(NAME_OP).nameString(path);
  }

  // An integer in its shortest encoding (20.2.3): ZeroOp, OneOp, or a
  // Byte-, Word-, DWord- or QWordConst.
  integer(value: u64): AmlWriter {
    this.reserve(integerSize(value));
    this.used = this.putInteger(this.used, value);
    return this;
  }

  // A compressed EISA ID (6.1.5), as ASL's EisaId() gives it: "PNP0A08" as
  // a DWord whose bytes, in memory order, are the three letters at 5 bits
  // each ('A' is 1) in 15 bits, big-endian, then the four hex digits,
  // big-endian.
  eisaId(id: string): AmlWriter {
    let vendor: u32 = 0;
    for (let i = 0; i < 3; i++) vendor = (vendor << 5) | (<u32>id.charCodeAt(i) - 0x40);
    const product = <u32>parseInt(id.substring(3), 16);
    return this.byte(DWORD_PREFIX).littleEndian(bswap<u32>((vendor << 16) | product), 4);
  }

  // IO (6.4.2.5): `count` ports at `base`, fixed there (minimum = maximum).
  io(base: u16, count: u8): AmlWriter {
    return this.byte(IO_PORT).byte(DECODE_16).littleEndian(base, 2).littleEndian(base, 2).byte(1).byte(count);
  }

  // Memory32Fixed (6.4.3.4): `length` bytes at `base`, read-write.
  memory32Fixed(base: u32, length: u32): AmlWriter {
    return this.largeItem(MEMORY32_FIXED, MEMORY32_FIXED_DATA).byte(READ_WRITE).littleEndian(base, 4)
      .littleEndian(length, 4);
  }

  // WordBusNumber, WordIO (Word Address Space, 6.4.3.5.3) and DWordMemory
  // (DWord Address Space, 6.4.3.5.2): a range [min, max] a bridge produces
  // for the bus below it.
  wordBusNumber(min: u16, max: u16): AmlWriter {
    return this.addressSpace(WORD_ADDRESS_SPACE, 2, BUS_NUMBER_RANGE, 0, min, max);
  }

  wordIo(min: u16, max: u16): AmlWriter {
    return this.addressSpace(WORD_ADDRESS_SPACE, 2, IO_RANGE, ENTIRE_RANGE, min, max);
  }

  dwordMemory(min: u32, max: u32): AmlWriter {
    return this.addressSpace(DWORD_ADDRESS_SPACE, 4, MEMORY_RANGE, READ_WRITE, min, max);
  }

  // Fixed in place and size, so _GRA is 0 and _LEN is max - min + 1 (the
  // valid combinations of 6.4.3.5), and not translated (_TRA 0); each of
  // the five fields `size` bytes.
  private addressSpace(tag: u8, size: i32, resourceType: u8, typeFlags: u8, min: u64, max: u64): AmlWriter {
    this.largeItem(tag, 3 + 5 * size).byte(resourceType).byte(FIXED_RANGE).byte(typeFlags);
    return this.littleEndian(0, size).littleEndian(min, size).littleEndian(max, size).littleEndian(0, size)
      .littleEndian(max - min + 1, size);
  }

  // A large resource item's header (6.4.3): its tag and the length of the data that follows.
  private largeItem(tag: u8, dataLength: i32): AmlWriter {
    return this.byte(tag).littleEndian(<u64>dataLength, 2);
  }

  // A NameString (20.2.2): an optional root prefix and one NameSeg, padded
  // with '_' to 4 characters ("\\_SB" is 5C "_SB_"). Paths of several
  // segments (DualNamePath, MultiNamePath) are not needed here.
  private nameString(path: string): AmlWriter {
    const rooted = path.startsWith("\\");
    if (rooted) this.byte(ROOT_CHAR);
    const seg = rooted ? path.substring(1) : path;
    for (let i = 0; i < NAME_SEG_SIZE; i++) this.byte(<u8>(i < seg.length ? seg.charCodeAt(i) : NAME_PAD));
    return this;
  }

  private open(kind: Open): AmlWriter {
    this.starts.push(this.used);
    this.kinds.push(kind);
    return this;
  }

  private byte(b: u8): AmlWriter {
    this.reserve(1);
    this.buffer[this.used++] = b;
    return this;
  }

  // `value`'s low `size` bytes, least significant first.
  private littleEndian(value: u64, size: i32): AmlWriter {
    this.reserve(size);
    writeLittleEndian(this.buffer, this.used, size, value);
    this.used += size;
    return this;
  }

  // Room for `count` more bytes: the buffer doubles when full.
  private reserve(count: i32): void {
    if (this.used + count <= this.buffer.length) return;
    const bigger = new Uint8Array(max(this.buffer.length * 2, this.used + count));
    bigger.set(this.bytes);
    this.buffer = bigger;
  }

  // The encodings below write at `at`, in room already reserved, and
  // return where they end.
  private putInteger(at: i32, value: u64): i32 {
    const size = integerSize(value);
    if (size == 1) {
      this.buffer[at] = value == 0 ? ZERO_OP : ONE_OP;
      return at + 1;
    }
    this.buffer[at] = size == 2 ? BYTE_PREFIX : size == 3 ? WORD_PREFIX : size == 5 ? DWORD_PREFIX : QWORD_PREFIX;
    writeLittleEndian(this.buffer, at + 1, size - 1, value);
    return at + size;
  }

  // The PkgLength (20.2.4) of a `length`-byte body, which counts its own
  // 1-4 bytes too. One byte holds up to 63; beyond, bits 7:6 of the lead
  // byte give the number of bytes that follow, its bits 3:0 the length's
  // low 4 bits, and the bytes that follow the rest, 8 bits each.
  private putPkgLength(at: i32, length: i32): i32 {
    const size = pkgLengthSize(length), total = <u32>(length + size);
    if (size == 1) {
      this.buffer[at] = <u8>total;
      return at + 1;
    }
    this.buffer[at] = <u8>(((size - 1) << 6) | (total & 0xf));
    writeLittleEndian(this.buffer, at + 1, size - 1, total >> 4);
    return at + size;
  }
}

// The bytes of integer(value): an opcode alone for 0 and 1, else a prefix
// and the value in 1, 2, 4 or 8 bytes.
function integerSize(value: u64): i32 {
  return value <= 1 ? 1 : value <= 0xff ? 2 : value <= 0xffff ? 3 : value <= 0xffff_ffff ? 5 : 9;
}

// The bytes of the PkgLength of a `length`-byte body.
function pkgLengthSize(length: i32): i32 {
  if (length + 1 <= 0x3f) return 1;
  let following = 1;
  while (length + 1 + following >= 1 << (4 + 8 * following)) following++;
  return 1 + following;
}
