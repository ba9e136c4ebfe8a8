/**
 * Data types of JT/T 808-2013 §4.2 (2019 §4.2): BYTE, WORD, DWORD (big-endian, §4.3 传输规则), BYTE[n],
 * BCD[n] (8421 code) and STRING (GBK). A Reader never reads past its end: a body shorter than its
 * message's table says throws BodyError, which the packet layer refuses as `malformed_body`.
 */

/** A body that does not match its message's table (too short, a bad BCD digit, an impossible value). */
export class BodyError extends Error {
  override name = 'BodyError';
}

// ICU's GBK decoder (Node's full-icu build); GBK is a subset of GB18030, which the decoder also reads.
const gbkDecoder = new TextDecoder('gbk');

/** STRING (§4.2): GBK; trailing NULs (fixed-width fields are padded with 0x00) are dropped. */
export function decodeGbk(bytes: Uint8Array): string {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return gbkDecoder.decode(bytes.subarray(0, end));
}

/**
 * STRING (§4.2) the other way: text → GBK. Built once from the same ICU decoder, by decoding every
 * two-byte GBK code (lead 0x81-0xFE, trail 0x40-0xFE but 0x7F) and keeping the first code per
 * character: no table of our own to get wrong, and the two directions agree by construction.
 */
let gbkEncodeMap: Map<number, number> | undefined;
function gbkTable(): Map<number, number> {
  if (gbkEncodeMap !== undefined) return gbkEncodeMap;
  const map = new Map<number, number>();
  const strict = new TextDecoder('gbk', { fatal: true });
  const pair = new Uint8Array(2);
  for (let lead = 0x81; lead <= 0xfe; lead++) {
    for (let trail = 0x40; trail <= 0xfe; trail++) {
      if (trail === 0x7f) continue;
      pair[0] = lead;
      pair[1] = trail;
      let ch: string;
      try {
        ch = strict.decode(pair);
      } catch {
        continue;
      }
      const cp = ch.codePointAt(0)!;
      if (ch.length === 1 && !map.has(cp)) map.set(cp, (lead << 8) | trail);
    }
  }
  gbkEncodeMap = map;
  return map;
}

/** text → GBK bytes; a character GBK cannot hold is an error naming it (never a silent '?') */
export function encodeGbk(text: string): Buffer {
  const out: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) {
      out.push(cp);
      continue;
    }
    const code = gbkTable().get(cp);
    if (code === undefined) throw new Error(`"${ch}" (U+${cp.toString(16).toUpperCase()}) has no GBK code`);
    out.push(code >> 8, code & 0xff);
  }
  return Buffer.from(out);
}

/** the two digits of every BCD byte (0x00-0x99), undefined for a byte with a nibble above 9 */
const BCD_DIGITS: (string | undefined)[] = Array.from({ length: 256 }, (_, b) =>
  b >> 4 > 9 || (b & 0x0f) > 9 ? undefined : `${b >> 4}${b & 0x0f}`,
);

function badBcd(b: number): BodyError {
  return new BodyError(`BCD byte 0x${b.toString(16).padStart(2, '0')} is not 8421 code`);
}

/** BCD[n] → its decimal digits; a nibble above 9 is not BCD. */
export function decodeBcd(bytes: Uint8Array): string {
  return decodeBcdAt(bytes, 0, bytes.length);
}

/** BCD[n] at `offset` of `bytes` → its decimal digits (a header's phone, read without a view of it). */
export function decodeBcdAt(bytes: Uint8Array, offset: number, n: number): string {
  let out = '';
  for (let i = offset; i < offset + n; i++) {
    const b = bytes[i]!;
    const two = BCD_DIGITS[b];
    if (two === undefined) throw badBcd(b);
    out += two;
  }
  return out;
}

