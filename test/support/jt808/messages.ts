/**
 * The world and helpers of the messages tests (test/gateway/jt808/messages*.test.ts).
 */

import { FrameSplitter } from '../../../gateway/jt808/codec/frame.ts';
import type { Edition } from '../../../gateway/jt808/codec/header.ts';
import { decodeFrame, encodeFrame, type Packet } from '../../../gateway/jt808/codec/packet.ts';

export const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** one whole frame (delimiters included) → its checked packet */
export function packet(frameHex: string): Packet {
  let out: Packet | undefined;
  new FrameSplitter().push(hex(frameHex), (e) => {
    if (e.kind !== 'frame') return undefined;
    const r = decodeFrame(e.content);
    if (!r.ok) throw new Error(`${r.reason}: ${r.detail}`);
    out = r.packet;
    return true;
  });
  if (out === undefined) throw new Error('no frame');
  return out;
}
export const frameHex = (msgId: number, edition: Edition, phone: string, serial: number, body: Buffer) =>
  encodeFrame({ msgId, edition, phone, serial, body }).toString('hex').toUpperCase();

/** "2018-07-15 10:10:10" China time (GMT+8) as UTC epoch ms */
export const cst = (s: string) => Date.parse(`${s.replace(' ', 'T')}+08:00`);
