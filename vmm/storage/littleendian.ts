// Little-endian fields in byte buffers: how disks, devices and firmware lay
// out the structures the hypervisor reads and writes (a GPT, an NVMe
// Identify page, a virtio-blk request header and configuration, a VM's ACPI
// tables and their AML).

// `size` bytes (1 to 8) at `at`. WebAssembly's memory is little-endian
// (its spec, 4.2.8), so a field of 2, 4 or 8 bytes that lies in `b` is one
// load or store; any other goes byte by byte, which traps out of bounds.
export function readLittleEndian(b: Uint8Array, at: i32, size: i32): u64 {
  if (within(b, at, size)) {
    const p = b.dataStart + <usize>at;
    if (size == 2) return <u64>load<u16>(p);
    if (size == 4) return <u64>load<u32>(p);
    if (size == 8) return load<u64>(p);
  }
  let v: u64 = 0;
  for (let i = size - 1; i >= 0; i--) v = (v << 8) | <u64>b[at + i];
  return v;
}

export function writeLittleEndian(b: Uint8Array, at: i32, size: i32, v: u64): void {
  if (within(b, at, size)) {
    const p = b.dataStart + <usize>at;
    if (size == 2) return store<u16>(p, <u16>v);
    if (size == 4) return store<u32>(p, <u32>v);
    if (size == 8) return store<u64>(p, v);
  }
  for (let i = 0; i < size; i++) b[at + i] = <u8>(v >> (<u64>i * 8));
}

// Whether bytes [at, at + size) lie in `b`.

function within(b: Uint8Array, at: i32, size: i32): bool {
  return at >= 0 && size >= 0 && at <= b.length - size;
}
