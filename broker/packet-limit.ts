import type { Duplex } from 'node:stream';

/**
 * A cap on MQTT packet size, enforced as bytes arrive. aedes (mqtt-packet) accepts any Remaining Length
 * up to the protocol maximum of 268,435,455 bytes [MQTT-2.2.3] and buffers the whole packet before
 * anything can look at it, so a single client (even before it authenticates: CONNECT is a packet too)
 * could make the broker hold hundreds of megabytes. This guard reads only the fixed headers
 * (MQTT 3.1.1 section 2.2: one byte of type and flags, then the Remaining Length as a variable byte
 * integer of at most four bytes [MQTT-2.2.3], then that many bytes) and reports the first packet that
 * declares more than the limit, before its body is received.
 */
export class PacketSizeTracker {
  private state: 'type' | 'length' | 'body' = 'type';
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private bodyLeft = 0;

  constructor(private readonly maxRemainingLength: number) {}

  /** Feeds the next chunk; returns a reason when the stream must be cut, undefined otherwise. */
  feed(chunk: Uint8Array): string | undefined {
    let i = 0;
    while (i < chunk.length) {
      switch (this.state) {
        case 'type':
          i++;
          this.state = 'length';
          this.length = 0;
          this.multiplier = 1;
          this.lengthBytes = 0;
          break;
        case 'length': {
          const byte = chunk[i++]!;
          this.length += (byte & 0x7f) * this.multiplier;
          this.multiplier *= 128;
          this.lengthBytes++;
          if (byte & 0x80) {
            if (this.lengthBytes === 4) return 'malformed remaining length (more than 4 bytes)';
            break;
          }
          if (this.length > this.maxRemainingLength) {
            return `packet declares ${this.length} bytes, limit ${this.maxRemainingLength}`;
          }
          this.bodyLeft = this.length;
          this.state = this.bodyLeft > 0 ? 'body' : 'type';
          break;
        }
        case 'body': {
          const take = Math.min(this.bodyLeft, chunk.length - i);
          i += take;
          this.bodyLeft -= take;
          if (this.bodyLeft === 0) this.state = 'type';
          break;
        }
      }
    }
    return undefined;
  }
}

/**
 * Watches a client stream handed to aedes. aedes pulls with `read()` on 'readable'; a 'data' listener
 * then sees each chunk as it is read, just before aedes parses it, so an oversized packet is cut off
 * within one chunk of its header.
 */
export function guardPacketSize(
  stream: Duplex,
  maxRemainingLength: number,
  onReject: (reason: string) => void,
): void {
  const tracker = new PacketSizeTracker(maxRemainingLength);
  const onData = (chunk: Buffer) => {
    const reason = tracker.feed(chunk);
    if (reason !== undefined) {
      stream.off('data', onData);
      onReject(reason);
      stream.destroy();
    }
  };
  stream.on('data', onData);
}
