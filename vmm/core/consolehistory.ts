// What a VM's console printed last, for the management API (vm.console.read,
// docs/api.md): the last HISTORY_BYTES bytes of its lines, as the guest
// wrote them, and each byte's place in all the VM has printed, so that a
// client that read up to some place knows what is new when it asks again.

const HISTORY_BYTES: u64 = 8192;

export class ConsoleHistory {
  private bytes: StaticArray<u8> = new StaticArray<u8>(<i32>HISTORY_BYTES);
  // Bytes printed since the VM was made; the last of them are kept.
  total: u64 = 0;

  add(c: u8): void {
    this.bytes[<i32>(this.total % HISTORY_BYTES)] = c;
    this.total++;
  }

  // The place of the oldest byte kept.
  get start(): u64 {
    return this.total > HISTORY_BYTES ? this.total - HISTORY_BYTES : 0;
  }

  // The bytes kept, oldest first.
  kept(): Uint8Array {
    const start = this.start, out = new Uint8Array(<i32>(this.total - start));
    for (let i = 0; i < out.length; i++) out[i] = this.bytes[<i32>((start + <u64>i) % HISTORY_BYTES)];
    return out;
  }
}
