import { Reader } from './bytes.ts';
import { type Location, readLocation } from './msg-0200.ts';

/**
 * 0x0201 位置信息查询应答, location query answer (JT/T 808-2013 §8.20, table 33; 2019 the same):
 * reply serial WORD (of the 0x8201 it answers) | location report (as 0x0200).
 */
export interface LocationAnswer {
  replySerial: number;
  location: Location;
}

export function decode0201(body: Buffer): LocationAnswer {
  const r = new Reader(body, '0x0201');
  const replySerial = r.word('reply serial');
  return { replySerial, location: readLocation(r, body.length) };
}
