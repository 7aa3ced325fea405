// Which of a VM's boot sources its next boot loads: its own kernel, or one
// of the alternates its configuration names (a rescue kernel, say;
// setup/config/bootsources.ts), as a PC's firmware boots the device its
// boot override names. The management API sets it (vm.boot, api/vmboot.ts;
// Redfish's ComputerSystem.Boot, api/redfish.ts): a target, and whether
// the override holds for the next boot only or for every boot.

// The target that means no override: the VM's own kernel.
export const OWN_SOURCE = "None";

export const enum OverrideMode {
  Disabled,
  Once,
  Continuous,
}

export class BootOverride {
  target: string = OWN_SOURCE;
  mode: OverrideMode = OverrideMode.Disabled;
  // The source the VM's present boot loaded, an index into `targets`.
  booted: i32 = 0;

  // `targets`: OWN_SOURCE first, then the alternates' names.
  constructor(readonly targets: string[]) {}

  // The override from now on: `target` for the next boot only, or for
  // every boot if `continuous`; OWN_SOURCE is none. False, with nothing
  // changed, for a target the VM does not have.
  choose(target: string, continuous: bool): bool {
    if (!this.targets.includes(target)) return false;
    this.target = target;
    this.mode = target == OWN_SOURCE
      ? OverrideMode.Disabled
      : continuous
      ? OverrideMode.Continuous
      : OverrideMode.Once;
    return true;
  }

  // The source a boot now starting loads; a Once override is spent by it,
  // as Redfish's Once is "reset to Disabled" after the boot it named.
  takeNext(): i32 {
    this.booted = this.mode == OverrideMode.Disabled ? 0 : this.targets.indexOf(this.target);
    if (this.mode == OverrideMode.Once) this.mode = OverrideMode.Disabled;
    return this.booted;
  }
}
