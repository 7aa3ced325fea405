// QEMU's firmware configuration device (fw_cfg), its traditional I/O interface.
//
// Firmware written for QEMU (SeaBIOS, OVMF) and Linux's qemu_fw_cfg driver
// read machine facts from it: a 16-bit write to the selector port (0x510)
// picks an item and rewinds it, and each read of the data port (0x511)
// returns the item's next byte, zero past its end. Items are the signature,
// the feature bitmap (traditional interface only, no DMA), RAM size and CPU
// counts, and a directory of named "file" items the VMM may add.
//
// The interface follows QEMU's docs/specs/fw_cfg.rst; the item numbers and
// widths are those of QEMU's fw_cfg.h and its x86 machine.

import { Device } from "../bus";

export const FW_CFG_PORT: u16 = 0x510; // 2 ports: selector, then data

const FW_CFG_SIGNATURE: u16 = 0x0000;
const FW_CFG_ID: u16 = 0x0001;
const FW_CFG_RAM_SIZE: u16 = 0x0003;
const FW_CFG_NB_CPUS: u16 = 0x0005;
const FW_CFG_MAX_CPUS: u16 = 0x000f;
const FW_CFG_FILE_DIR: u16 = 0x0019;
const FW_CFG_FILE_FIRST: u16 = 0x0020;
// Bit 14 of a selector asks for write access, which only changes whether
// data writes are honoured; they never are (ignored since QEMU 2.4).
const FW_CFG_WRITE_CHANNEL: u16 = 0x4000;
const ID_TRADITIONAL: u32 = 1;
// struct FWCfgFile: size (BE32), select (BE16), reserved (16), name[56].
const FILE_ENTRY_SIZE: i32 = 64;
const FILE_NAME_SIZE: i32 = 56;

class Item {
  constructor(public key: u16, public data: StaticArray<u8>, public name: string = "") {}
}

export class FwCfg extends Device {
  private items: Item[] = [];
  private files: Item[] = [];
  private selected: Item | null = null;
  private position: i32 = 0;

  constructor(ramSize: u64, cpus: u16, maxCpus: u16) {
    super("fw_cfg");
    const sig = new StaticArray<u8>(4);
    for (let i = 0; i < 4; i++) sig[i] = <u8>"QEMU".charCodeAt(i);
    this.items.push(new Item(FW_CFG_SIGNATURE, sig));
    this.items.push(new Item(FW_CFG_ID, littleEndian(ID_TRADITIONAL, 4)));
    this.items.push(new Item(FW_CFG_RAM_SIZE, littleEndian(ramSize, 8)));
    this.items.push(new Item(FW_CFG_NB_CPUS, littleEndian(cpus, 2)));
    this.items.push(new Item(FW_CFG_MAX_CPUS, littleEndian(maxCpus, 2)));
    this.items.push(new Item(FW_CFG_FILE_DIR, this.directory()));
  }

  // Adds a file item and returns its selector. Names are plain ASCII of at
  // most 55 characters (the directory keeps a NUL-terminated 56-byte field).
  addFile(name: string, data: StaticArray<u8>): u16 {
    if (name.length >= FILE_NAME_SIZE) throw new Error("fw_cfg: file name too long: " + name);
    const file = new Item(FW_CFG_FILE_FIRST + <u16>this.files.length, data, name);
    this.files.push(file);
    this.items.push(file);
    this.find(FW_CFG_FILE_DIR)!.data = this.directory();
    return file.key;
  }

  read(offset: u64, size: u8): u64 {
    if (offset != 1) return 0; // the selector is write-only
    // "An N-byte wide read of the data register will return the next
    // available N bytes ... in increasing address order."
    let v: u64 = 0;
    for (let i: u8 = 0; i < size; i++) v |= <u64>this.nextByte() << (i * 8);
    return v;
  }

  write(offset: u64, size: u8, value: u64): void {
    // The selector is a 16-bit register; writes to the data port are ignored.
    if (offset != 0 || size != 2) return;
    this.selected = this.find(<u16>value & ~FW_CFG_WRITE_CHANNEL);
    this.position = 0;
  }

  private nextByte(): u8 {
    const item = this.selected;
    if (item === null || this.position >= item.data.length) return 0;
    return item.data[this.position++];
  }

  private find(key: u16): Item | null {
    for (let i = 0; i < this.items.length; i++) {
      if (this.items[i].key == key) return this.items[i];
    }
    return null;
  }

  // struct FWCfgFiles: a big-endian count, then one FWCfgFile per file.
  private directory(): StaticArray<u8> {
    const n = this.files.length;
    const dir = new StaticArray<u8>(4 + n * FILE_ENTRY_SIZE);
    putBigEndian(dir, 0, n, 4);
    for (let i = 0; i < n; i++) {
      const f = this.files[i], at = 4 + i * FILE_ENTRY_SIZE;
      putBigEndian(dir, at, f.data.length, 4);
      putBigEndian(dir, at + 4, f.key, 2);
      for (let j = 0; j < f.name.length; j++) dir[at + 8 + j] = <u8>f.name.charCodeAt(j);
    }
    return dir;
  }
}

function littleEndian(v: u64, bytes: i32): StaticArray<u8> {
  const out = new StaticArray<u8>(bytes);
  for (let i = 0; i < bytes; i++) out[i] = <u8>(v >> (<u64>i * 8));
  return out;
}

function putBigEndian(a: StaticArray<u8>, at: i32, v: u64, bytes: i32): void {
  for (let i = 0; i < bytes; i++) a[at + i] = <u8>(v >> (<u64>(bytes - 1 - i) * 8));
}
