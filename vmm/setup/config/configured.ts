// A kernel VM's image together with the configuration entry it was made
// from: what the management API shows of where its kernel and initrd come
// from (api/vmviews.ts) and what a VM made later is checked against
// (setup/kernelvms.ts).

import { VmImage } from "../../core/vm";
import { VmConfig } from "./config";

export abstract class ConfiguredImage extends VmImage {
  constructor(readonly config: VmConfig) {
    super(config.kernel.module, config.initrd.module, config.cmdline);
  }
}
