import { BodyError } from './bytes.ts';
import { frame, unescapeFrame, xorCheck } from './frame.ts';
import { decodeHeader, type Edition, encodeHeader, type Header, headerLength } from './header.ts';
import type { Jt808Refusal } from './refusals.ts';

/** One checked message: header and body, both unescaped. */
export interface Packet {
  header: Header;
  body: Buffer;
}

export type FrameResult =
  | { ok: true; packet: Packet }
  | { ok: false; reason: Jt808Refusal; detail: string; header?: Header };

/**
 * Escaped frame content (between the delimiters) → a packet: unescapeFrame (§4.4.1), verify the check code
 * (§4.4.3), decode the header (§4.4.2) and check the body length it declares against the bytes received.
 */
export function decodeFrame(content: Uint8Array): FrameResult {
  const raw = unescapeFrame(content);
  if (raw === undefined)
    return { ok: false, reason: 'bad_escape', detail: '0x7d not followed by 0x01 or 0x02' };
  if (raw.length < 13) {
    return { ok: false, reason: 'truncated', detail: `${raw.length} bytes, a frame has at least 13` };
  }
  const check = raw[raw.length - 1]!;
  const computed = xorCheck(raw, 0, raw.length - 1);
  if (check !== computed) {
    return {
      ok: false,
      reason: 'bad_check_code',
      detail: `check code 0x${hex2(check)}, computed 0x${hex2(computed)}`,
    };
  }
  // header and body: everything before the check code
  const end = raw.length - 1;
  let header: Header;
  try {
    header = decodeHeader(raw, end);
  } catch (err) {
    if (!(err instanceof BodyError)) throw err;
    const attributes = raw.readUInt16BE(2);
    return end < headerLength(attributes)
      ? { ok: false, reason: 'truncated', detail: err.message }
      : { ok: false, reason: 'malformed_body', detail: err.message };
  }
  const size = headerLength(raw.readUInt16BE(2));
  const body = raw.subarray(size, end);
  if (body.length !== header.bodyLength) {
    return {
      ok: false,
      reason: 'truncated',
      detail: `body attributes say ${header.bodyLength} bytes, the frame carries ${body.length}`,
      header,
    };
  }
  if (header.encryption !== 0) {
    return {
      ok: false,
      reason: 'unsupported_encryption',
      detail: `encryption bits ${header.encryption} (RSA is not supported)`,
      header,
    };
  }
  return { ok: true, packet: { header, body } };
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

export interface EncodeInput {
  msgId: number;
  edition: Edition;
  phone: string;
  serial: number;
  body: Uint8Array;
  protocolVersion?: number;
  packet?: { total: number; index: number };
}

/** A complete escaped frame, delimiters included, ready for the socket. */
export function encodeFrame(m: EncodeInput): Buffer {
  const header = encodeHeader({
    msgId: m.msgId,
    edition: m.edition,
    phone: m.phone,
    serial: m.serial,
    bodyLength: m.body.length,
    ...(m.protocolVersion !== undefined ? { protocolVersion: m.protocolVersion } : {}),
    ...(m.packet ? { packet: m.packet } : {}),
  });
  return frame(header, m.body);
}

/**
 * A body longer than 1023 bytes as sub-packages (§4.4.2, 消息包封装项): consecutive serials from
 * `firstSerial`, packets of at most `maxBody` bytes.
 */
export function encodeFrames(m: Omit<EncodeInput, 'packet'>, maxBody = 1023): Buffer[] {
  if (m.body.length <= maxBody) return [encodeFrame(m)];
  const total = Math.ceil(m.body.length / maxBody);
  const out: Buffer[] = [];
  for (let i = 0; i < total; i++) {
    out.push(
      encodeFrame({
        ...m,
        serial: (m.serial + i) & 0xffff,
        body: m.body.subarray(i * maxBody, (i + 1) * maxBody),
        packet: { total, index: i + 1 },
      }),
    );
  }
  return out;
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
