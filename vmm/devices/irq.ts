// Interrupt request lines, as a device sees them.
//
// A device model drives numbered IRQ lines (the ISA IRQ 0-15 of a PC) and
// never knows who listens: on the PC platform the 8259A pair and the I/O
// APIC (platform/pc/isalines.ts); in unit tests a recorder. Lines are
// levels, like the wires; an edge-triggered listener reacts to the
// low-to-high transition, a level-triggered one to the level itself.

export abstract class InterruptLines {
  abstract setLevel(line: u32, high: bool): void;

  // A rising then a falling edge: how a device signals one event on an
  // edge-triggered line (the PIT's OUT0 on IRQ0, for instance).
  pulse(line: u32): void {
    this.setLevel(line, true);
    this.setLevel(line, false);
  }
}
