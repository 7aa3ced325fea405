// virtio-rng, the entropy device (virtio 1.2, 5.4): the driver offers
// buffers and the device fills them with random bytes, here from the host
// CPU's RDSEED or RDRAND (kernel/cpu/random.ts). A VM gets one only where
// the host has them; Linux feeds what it reads to its own pool.

import { randomBytes } from "../../../kernel/cpu/random";
import { Chain, Virtqueue } from "./virtqueue";
import { VirtioDevice } from "./device";

const ENTROPY_ID: u16 = 4;
const QUEUE_SIZE: u16 = 64;
const CHAIN_BUFFERS: i32 = 16;
// At most this much per request, so one request cannot hold the CPU long.
const MAX_REQUEST: i32 = 4096;
const CHUNK: i32 = 64;

export class VirtioEntropy extends VirtioDevice {
  private queue: Virtqueue | null = null;
  private chain: Chain = new Chain(CHAIN_BUFFERS);
  private bytes: Uint8Array = new Uint8Array(CHUNK);

  // `seed`: draw from RDSEED (true entropy) rather than RDRAND.
  constructor(private seed: bool) {
    super(ENTROPY_ID, "rng", 1, QUEUE_SIZE);
  }

  get features(): u64 {
    return 0;
  }
  get configSize(): u32 {
    return 0;
  }
  readConfig(offset: u32, size: u8): u32 {
    return 0;
  }

  start(features: u64, queues: Virtqueue[]): void {
    this.queue = queues[0];
    this.notified(0);
  }

  reset(): void {
    this.queue = null;
  }

  notified(index: u32): void {
    const q = this.queue;
    if (q === null || q.error !== null) return;
    let served = false;
    do {
      while (q.pop(this.chain)) {
        q.push(this.chain.head, <u32>this.fill());
        served = true;
      }
    } while (q.armNotification());
    if (q.error !== null) this.signals!.needsReset("requestq: " + q.error!);
    else if (served && q.needsInterrupt()) this.signals!.usedBuffers(0);
  }

  // The chain's writable bytes, as many as the CPU gives; how many.
  private fill(): i32 {
    const wanted = <i32>min(this.chain.writableBytes, <u64>MAX_REQUEST);
    let done = 0;
    while (done < wanted) {
      const got = randomBytes(this.bytes, 0, min(CHUNK, wanted - done), this.seed);
      done += this.chain.writeBytes(<u64>done, this.bytes, 0, got);
      if (got < CHUNK && done < wanted) break; // the CPU ran dry
    }
    return done;
  }
}
