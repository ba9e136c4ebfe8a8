import { decodeGbk, encodeGbk, Reader, Writer } from './bytes.ts';
import type { Edition } from './header.ts';

/**
 * 0x8300 文本信息下发, text message (JT/T 808-2013 §8.23, table 38; 2019 §8.23):
 *   2013: flags BYTE | text STRING (GBK)
 *   2019: flags BYTE | text type BYTE (1 notice 通知, 2 service 服务) | text STRING
 * Flags: bit 0 emergency, bit 2 terminal display, bit 3 TTS read aloud, bit 4 advertising screen (2013;
 * reserved in 2019), bit 5 0: navigation information, 1: CAN fault code. The terminal answers 0x0001.
 */
export const TEXT_FLAGS = { emergency: 1 << 0, display: 1 << 2, tts: 1 << 3 } as const;

export interface TextMessage {
  flags: number;
  text: string;
  /** 2019 only: 1 notice, 2 service (default 1) */
  textType?: number;
}

export function encode8300(m: TextMessage, edition: Edition): Buffer {
  const w = new Writer().byte(m.flags);
  if (edition === '2019') w.byte(m.textType ?? 1);
  return w.bytes(encodeGbk(m.text)).toBuffer();
}

export function decode8300(body: Buffer, edition: Edition): TextMessage {
  const r = new Reader(body, '0x8300');
  const flags = r.byte('flags');
  if (edition === '2019') {
    const textType = r.byte('text type');
    return { flags, textType, text: decodeGbk(r.rest()) };
  }
  return { flags, text: decodeGbk(r.rest()) };
}
