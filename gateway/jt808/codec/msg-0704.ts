import { BodyError, Reader, Writer } from './bytes.ts';
import { type Location, readLocation } from './msg-0200.ts';

/**
 * 0x0704 定位数据批量上传, batch location upload (JT/T 808-2013 §8 定位数据批量上传, table 89; 2019
 * the same): count WORD | type BYTE (0: normal batch, 1: blind-area backfill 盲区补报) | count x
 * (length WORD | location report as 0x0200).
 */
export interface LocationBatch {
  /** 0 normal batch, 1 blind-area backfill */
  type: number;
  locations: Location[];
}

export function decode0704(body: Buffer): LocationBatch {
  const r = new Reader(body, '0x0704');
  const count = r.word('count');
  const type = r.byte('type');
  const locations: Location[] = [];
  for (let i = 0; i < count; i++) {
    const len = r.word(`length of item ${i + 1}`);
    const start = r.offset;
    const end = start + len;
    if (end > body.length) {
      throw new BodyError(`0x0704: item ${i + 1} declares ${len} bytes, ${body.length - start} are left`);
    }
    const location = readLocation(r, end);
    locations.push(location);
  }
  r.end();
  return { type, locations };
}

export function encode0704(type: number, items: readonly Buffer[]): Buffer {
  const w = new Writer().word(items.length).byte(type);
  for (const item of items) w.word(item.length).bytes(item);
  return w.toBuffer();
}
