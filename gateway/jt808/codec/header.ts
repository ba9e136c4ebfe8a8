import { BodyError, decodeBcdAt, writeBcd } from './bytes.ts';

/**
 * Message header, JT/T 808-2013 §4.4.2 消息头 (table 2, figure 2 消息体属性) and its 2019 form (§4.4.3,
 * table 2): 2019 sets bit 14 of the body attributes (版本标识), adds a protocol version byte and widens the
 * terminal phone number from BCD[6] to BCD[10].
 *
 *   2013: msg id WORD | attributes WORD | phone BCD[6]  | serial WORD | [package item]      12 (+4) bytes
 *   2019: msg id WORD | attributes WORD | version BYTE | phone BCD[10] | serial WORD | [item]  17 (+4)
 *
 * Body attributes: bits 0-9 body length, 10-12 encryption (bit 10: RSA), 13 sub-package, 14 version flag
 * (2019), 15 reserved. Package item (消息包封装项, table 3): total packets WORD, packet index WORD from 1.
 */

export type Edition = '2013' | '2019';

export interface Header {
  msgId: number;
  edition: Edition;
  /** 2019 protocol version byte (1 for the 2019 edition); 0 for 2013 */
  protocolVersion: number;
  /** the terminal phone number (终端手机号) as its BCD digits, leading zeros kept */
  phone: string;
  serial: number;
  bodyLength: number;
  /** encryption bits 10-12: 0 none, 1 RSA */
  encryption: number;
  /** present when the message is one packet of a sub-packaged message */
  packet?: { total: number; index: number };
}

const VERSION_FLAG = 1 << 14;
const SUBPACKAGE_FLAG = 1 << 13;

export function headerLength(attributes: number): number {
  const base = attributes & VERSION_FLAG ? 17 : 12;
  return attributes & SUBPACKAGE_FLAG ? base + 4 : base;
}

/**
 * Decodes the header at the start of an unescaped frame whose header and body end at `end` (before the
 * check code; default: `raw` holds header and body only).
 */
export function decodeHeader(raw: Buffer, end = raw.length): Header {
  if (end < 4) throw new BodyError(`header: ${end} bytes, at least 12 needed`);
  const msgId = raw.readUInt16BE(0);
  const attributes = raw.readUInt16BE(2);
  const size = headerLength(attributes);
  if (end < size) throw new BodyError(`header: ${end} bytes, ${size} needed`);
  const is2019 = (attributes & VERSION_FLAG) !== 0;
  let pos = 4;
  const protocolVersion = is2019 ? raw[pos++]! : 0;
  const phoneBytes = is2019 ? 10 : 6;
  const phone = decodeBcdAt(raw, pos, phoneBytes);
  pos += phoneBytes;
  const serial = raw.readUInt16BE(pos);
  pos += 2;
  const header: Header = {
    msgId,
    edition: is2019 ? '2019' : '2013',
    protocolVersion,
    phone,
    serial,
    bodyLength: attributes & 0x3ff,
    encryption: (attributes >> 10) & 0x7,
  };
  if (attributes & SUBPACKAGE_FLAG) {
    const total = raw.readUInt16BE(pos);
    const index = raw.readUInt16BE(pos + 2);
    // table 3: the index counts from 1 up to the total
    if (total < 1 || index < 1 || index > total) {
      throw new BodyError(`package item: packet ${index} of ${total}`);
    }
    header.packet = { total, index };
  }
  return header;
}

export interface HeaderInput {
  msgId: number;
  edition: Edition;
  phone: string;
  serial: number;
  bodyLength: number;
  /** 2019 only; default 1 */
  protocolVersion?: number;
  packet?: { total: number; index: number };
}

export function encodeHeader(h: HeaderInput): Buffer {
  if (h.bodyLength > 0x3ff) throw new Error(`body of ${h.bodyLength} bytes exceeds 1023: sub-package it`);
  const is2019 = h.edition === '2019';
  let attributes = h.bodyLength;
  if (is2019) attributes |= VERSION_FLAG;
  if (h.packet) attributes |= SUBPACKAGE_FLAG;
  // every byte is written below
  const out = Buffer.allocUnsafe(headerLength(attributes));
  out.writeUInt16BE(h.msgId, 0);
  out.writeUInt16BE(attributes, 2);
  let pos = 4;
  if (is2019) out[pos++] = h.protocolVersion ?? 1;
  const phoneBytes = is2019 ? 10 : 6;
  writeBcd(out, pos, h.phone.length > 2 * phoneBytes ? h.phone.slice(-2 * phoneBytes) : h.phone, phoneBytes);
  pos += phoneBytes;
  out.writeUInt16BE(h.serial & 0xffff, pos);
  pos += 2;
  if (h.packet) {
    out.writeUInt16BE(h.packet.total, pos);
    out.writeUInt16BE(h.packet.index, pos + 2);
  }
  return out;
}
