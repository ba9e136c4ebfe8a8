import { Reader } from './bytes.ts';

/**
 * 0x0003 终端注销, deregistration (JT/T 808-2013 §8.7; 2019 the same): an empty body, answered by 0x8001.
 * The terminal gives up its authentication code and registers again before it next reports.
 */
export function decode0003(body: Buffer): void {
  new Reader(body, '0x0003 deregistration').end();
}
