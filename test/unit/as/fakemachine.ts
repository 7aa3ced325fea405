// A machine for device models in unit tests: it counts what the devices
// asked of it (power off, reset, exit) instead of ending a VM.

import { MachineControl } from "../../../vmm/devices/machine";

export class RecordingMachine extends MachineControl {
  powerOffs: i32 = 0;
  resets: i32 = 0;
  exits: i32 = 0;
  lastStatus: i64 = -1;
  powerOff(): void {
    this.powerOffs++;
  }
  lastReset: string = "";
  reset(how: string): void {
    this.resets++;
    this.lastReset = how;
  }
  exitWith(status: i64): void {
    this.exits++;
    this.lastStatus = status;
  }
}
