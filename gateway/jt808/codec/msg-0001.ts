import { Reader, Writer } from './bytes.ts';

/**
 * 0x0001 终端通用应答, terminal general reply (JT/T 808-2013 §8.1, table 5; 2019 the same):
 * reply serial WORD | reply id WORD | result BYTE (0 success/acknowledged, 1 failure, 2 message error,
 * 3 unsupported).
 */
export const TERMINAL_RESULTS = ['success', 'failure', 'message_error', 'unsupported'] as const;
export type TerminalResult = (typeof TERMINAL_RESULTS)[number];

export interface TerminalReply {
  replySerial: number;
  replyId: number;
  /** the result byte; names in TERMINAL_RESULTS, other values kept as numbers */
  result: number;
}

export function decode0001(body: Buffer): TerminalReply {
  const r = new Reader(body, '0x0001');
  const out = { replySerial: r.word('reply serial'), replyId: r.word('reply id'), result: r.byte('result') };
  r.end();
  return out;
}

export function encode0001(m: TerminalReply): Buffer {
  return new Writer().word(m.replySerial).word(m.replyId).byte(m.result).toBuffer();
}
