// Little-endian fields in byte buffers: how disks, devices and firmware lay
// out the structures the hypervisor reads and writes (a GPT, an NVMe
// Identify page, a virtio-blk request header and configuration, a VM's ACPI
// tables and their AML).

// `size` bytes (1 to 8) at `at`.
export function readLittleEndian(b: Uint8Array, at: i32, size: i32): u64 {
  let v: u64 = 0;
  for (let i = size - 1; i >= 0; i--) v = (v << 8) | <u64>b[at + i];
  return v;
}

export function writeLittleEndian(b: Uint8Array, at: i32, size: i32, v: u64): void {
  for (let i = 0; i < size; i++) b[at + i] = <u8>(v >> (<u64>i * 8));
}
