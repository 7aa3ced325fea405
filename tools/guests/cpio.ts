// The cpio "newc" format (SVR4 without checksums), which Linux unpacks as an
// initramfs (Documentation/driver-api/early-userspace/buffer-format.rst):
// per entry a 110-byte ASCII header "070701" + 13 eight-digit hex fields, the
// NUL-terminated name padded to 4 bytes, the data padded to 4 bytes; the
// archive ends with an entry named "TRAILER!!!". Everything here is written
// with fixed owners, times and inode numbers, so the same input gives the same
// bytes.

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;

export interface CpioEntry {
  // Path inside the archive, without a leading "/" ("bin/busybox").
  name: string;
  mode: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  // File contents, or a symbolic link's target.
  data?: Buffer;
  // Device numbers of a device node.
  rdevMajor?: number;
  rdevMinor?: number;
}

export const dir = (name: string, perm = 0o755): CpioEntry => ({ name, mode: S_IFDIR | perm });
export const file = (name: string, data: Buffer, perm = 0o644): CpioEntry => ({ name, mode: S_IFREG | perm, data });
export const symlink = (name: string, target: string): CpioEntry => ({
  name,
  mode: S_IFLNK | 0o777,
  data: Buffer.from(target),
});
export const chardev = (name: string, major: number, minor: number, perm = 0o600): CpioEntry => ({
  name,
  mode: S_IFCHR | perm,
  rdevMajor: major,
  rdevMinor: minor,
});

const TRAILER = "TRAILER!!!";
const MAGIC = "070701";
const pad4 = (n: number) => (4 - (n % 4)) % 4;

function header(fields: number[]): string {
  return MAGIC + fields.map((f) => {
    if (!Number.isInteger(f) || f < 0 || f > 0xffffffff) throw new Error(`cpio: field ${f} out of range`);
    return f.toString(16).toUpperCase().padStart(8, "0");
  }).join("");
}

function encode(e: CpioEntry, ino: number): Buffer[] {
  const name = Buffer.from(`${e.name}\0`);
  const data = e.data ?? Buffer.alloc(0);
  const isDir = (e.mode & S_IFMT) === S_IFDIR;
  const h = header([
    ino,
    e.mode,
    e.uid ?? 0,
    e.gid ?? 0,
    isDir ? 2 : 1,
    e.mtime ?? 0,
    data.length,
    0,
    0,
    e.rdevMajor ?? 0,
    e.rdevMinor ?? 0,
    name.length,
    0,
  ]);
  return [Buffer.from(h, "latin1"), name, Buffer.alloc(pad4(110 + name.length)), data, Buffer.alloc(pad4(data.length))];
}

export function writeCpio(entries: CpioEntry[]): Buffer {
  const seen = new Set<string>();
  const parts: Buffer[] = [];
  entries.forEach((e, i) => {
    if (!e.name || e.name.startsWith("/") || e.name === TRAILER) {
      throw new Error(`cpio: bad entry name ${JSON.stringify(e.name)}`);
    }
    if (seen.has(e.name)) throw new Error(`cpio: duplicate entry ${e.name}`);
    seen.add(e.name);
    parts.push(...encode(e, i + 1));
  });
  parts.push(...encode({ name: TRAILER, mode: 0 }, 0));
  return Buffer.concat(parts);
}

export interface ParsedCpioEntry {
  name: string;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  rdevMajor: number;
  rdevMinor: number;
  data: Buffer;
}

// Reads a newc archive (up to its trailer); throws on anything malformed.
export function readCpio(archive: Buffer): ParsedCpioEntry[] {
  const entries: ParsedCpioEntry[] = [];
  let o = 0;
  for (;;) {
    if (o + 110 > archive.length) throw new Error(`cpio: truncated header at ${o}`);
    const magic = archive.toString("latin1", o, o + 6);
    if (magic !== MAGIC) throw new Error(`cpio: bad magic ${JSON.stringify(magic)} at ${o} (newc is 070701)`);
    const f: number[] = [];
    for (let i = 0; i < 13; i++) {
      const text = archive.toString("latin1", o + 6 + i * 8, o + 14 + i * 8);
      if (!/^[0-9A-Fa-f]{8}$/.test(text)) throw new Error(`cpio: bad header field ${JSON.stringify(text)} at ${o}`);
      f.push(parseInt(text, 16));
    }
    const [ino, mode, uid, gid, nlink, mtime, filesize, , , rdevMajor, rdevMinor, namesize] = f;
    const nameStart = o + 110;
    if (namesize < 1 || nameStart + namesize > archive.length) throw new Error(`cpio: bad name size at ${o}`);
    if (archive[nameStart + namesize - 1] !== 0) throw new Error(`cpio: name not NUL-terminated at ${o}`);
    const name = archive.toString("utf8", nameStart, nameStart + namesize - 1);
    const dataStart = nameStart + namesize + pad4(110 + namesize);
    if (dataStart + filesize > archive.length) throw new Error(`cpio: ${name}: data past the end of the archive`);
    if (name === TRAILER) return entries;
    entries.push({
      name,
      ino,
      mode,
      uid,
      gid,
      nlink,
      mtime,
      rdevMajor,
      rdevMinor,
      data: archive.subarray(dataStart, dataStart + filesize),
    });
    o = dataStart + filesize + pad4(filesize);
  }
}
