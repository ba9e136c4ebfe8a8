import { Reader, Writer } from './bytes.ts';

/**
 * 0x8001 平台通用应答, platform general reply (JT/T 808-2013 §8.2, table 6; 2019 the same):
 * reply serial WORD | reply id WORD | result BYTE.
 */
export const PLATFORM_RESULT = {
  /** 成功/确认 */
  success: 0,
  /** 失败 */
  failure: 1,
  /** 消息有误 */
  messageError: 2,
  /** 不支持 */
  unsupported: 3,
  /** 报警处理确认 */
  alarmAcknowledged: 4,
} as const;

export interface PlatformReply {
  replySerial: number;
  replyId: number;
  result: number;
}

export function encode8001(m: PlatformReply): Buffer {
  return new Writer().word(m.replySerial).word(m.replyId).byte(m.result).toBuffer();
}

export function decode8001(body: Buffer): PlatformReply {
  const r = new Reader(body, '0x8001');
  const out = { replySerial: r.word('reply serial'), replyId: r.word('reply id'), result: r.byte('result') };
  r.end();
  return out;
}