/** one BCD byte as its number 0-99 */
function bcdByte(b: number): number {
  const hi = b >> 4;
  const lo = b & 0x0f;
  if (hi > 9 || lo > 9) throw badBcd(b);
  return hi * 10 + lo;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** digits → BCD[n], left-padded with 0 (a phone number shorter than the field, §4.4.2 note). */
export function encodeBcd(digits: string, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  writeBcd(out, 0, digits, n);
  return out;
}

/**
 * digits → BCD[n] written into `out` at `offset`, left-padded with 0: every byte of the field is written
 * (a reply's header is encoded into one buffer, no BCD buffer of its own).
 */
export function writeBcd(out: Uint8Array, offset: number, digits: string, n: number): void {
  if (digits.length > 2 * n) throw new Error(`${digits} has more than the ${2 * n} digits of BCD[${n}]`);
  const pad = 2 * n - digits.length;
  for (let i = 0; i < 2 * n; i += 2)
    out[offset + i / 2] = (bcdDigit(digits, i - pad) << 4) | bcdDigit(digits, i + 1 - pad);
}

/** the digit at `i` of `digits` (0 before its start: the padding) */
function bcdDigit(digits: string, i: number): number {
  if (i < 0) return 0;
  const d = digits.charCodeAt(i) - 48;
  if (!(d >= 0 && d <= 9)) throw new Error(`BCD takes digits only, got ${JSON.stringify(digits)}`);
  return d;
}

/**
 * BCD[6] YY-MM-DD-hh-mm-ss in China time (GMT+8, §8.18 table 23 note "时间...GMT+8 时间") → UTC epoch ms.
 * The year is 20YY. An impossible date (month 13, 31 February) is a BodyError, never a shifted instant.
 */
export function decodeBcdTime(bytes: Uint8Array): number {
  if (bytes.length !== 6) throw new BodyError(`time: ${bytes.length} bytes, BCD[6] expected`);
  return bcdTimeAt(bytes, 0);
}

/** decodeBcdTime of the six bytes at `offset` (Reader.bcdTime: no view of them) */
function bcdTimeAt(bytes: Uint8Array, offset: number): number {
  const year = 2000 + bcdByte(bytes[offset]!);
  const month = bcdByte(bytes[offset + 1]!);
  const day = bcdByte(bytes[offset + 2]!);
  const hour = bcdByte(bytes[offset + 3]!);
  const minute = bcdByte(bytes[offset + 4]!);
  const second = bcdByte(bytes[offset + 5]!);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
  if (month < 1 || month > 12 || day < 1 || day > days || hour > 23 || minute > 59 || second > 59) {
    throw new BodyError(`time ${decodeBcdAt(bytes, offset, 6)} is not a valid YYMMDDhhmmss`);
  }
  return Date.UTC(year, month - 1, day, hour, minute, second) - 8 * 3_600_000;
}

/** UTC epoch ms → BCD[6] YYMMDDhhmmss in China time (GMT+8). */
export function encodeBcdTime(ms: number): Buffer {
  const t = new Date(ms + 8 * 3_600_000);
  const two = (n: number) => String(n).padStart(2, '0');
  const digits =
    two(t.getUTCFullYear() % 100) +
    two(t.getUTCMonth() + 1) +
    two(t.getUTCDate()) +
    two(t.getUTCHours()) +
    two(t.getUTCMinutes()) +
    two(t.getUTCSeconds());
  return encodeBcd(digits, 6);
}

/** Sequential, bounds-checked reads of a message body. */
export class Reader {
  private pos = 0;
  constructor(
    private readonly buf: Buffer,
    /** what is being read, named in errors */
    private readonly what: string,
  ) {}

  get offset(): number {
    return this.pos;
  }
  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number, field: string): void {
    if (this.pos + n > this.buf.length) {
      throw new BodyError(
        `${this.what}: ${field} needs ${n} byte(s) at offset ${this.pos}, the body has ${this.buf.length}`,
      );
    }
  }
  byte(field: string): number {
    this.need(1, field);
    return this.buf[this.pos++]!;
  }
  word(field: string): number {
    this.need(2, field);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  dword(field: string): number {
    this.need(4, field);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  bytes(n: number, field: string): Buffer {
    this.need(n, field);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  bcd(n: number, field: string): string {
    return decodeBcd(this.bytes(n, field));
  }
  /** BCD[6] time (decodeBcdTime) */
  bcdTime(field: string): number {
    this.need(6, field);
    const v = bcdTimeAt(this.buf, this.pos);
    this.pos += 6;
    return v;
  }
  /** fixed-width STRING field (BYTE[n] holding GBK text, NUL padded) */
  gbk(n: number, field: string): string {
    return decodeGbk(this.bytes(n, field));
  }
  /** the rest of the body as STRING */
  rest(): Buffer {
    const v = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    return v;
  }
  /** a body longer than its table says is malformed too */
  end(): void {
    if (this.pos !== this.buf.length) {
      throw new BodyError(`${this.what}: ${this.buf.length - this.pos} byte(s) after the last field`);
    }
  }
}

/**
 * Sequential writes of a message body, into one buffer that grows as needed (a field is not a buffer of
 * its own: a reply per location report is encoded on the hot path).
 */
export class Writer {
  private buf = Buffer.allocUnsafe(64);
  private length = 0;

  /** reserves n bytes at the end (growing the buffer first); returns their offset */
  private room(n: number): number {
    const at = this.length;
    if (at + n > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(2 * this.buf.length, at + n));
      this.buf.copy(bigger, 0, 0, at);
      this.buf = bigger;
    }
    this.length = at + n;
    return at;
  }
  // each write reserves its room before it reads this.buf: room() may replace it
  byte(v: number): this {
    const at = this.room(1);
    this.buf[at] = v & 0xff;
    return this;
  }
  word(v: number): this {
    const at = this.room(2);
    this.buf.writeUInt16BE(v & 0xffff, at);
    return this;
  }
  dword(v: number): this {
    const at = this.room(4);
    this.buf.writeUInt32BE(v >>> 0, at);
    return this;
  }
  bytes(b: Uint8Array): this {
    const at = this.room(b.length);
    this.buf.set(b, at);
    return this;
  }
  bcd(digits: string, n: number): this {
    const at = this.room(n);
    writeBcd(this.buf, at, digits, n);
    return this;
  }
  /** BYTE[n] field: the bytes, NUL-padded; longer input is an error (never silently cut) */
  fixed(b: Uint8Array, n: number, field: string): this {
    if (b.length > n) throw new Error(`${field} is ${b.length} bytes, the field holds ${n}`);
    const at = this.room(n);
    this.buf.set(b, at);
    this.buf.fill(0, at + b.length, at + n);
    return this;
  }
  /** the body written (the writer's own bytes, not a copy: write nothing more after this) */
  toBuffer(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}
