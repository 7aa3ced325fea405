// What a device can do to the machine it sits in: end its run. A chipset's
// power and reset lines, and QEMU's debug-exit port, in one interface the
// VM implements (core/vm.ts), so device models never know the VM.

export abstract class MachineControl {
  // ACPI S5 (timers/acpipm.ts): the guest switched the machine off.
  abstract powerOff(): void;
  // A reset request, through `how` (the 8042's output port, io/i8042.ts;
  // ports 0x92 and 0xCF9, io/resetports.ts).
  abstract reset(how: string): void;
  // QEMU's isa-debug-exit (io/debugexit.ts): leave with this status.
  abstract exitWith(status: i64): void;
}
