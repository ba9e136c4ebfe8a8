import type { Fix } from '../core/fix.ts';

/**
 * Downsampling of a track (oldest first), pure and deterministic so that the same query always returns
 * the same points:
 *  - `intervalMs`: the first fix of every interval, intervals aligned on the epoch (so two queries over
 *    overlapping ranges pick the same fixes where they overlap);
 *  - `maxPoints`: at most this many fixes, evenly spread by index, first and last always kept.
 * Both given: the interval first, then the cap.
 */
export interface SampleOptions {
  intervalMs?: number;
  maxPoints?: number;
}

export function byInterval<T extends Pick<Fix, 'ts'>>(fixes: readonly T[], intervalMs: number): T[] {
  const out: T[] = [];
  let bucket = Number.NEGATIVE_INFINITY;
  for (const fix of fixes) {
    const b = Math.floor(fix.ts / intervalMs);
    if (b !== bucket) {
      out.push(fix);
      bucket = b;
    }
  }
  return out;
}

export function byCount<T>(fixes: readonly T[], maxPoints: number): T[] {
  const n = fixes.length;
  if (n <= maxPoints) return [...fixes];
  if (maxPoints === 1) return [fixes[0] as T];
  const out: T[] = [];
  // n > maxPoints, so the step (n-1)/(maxPoints-1) is > 1 and the rounded indices are distinct.
  for (let i = 0; i < maxPoints; i++) out.push(fixes[Math.round((i * (n - 1)) / (maxPoints - 1))] as T);
  return out;
}

export function downsample<T extends Pick<Fix, 'ts'>>(fixes: readonly T[], opts: SampleOptions): T[] {
  let out: readonly T[] = fixes;
  if (opts.intervalMs !== undefined) out = byInterval(out, opts.intervalMs);
  if (opts.maxPoints !== undefined) out = byCount(out, opts.maxPoints);
  return [...out];
}

/** `60s`, `5m`, `1h`, `500ms` or plain seconds (`90`); undefined when it is none of these. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,9})(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
}
