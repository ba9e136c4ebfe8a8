/**
 * 0x8201 位置信息查询, location query (JT/T 808-2013 §8.19; 2019 the same): an empty body. The terminal
 * answers with 0x0201 carrying this message's serial.
 */
export function encode8201(): Buffer {
  return Buffer.alloc(0);
}
