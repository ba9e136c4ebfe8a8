import { decodeGbk, Reader, Writer } from './bytes.ts';
import type { Edition } from './header.ts';

/**
 * 0x0100 终端注册, registration (JT/T 808-2013 §8.5, table 8; 2019 §8.5, table 8 widened):
 *
 *   province WORD | city/county WORD | maker BYTE[5] | model BYTE[20] | terminal id BYTE[7]
 *   | plate colour BYTE (0: no plate, 2019) | plate STRING (GBK; VIN when the colour is 0)
 *
 * 2019: maker BYTE[11], model BYTE[30], terminal id BYTE[30]. 2011 (still in the field): model BYTE[8],
 * told apart from 2013 by the body length (a 2013 body is at least 37 bytes before the plate, a 2011
 * one 25). Fixed-width fields are padded with NULs; some terminals pad with leading ASCII '0' instead,
 * which is kept as sent (the binding compares ids as registered).
 */
export interface Registration {
  province: number;
  city: number;
  maker: string;
  model: string;
  terminalId: string;
  plateColor: number;
  plate: string;
}

const WIDTHS = {
  '2011': { maker: 5, model: 8, terminalId: 7 },
  '2013': { maker: 5, model: 20, terminalId: 7 },
  '2019': { maker: 11, model: 30, terminalId: 30 },
} as const;

export function decode0100(body: Buffer, edition: Edition): Registration {
  // 2013 fixed part: 2+2+5+20+7+1 = 37 bytes; a shorter body is the 2011 layout (25 bytes + plate)
  const layout = edition === '2019' ? '2019' : body.length < 37 ? '2011' : '2013';
  const w = WIDTHS[layout];
  const r = new Reader(body, `0x0100 (${layout})`);
  return {
    province: r.word('province'),
    city: r.word('city/county'),
    maker: r.gbk(w.maker, 'maker id').trim(),
    model: r.gbk(w.model, 'terminal model').trim(),
    terminalId: r.gbk(w.terminalId, 'terminal id').trim(),
    plateColor: r.byte('plate colour'),
    plate: decodeGbk(r.rest()).trim(),
  };
}

/** The terminal side (simulator, tests): ASCII fields only; the plate as GBK bytes. */
export function encode0100(m: Omit<Registration, 'plate'> & { plateGbk: Buffer }, edition: Edition): Buffer {
  const w = WIDTHS[edition === '2019' ? '2019' : '2013'];
  return new Writer()
    .word(m.province)
    .word(m.city)
    .fixed(Buffer.from(m.maker, 'latin1'), w.maker, 'maker id')
    .fixed(Buffer.from(m.model, 'latin1'), w.model, 'terminal model')
    .fixed(Buffer.from(m.terminalId, 'latin1'), w.terminalId, 'terminal id')
    .byte(m.plateColor)
    .bytes(m.plateGbk)
    .toBuffer();
}
