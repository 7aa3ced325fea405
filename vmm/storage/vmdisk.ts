// A disk as one VM has it: what stands behind it and the budget its
// configuration gives it (at most so many operations and bytes per second).

import { DiskBacking } from "./backing";
import { IoBudget } from "./budget";

export class VmDisk {
  constructor(readonly backing: DiskBacking, readonly budget: IoBudget) {}
}
