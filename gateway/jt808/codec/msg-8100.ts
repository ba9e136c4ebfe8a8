import { decodeGbk, Reader, Writer } from './bytes.ts';

/**
 * 0x8100 终端注册应答, registration answer (JT/T 808-2013 §8.6, table 9; 2019 the same):
 * reply serial WORD | result BYTE | authentication code STRING (only when the result is 0).
 */
export const REGISTER_RESULT = {
  success: 0,
  /** 车辆已被注册 */
  vehicleAlreadyRegistered: 1,
  /** 数据库中无该车辆 */
  noSuchVehicle: 2,
  /** 终端已被注册 */
  terminalAlreadyRegistered: 3,
  /** 数据库中无该终端 */
  noSuchTerminal: 4,
} as const;

export interface RegisterAnswer {
  replySerial: number;
  result: number;
  /** ASCII in practice; sent as GBK STRING */
  authCode?: string;
}

export function encode8100(m: RegisterAnswer): Buffer {
  const w = new Writer().word(m.replySerial).byte(m.result);
  if (m.result === REGISTER_RESULT.success) w.bytes(Buffer.from(m.authCode ?? '', 'latin1'));
  return w.toBuffer();
}

export function decode8100(body: Buffer): RegisterAnswer {
  const r = new Reader(body, '0x8100');
  const replySerial = r.word('reply serial');
  const result = r.byte('result');
  if (result !== REGISTER_RESULT.success) return { replySerial, result };
  return { replySerial, result, authCode: decodeGbk(r.rest()) };
}
