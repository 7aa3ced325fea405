// The switch's forwarding table: which port a source address was last
// seen on, per VLAN (802.1Q, 8.8: one filtering database per VLAN here, so
// the same address on two VLANs is two entries).
//
// The table is bounded: once full, new addresses are not learnt and
// frames to them are flooded, which is slower but still correct. An
// address that moves to another port follows at its next frame.
//
// Every frame learns its source and looks up its destination, so the
// table is open addressing over fixed arrays: a key's slot is found from
// its hash by stepping to the next slot while another key holds it, and
// the arrays have twice the slots the table may fill, so an empty one is
// always near. Entries are never removed one by one, only all at once.

const MAX_ENTRIES: i32 = 4096;
const SLOT_BITS: u64 = 13;
const SLOTS: i32 = 1 << <i32>SLOT_BITS; // 2 * MAX_ENTRIES
// No key: a VLAN id has 12 bits, so keyOf() never makes it.
const EMPTY: u64 = u64.MAX_VALUE;

export class MacTable {
  // Slot by slot, (vlan << 48 | mac) or EMPTY, and its port index.
  private keys: StaticArray<u64> = new StaticArray<u64>(SLOTS);
  private ports: StaticArray<i32> = new StaticArray<i32>(SLOTS);
  private entries: i32 = 0;

  constructor() {
    this.clear();
  }

  learn(vlan: u16, mac: u64, port: i32): void {
    const key = keyOf(vlan, mac), slot = this.slotOf(key);
    if (unchecked(this.keys[slot]) != key) {
      if (this.entries >= MAX_ENTRIES) return;
      unchecked(this.keys[slot] = key);
      this.entries++;
    }
    unchecked(this.ports[slot] = port);
  }

  // The port the address was seen on, or -1.
  lookup(vlan: u16, mac: u64): i32 {
    const key = keyOf(vlan, mac), slot = this.slotOf(key);
    return unchecked(this.keys[slot]) == key ? unchecked(this.ports[slot]) : -1;
  }

  // Forgets every address: the ports' numbers changed (a port left).
  clear(): void {
    for (let i = 0; i < SLOTS; i++) unchecked(this.keys[i] = EMPTY);
    this.entries = 0;
  }

  get size(): i32 {
    return this.entries;
  }

  // The slot holding `key`, or the empty one where it would go. The hash
  // is Fibonacci hashing: the top bits of the key times 2^64 / phi.
  private slotOf(key: u64): i32 {
    let slot = <i32>((key * 0x9e3779b97f4a7c15) >> (64 - SLOT_BITS));
    while (true) {
      const k = unchecked(this.keys[slot]);
      if (k == key || k == EMPTY) return slot;
      slot = (slot + 1) & (SLOTS - 1);
    }
  }
}

function keyOf(vlan: u16, mac: u64): u64 {
  return (<u64>vlan << 48) | mac;
}
