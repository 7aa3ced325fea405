// The switch's forwarding table: which port a source address was last
// seen on, per VLAN (802.1Q, 8.8: one filtering database per VLAN here, so
// the same address on two VLANs is two entries).
//
// The table is bounded: once full, new addresses are not learnt and
// frames to them are flooded, which is slower but still correct. An
// address that moves to another port follows at its next frame.

const MAX_ENTRIES: i32 = 4096;

export class MacTable {
  // (vlan << 48 | mac) -> port index.
  private entries: Map<u64, i32> = new Map<u64, i32>();

  learn(vlan: u16, mac: u64, port: i32): void {
    const key = keyOf(vlan, mac);
    if (this.entries.size < MAX_ENTRIES || this.entries.has(key)) this.entries.set(key, port);
  }

  // The port the address was seen on, or -1.
  lookup(vlan: u16, mac: u64): i32 {
    const key = keyOf(vlan, mac);
    return this.entries.has(key) ? this.entries.get(key) : -1;
  }

  // Forgets every address: the ports' numbers changed (a port left).
  clear(): void {
    this.entries.clear();
  }

  get size(): i32 {
    return this.entries.size;
  }
}

function keyOf(vlan: u16, mac: u64): u64 {
  return (<u64>vlan << 48) | mac;
}
