/**
 * Framing, JT/T 808-2013 §4.4.1 标识位 and §4.4.3 校验码 (2019 §4.4.2 and §4.4.4):
 *
 *   0x7e | header | body | check code | 0x7e
 *
 * Inside the delimiters 0x7e is sent as 0x7d 0x02 and 0x7d as 0x7d 0x01; the sender computes the check
 * code and then escapes, the receiver unescapes and then verifies (§4.4.1). The check code is the XOR
 * of every byte of header and body (§4.4.3).
 *
 * Pure: FrameSplitter turns a TCP byte stream, cut anywhere, into escaped frame contents; no I/O.
 */

export const FLAG = 0x7e;
const ESC = 0x7d;

/**
 * Largest escaped content between two delimiters: a 1023-byte body (10-bit length, §4.4.2 消息体属性)
 * plus the longest header (2019: 17 bytes + 4 of the package item) and the check code, every byte
 * escaped to two. Anything longer is not a JT/T 808 frame.
 */
export const MAX_ESCAPED_CONTENT = 2 * (1023 + 21 + 1);

/** XOR of every byte (§4.4.3 校验码). */
export function xorCheck(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let x = 0;
  for (let i = start; i < end; i++) x ^= bytes[i]!;
  return x;
}

/** Escaping (§4.4.1): 0x7e → 0x7d 0x02, 0x7d → 0x7d 0x01. */
export function escapeFrame(raw: Uint8Array): Buffer {
  let extra = 0;
  for (const b of raw) if (b === FLAG || b === ESC) extra++;
  const out = Buffer.alloc(raw.length + extra);
  let j = 0;
  for (const b of raw) {
    if (b === FLAG) {
      out[j++] = ESC;
      out[j++] = 0x02;
    } else if (b === ESC) {
      out[j++] = ESC;
      out[j++] = 0x01;
    } else out[j++] = b;
  }
  return out;
}

/** a Buffer over the same bytes (the same object when it is one already) */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/**
 * Undoes escapeFrame(); undefined when a 0x7d is not followed by 0x01 or 0x02 (not a valid frame). A
 * frame without any 0x7d (most) comes back as the same bytes, not a copy.
 */
export function unescapeFrame(escaped: Uint8Array): Buffer | undefined {
  if (escaped.indexOf(ESC) === -1) return asBuffer(escaped);
  const out = Buffer.allocUnsafe(escaped.length);
  let j = 0;
  for (let i = 0; i < escaped.length; i++) {
    const b = escaped[i]!;
    if (b !== ESC) {
      out[j++] = b;
      continue;
    }
    const next = escaped[++i];
    if (next === 0x02) out[j++] = FLAG;
    else if (next === 0x01) out[j++] = ESC;
    else return undefined;
  }
  return out.subarray(0, j);
}

/** header + body → 0x7e | escape(header + body + check) | 0x7e, in one allocation (a reply per report) */
export function frame(...parts: Uint8Array[]): Buffer {
  let check = 0;
  let size = 3;
  for (const part of parts) {
    for (let i = 0; i < part.length; i++) {
      const b = part[i]!;
      check ^= b;
      size += b === FLAG || b === ESC ? 2 : 1;
    }
  }
  if (check === FLAG || check === ESC) size++;
  const out = Buffer.allocUnsafe(size);
  out[0] = FLAG;
  let j = 1;
  for (const part of parts) for (let i = 0; i < part.length; i++) j = putEscaped(out, j, part[i]!);
  j = putEscaped(out, j, check);
  out[j] = FLAG;
  return out;
}

/** writes one byte escaped (§4.4.1) at `j`; returns the next position */
function putEscaped(out: Buffer, j: number, b: number): number {
  if (b === FLAG) {
    out[j] = ESC;
    out[j + 1] = 0x02;
    return j + 2;
  }
  if (b === ESC) {
    out[j] = ESC;
    out[j + 1] = 0x01;
    return j + 2;
  }
  out[j] = b;
  return j + 1;
}

export type SplitEvent =
  /**
   * the escaped content between two delimiters (not yet unescaped or checked): a view of the pushed
   * chunk when the frame lies within it (so a caller must not reuse a chunk's memory once pushed, as a
   * socket's 'data' chunks never are), a copy when it came in pieces
   */
  | { kind: 'frame'; content: Buffer }
  /** bytes outside any frame (before a 0x7e), dropped */
  | { kind: 'garbage'; bytes: number }
  /** content longer than MAX_ESCAPED_CONTENT: dropped up to the next delimiter */
  | { kind: 'too_long'; bytes: number };

/**
 * Splits a byte stream into frames: several frames in one chunk, one frame over many chunks, bytes
 * between frames skipped. Memory is bounded: at most maxContent bytes are held, whatever arrives.
 *
 * A 0x7e opens a frame when none is open and closes it otherwise; an empty frame (0x7e 0x7e, the close
 * of one frame followed by the open of the next with nothing lost between them) only re-opens. When
 * the receiver refuses a frame (`emit` returns false: bad check code, truncated), its closing 0x7e is
 * taken as the opening of the next one, so a lost delimiter costs one frame, not two.
 */
export class FrameSplitter {
  private readonly held: Buffer;
  private length = 0;
  private open = false;
  /** the open frame grew past the limit: skip to the next delimiter */
  private overflowing = false;
  private overflowBytes = 0;

  constructor(private readonly maxContent = MAX_ESCAPED_CONTENT) {
    this.held = Buffer.alloc(maxContent);
  }

  /** bytes held for a frame not yet closed */
  get pending(): number {
    return this.length;
  }

  push(chunk: Uint8Array, emit: (event: SplitEvent) => boolean | undefined): void {
    let garbage = 0;
    let i = 0;
    while (i < chunk.length) {
      if (!this.open) {
        const start = chunk.indexOf(FLAG, i);
        if (start === -1) {
          garbage += chunk.length - i;
          break;
        }
        garbage += start - i;
        this.open = true;
        i = start + 1;
        continue;
      }
      const end = chunk.indexOf(FLAG, i);
      const stop = end === -1 ? chunk.length : end;
      const n = stop - i;
      /** the whole frame, when it lies within this chunk: no copy */
      let whole: Buffer | undefined;
      if (this.overflowing) {
        this.overflowBytes += n;
      } else if (this.length + n > this.maxContent) {
        this.overflowing = true;
        this.overflowBytes = this.length + n;
        this.length = 0;
      } else if (end !== -1 && this.length === 0) {
        if (n > 0) whole = asBuffer(chunk).subarray(i, stop);
      } else {
        this.held.set(chunk.subarray(i, stop), this.length);
        this.length += n;
      }
      if (end === -1) break;
      // a delimiter: close the open frame (or re-open after an empty one)
      if (garbage > 0) {
        emit({ kind: 'garbage', bytes: garbage });
        garbage = 0;
      }
      if (this.overflowing) {
        emit({ kind: 'too_long', bytes: this.overflowBytes });
        this.overflowing = false;
        this.overflowBytes = 0;
        this.open = false;
      } else if (whole !== undefined || this.length > 0) {
        const content = whole ?? Buffer.from(this.held.subarray(0, this.length));
        this.length = 0;
        const accepted = emit({ kind: 'frame', content });
        this.open = accepted === false;
      }
      i = end + 1;
    }
    if (garbage > 0) emit({ kind: 'garbage', bytes: garbage });
  }
}
