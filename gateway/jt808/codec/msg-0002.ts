import { Reader } from './bytes.ts';

/**
 * 0x0002 终端心跳, heartbeat (JT/T 808-2013 §8.3; 2019 the same): an empty body, answered by 0x8001.
 * The terminal sends it when it has nothing else to send for its heartbeat interval (parameter 0x0001 of
 * 0x8103, §5.2 连接的维持).
 */
export function decode0002(body: Buffer): void {
  new Reader(body, '0x0002 heartbeat').end();
}
