import { thresholds } from '../thresholds/low-battery.ts';
import { lowReadingRule } from './low-reading.ts';

/** LOW_BATTERY (电量不足): a body camera on duty under `lowBatteryPct` (rules/low-reading.ts). */

// Declared in a module of its own, which imports nothing of the engine, so that the engine's
// Thresholds type (thresholds/index.ts) is built from every rule's without an import cycle.
export { thresholds };

export const lowBattery = { ...lowReadingRule('LOW_BATTERY', 'battery', 'lowBatteryPct'), thresholds };
