import { thresholds } from '../thresholds/confirm.ts';

/**
 * Signal confirmation (domain.md, "Sensors glitch"): load state, weight and cover switches flicker for
 * seconds, and a violation here becomes a fine, so a rule acts on a change of a sensor reading only once
 * the change is confirmed. One definition for every signal and every rule (the load detector of
 * load-events.ts, and through it NO_PERMIT, ILLEGAL_DUMP, WRONG_SITE, SPILLAGE, the trip tracker and the
 * `loaded` fact every loaded-truck rule reads):
 *
 * - a change starts PENDING at the first fix that shows it (the onset: its instant and position are the
 *   ones a violation resting on it carries);
 * - it is CONFIRMED at the first fix, at least `sensorConfirmMs` (60 s) after the onset, that still shows
 *   it (it persisted), or earlier at a fix where another signal corroborates it (lift up, a weight change
 *   beyond the threshold, the load state: each rule says which);
 * - it is a GLITCH when a fix shows the reading back before it was confirmed (domain.md: "a reading that
 *   returns within 60 s is a sensor glitch"). The first fix at or after the confirmation time decides: a
 *   reading seen back there was not shown to persist, whatever happened between two fixes. Glitches are
 *   counted per vehicle (the detector's `gl`, the engine state's data-quality figure): a terminal that
 *   flickers all day is a maintenance issue for its firm, reported, never fined.
 *
 * Pure: the caller keeps the onset in its own state and asks at every fix with a reading.
 */

// Declared in a module of its own, which imports nothing of the engine, so that the engine's
// Thresholds type (thresholds/index.ts) is built from every rule's without an import cycle.
export { thresholds };

export type Verdict = 'pending' | 'confirmed' | 'glitch';

/**
 * The verdict on a pending change at a fix: `stillChanged` whether this fix still shows the change
 * (a fix without the reading should not be asked), `corroborated` whether another signal confirms it.
 */
export function verdict(
  onsetTs: number,
  ts: number,
  stillChanged: boolean,
  corroborated: boolean,
  confirmMs: number,
): Verdict {
  if (!stillChanged) return 'glitch';
  if (corroborated || ts - onsetTs >= confirmMs) return 'confirmed';
  return 'pending';
}
