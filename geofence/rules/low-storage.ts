import { thresholds } from '../thresholds/low-storage.ts';
import { lowReadingRule } from './low-reading.ts';

/** LOW_STORAGE (存储不足): a body camera on duty with less free storage than `lowStorageMB` (rules/low-reading.ts). */

// Declared in a module of its own, which imports nothing of the engine, so that the engine's
// Thresholds type (thresholds/index.ts) is built from every rule's without an import cycle.
export { thresholds };

export const lowStorage = { ...lowReadingRule('LOW_STORAGE', 'storageFree', 'lowStorageMB'), thresholds };
