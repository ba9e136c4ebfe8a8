import type { Header } from './header.ts';
import type { Packet } from './packet.ts';

/**
 * Reassembly of sub-packaged messages (JT/T 808-2013 §4.4.2 消息包封装项, table 3; 2019 §4.4.3): a
 * message too long for one packet is sent as `total` packets with indexes 1..total and consecutive
 * serial numbers, in any order. Packets of one message are keyed by message id, total and the serial
 * of packet 1 (serial - index + 1), so a message resent whole replaces its own parts only.
 *
 * Pure and bounded: time comes from the caller; at most `maxBytes` of parts are held per connection
 * (a message that would pass it is dropped whole); a message not complete `timeoutMs` after its first
 * packet is dropped. A dropped message gets no reply, so the terminal sends it again (it resends a
 * message that is not answered within its TCP reply timeout, terminal parameters 0x0002 and 0x0003 of
 * 0x8103); 0x8003 (补传分包请求, request of the missing packets) is not sent.
 */

export interface Assembled {
  packet: Packet;
  /** serials of every packet of the message, each to be answered */
  serials: number[];
}

export type AssembleResult =
  | { kind: 'pending' }
  | { kind: 'complete'; message: Assembled }
  | { kind: 'overflow'; detail: string };

interface Pending {
  firstPacketAt: number;
  header: Header;
  parts: (Buffer | undefined)[];
  serials: number[];
  received: number;
  bytes: number;
}

export interface AssemblerLimits {
  maxBytes: number;
  timeoutMs: number;
}

export const DEFAULT_ASSEMBLER_LIMITS: AssemblerLimits = { maxBytes: 256 * 1024, timeoutMs: 60_000 };

export class SubPackageAssembler {
  private readonly pending = new Map<string, Pending>();
  private held = 0;

  constructor(private readonly limits: AssemblerLimits = DEFAULT_ASSEMBLER_LIMITS) {}

  /** bytes of parts held */
  get heldBytes(): number {
    return this.held;
  }
  get pendingMessages(): number {
    return this.pending.size;
  }

  add(packet: Packet, now: number): AssembleResult {
    const { header, body } = packet;
    const item = header.packet;
    if (item === undefined) return { kind: 'complete', message: { packet, serials: [header.serial] } };
    const first = (header.serial - item.index + 1) & 0xffff;
    const key = `${header.msgId}:${item.total}:${first}`;
    let entry = this.pending.get(key);
    if (entry === undefined) {
      // a total the cap cannot hold even at 1 byte per packet is refused before any part is kept
      if (item.total > this.limits.maxBytes) {
        return {
          kind: 'overflow',
          detail: `${item.total} packets exceed the ${this.limits.maxBytes} byte cap`,
        };
      }
      entry = {
        firstPacketAt: now,
        header,
        parts: new Array(item.total),
        serials: new Array(item.total),
        received: 0,
        bytes: 0,
      };
      this.pending.set(key, entry);
    }
    const slot = item.index - 1;
    const old = entry.parts[slot];
    const grow = body.length - (old?.length ?? 0);
    if (this.held + grow > this.limits.maxBytes) {
      this.drop(key, entry);
      return {
        kind: 'overflow',
        detail: `sub-packets would hold ${this.held + grow} bytes, the cap is ${this.limits.maxBytes}`,
      };
    }
    if (old === undefined) entry.received++;
    entry.parts[slot] = Buffer.from(body);
    entry.serials[slot] = header.serial;
    entry.bytes += grow;
    this.held += grow;
    if (item.index === 1) entry.header = header;
    if (entry.received < item.total) return { kind: 'pending' };
    this.drop(key, entry);
    const whole = Buffer.concat(entry.parts as Buffer[]);
    const { packet: _item, ...rest } = entry.header;
    return {
      kind: 'complete',
      message: {
        packet: { header: { ...rest, serial: first, bodyLength: whole.length }, body: whole },
        serials: entry.serials,
      },
    };
  }

  /** Drops messages older than the timeout; returns what was dropped (to be counted). */
  expire(now: number): { msgId: number; parts: number; total: number }[] {
    const out: { msgId: number; parts: number; total: number }[] = [];
    for (const [key, entry] of this.pending) {
      if (now - entry.firstPacketAt < this.limits.timeoutMs) continue;
      this.drop(key, entry);
      out.push({ msgId: entry.header.msgId, parts: entry.received, total: entry.parts.length });
    }
    return out;
  }

  private drop(key: string, entry: Pending): void {
    this.pending.delete(key);
    this.held -= entry.bytes;
  }
}
