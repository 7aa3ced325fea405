// The memory one disk request moves: a list of host-contiguous pieces, in
// the order their bytes follow each other on the disk. A virtio-blk
// request names its data as several guest buffers, each one run of host
// memory once GuestMemory.translate() has found it; a host driver then
// describes as many pieces to its controller at once as one command may
// carry (NVMe's PRP list, nvme/prp.ts; AHCI's PRDT, ahci/prdt.ts), so
// that a 1 MiB read of 256 scattered pages is two or three commands
// rather than 256.
//
// A driver consumes the list from its position (`index`, `offset`) on,
// one command at a time (BlockDevice.transfer()). Nothing is allocated
// after construction: a device reuses one list for all its requests.

export class Segments {
  private physs: StaticArray<u64>;
  private lengths: StaticArray<u64>;
  count: i32 = 0;
  bytes: u64 = 0;
  // Where the next command starts: piece `index`, `offset` bytes into it.
  index: i32 = 0;
  offset: u64 = 0;

  constructor(readonly capacity: i32) {
    this.physs = new StaticArray<u64>(capacity);
    this.lengths = new StaticArray<u64>(capacity);
  }

  clear(): void {
    this.count = 0;
    this.bytes = 0;
    this.rewind();
  }

  // Appends `length` bytes at host-physical `phys`; false if the list is full.
  add(phys: u64, length: u64): bool {
    if (this.count == this.capacity) return false;
    unchecked(this.physs[this.count] = phys);
    unchecked(this.lengths[this.count] = length);
    this.count++;
    this.bytes += length;
    return true;
  }

  // The list of one piece: host-contiguous memory of the hypervisor's own.
  only(phys: u64, length: u64): Segments {
    this.clear();
    this.add(phys, length);
    return this;
  }

  phys(i: i32): u64 {
    return this.physs[i];
  }
  length(i: i32): u64 {
    return this.lengths[i];
  }
  // The same for a walk that keeps 0 <= i < count itself, unchecked.
  @inline
  physOf(i: i32): u64 {
    return unchecked(this.physs[i]);
  }
  @inline
  lengthOf(i: i32): u64 {
    return unchecked(this.lengths[i]);
  }

  rewind(): void {
    this.index = 0;
    this.offset = 0;
  }

  // Whether every byte has been consumed.
  get finished(): bool {
    return this.index >= this.count;
  }

  // Moves the position to `offset` bytes into piece `index` (< count), or
  // to the next piece's start if that is its end.
  moveTo(index: i32, offset: u64): void {
    const atEnd = offset >= this.length(index);
    this.index = atEnd ? index + 1 : index;
    this.offset = atEnd ? 0 : offset;
  }

  // Moves the position `n` bytes on.
  consume(n: u64): void {
    let left = n;
    while (left > 0 && this.index < this.count) {
      const rest = this.lengthOf(this.index) - this.offset;
      if (left < rest) {
        this.offset += left;
        return;
      }
      left -= rest;
      this.index++;
      this.offset = 0;
    }
  }
}
