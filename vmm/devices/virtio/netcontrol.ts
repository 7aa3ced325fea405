// The control queue of a virtio-net card (virtio 1.2, 5.1.6.5): commands
// from the driver, each one chain of a class byte, a command byte and the
// command's data for the device to read, then room for the device's
// answer, VIRTIO_NET_OK or VIRTIO_NET_ERR, in the last byte the device
// may write. The one class served is multiqueue's (5.1.6.5.5):
// VQ_PAIRS_SET says how many of the card's queue pairs the driver uses,
// from 1 to max_virtqueue_pairs. Every other command, of a class whose
// feature the card does not offer, is answered ERR, as is VQ_PAIRS_SET
// when the driver did not take VIRTIO_NET_F_MQ.

import { readLittleEndian } from "../../storage/littleendian";
import { Chain, Virtqueue } from "./virtqueue";

const CLASS_MQ: u8 = 4, MQ_VQ_PAIRS_SET: u8 = 0;
const NET_OK: u8 = 0, NET_ERR: u8 = 1;
// The class, the command, and the most data a command served has (a le16).
const COMMAND_BYTES: i32 = 4;
// Linux's commands are a header, the data and the answer; a few more spare.
const CONTROL_BUFFERS: i32 = 8;

export class NetControl {
  // The queue pairs the driver uses; the first alone until it asks for more.
  active: u32 = 1;
  // The most it may ask for: 1 unless it took VIRTIO_NET_F_MQ.
  private most: u32 = 1;
  private chain: Chain = new Chain(CONTROL_BUFFERS);
  private command: Uint8Array = new Uint8Array(COMMAND_BYTES);
  private answer: Uint8Array = new Uint8Array(1);

  // Back to one pair, of which the driver may ask for up to `most`.
  reset(most: u32): void {
    this.active = 1;
    this.most = most;
  }

  // Answers every command waiting in `q`. Null, or why the driver broke the
  // rules: a command with no room for its answer.
  serve(q: Virtqueue): string | null {
    const chain = this.chain;
    while (q.pop(chain)) {
      const room = chain.writableBytes;
      if (room == 0) return "a command without room for its answer";
      this.answer[0] = this.perform(chain.readBytes(0, this.command, 0, COMMAND_BYTES));
      chain.writeBytes(room - 1, this.answer, 0, 1);
      q.push(chain.head, <u32>room);
    }
    return q.error;
  }

  // The answer to the command of `length` bytes (those read of it) in `command`.
  private perform(length: i32): u8 {
    const c = this.command;
    if (length < COMMAND_BYTES || c[0] != CLASS_MQ || c[1] != MQ_VQ_PAIRS_SET) return NET_ERR;
    const pairs = <u32>readLittleEndian(c, 2, 2);
    if (pairs < 1 || pairs > this.most) return NET_ERR;
    this.active = pairs;
    return NET_OK;
  }
}
