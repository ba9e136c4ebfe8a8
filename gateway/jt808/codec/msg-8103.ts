import { Reader, Writer } from './bytes.ts';

/**
 * 0x8103 设置终端参数, set terminal parameters (JT/T 808-2013 §8.9, tables 11 and 12; 2019 the same):
 * count BYTE | count x (parameter id DWORD | length BYTE | value). The terminal answers 0x0001.
 *
 * The gateway sets DWORD parameters of table 12 only, e.g. 0x0001 heartbeat interval (s), 0x0029
 * default report interval (s), 0x0027 report interval while sleeping, 0x0028 in an emergency alarm.
 */
export const PARAMETER = {
  heartbeatIntervalS: 0x0001,
  replyTimeoutS: 0x0002,
  retransmissions: 0x0003,
  sleepReportIntervalS: 0x0027,
  emergencyReportIntervalS: 0x0028,
  defaultReportIntervalS: 0x0029,
} as const;

export interface DwordParameter {
  id: number;
  value: number;
}

export function encode8103(params: readonly DwordParameter[]): Buffer {
  if (params.length === 0 || params.length > 255) throw new Error('0x8103 sets 1 to 255 parameters');
  const w = new Writer().byte(params.length);
  for (const p of params) w.dword(p.id).byte(4).dword(p.value);
  return w.toBuffer();
}

/** Terminal side (simulator, tests): every parameter with its raw value bytes. */
export function decode8103(body: Buffer): { id: number; value: Buffer }[] {
  const r = new Reader(body, '0x8103');
  const n = r.byte('count');
  const out: { id: number; value: Buffer }[] = [];
  for (let i = 0; i < n; i++) {
    const id = r.dword('parameter id');
    const len = r.byte('parameter length');
    out.push({ id, value: r.bytes(len, `parameter 0x${id.toString(16)}`) });
  }
  r.end();
  return out;
}
