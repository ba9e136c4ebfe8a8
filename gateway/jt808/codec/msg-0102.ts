import { decodeGbk, Reader, Writer } from './bytes.ts';
import type { Edition } from './header.ts';

/**
 * 0x0102 终端鉴权, authentication (JT/T 808-2013 §8.8, table 10; 2019 §8.8, table 10):
 *   2013: authentication code STRING (the whole body)
 *   2019: code length BYTE | code STRING[n] | IMEI BYTE[15] | software version BYTE[20]
 * Answered by 0x8001.
 */
export interface Authentication {
  authCode: string;
  imei?: string;
  softwareVersion?: string;
}

export function decode0102(body: Buffer, edition: Edition): Authentication {
  if (edition === '2013') return { authCode: decodeGbk(body) };
  const r = new Reader(body, '0x0102 (2019)');
  const n = r.byte('code length');
  const authCode = r.gbk(n, 'authentication code');
  const imei = r.gbk(15, 'IMEI');
  const softwareVersion = r.gbk(20, 'software version');
  r.end();
  return { authCode, imei, softwareVersion };
}

export function encode0102(m: Authentication, edition: Edition): Buffer {
  const code = Buffer.from(m.authCode, 'latin1');
  if (edition === '2013') return code;
  return new Writer()
    .byte(code.length)
    .bytes(code)
    .fixed(Buffer.from(m.imei ?? '', 'latin1'), 15, 'IMEI')
    .fixed(Buffer.from(m.softwareVersion ?? '', 'latin1'), 20, 'software version')
    .toBuffer();
}
