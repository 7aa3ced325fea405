// The commands of one batch of requests on a host disk (blockdevice.ts),
// counted until each ends. A controller's commands in flight may belong to
// several batches at once (an NVMe queue or an AHCI port serves every VM
// with a partition on its disk, and the hypervisor's own reads), and
// whichever caller collects a completion credits it to the batch its
// command came from: the batch's owner looks only here, and does not wait
// for other owners' commands.

export class IoBatch {
  // Commands started and not yet ended.
  commands: i32 = 0;
  // Bit `tag` set for each request (below 64) of which a command failed.
  failed: u64 = 0;

  get done(): bool {
    return this.commands == 0;
  }

  started(): void {
    this.commands++;
  }

  // A command of request `tag` ended, well or not.
  ended(tag: i32, ok: bool): void {
    this.commands--;
    if (!ok) this.failed |= <u64>1 << <u64>tag;
  }

  hasFailed(tag: i32): bool {
    return ((this.failed >> <u64>tag) & 1) != 0;
  }

  // The requests that failed, once every command has ended; the batch is
  // empty again.
  take(): u64 {
    const failed = this.failed;
    this.failed = 0;
    return failed;
  }
}
