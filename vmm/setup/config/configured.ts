// A kernel VM's image together with the configuration entry it was made
// from: what the management API shows of where its kernel and initrd come
// from (api/vmviews.ts) and what a VM made later is checked against
// (setup/kernelvms.ts). Its boot override offers the entry's sources.

import { BootOverride } from "../../core/bootoverride";
import { VmImage } from "../../core/vm";
import { VmConfig } from "./config";

export abstract class ConfiguredImage extends VmImage {
  constructor(readonly config: VmConfig) {
    const names: string[] = [];
    for (let i = 0; i < config.sources.length; i++) names.push(config.sources[i].name);
    super(new BootOverride(names));
  }
}
