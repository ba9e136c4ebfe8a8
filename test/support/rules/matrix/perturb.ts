/**
 * What the field does to a clean track (tracks.ts): position noise and report-time jitter on the fixes,
 * redelivered and late copies between them, neighbouring fixes swapped in delivery.
 */
import type { Fix } from '../../../../core/fix.ts';
import { gaussian, type Item, isFix, prng } from '../track-kit.ts';
import { pt, xyOf } from './world.ts';

/** Gaussian position noise, `sigmaM` per axis (15 m: a compliant terminal, JT/T 794) */
export function withNoise(fixes: readonly Fix[], seed: number, sigmaM = 15): Fix[] {
  const g = gaussian(prng(seed));
  return fixes.map((f) => {
    const [x, y] = xyOf(f);
    const [lon, lat] = pt(x + g() * sigmaM, y + g() * sigmaM);
    return { ...f, lon, lat };
  });
}

/** report-time jitter: each ts moved by up to +-maxMs (keep it under half the interval to keep the order) */
export function withJitter(fixes: readonly Fix[], seed: number, maxMs: number): Fix[] {
  const r = prng(seed);
  return fixes.map((f) => {
    const d = Math.round((r() * 2 - 1) * maxMs);
    return { ...f, ts: f.ts + d, received: f.received + d };
  });
}

/**
 * Redelivery: every fix arrives in order, and in between exact duplicates (QoS 1 redelivery) and late
 * copies of fixes already judged (JT/T 808 0x0704 backfill of something the platform already has).
 */
export function redelivered(items: readonly Item[], seed: number): Item[] {
  const r = prng(seed);
  const out: Item[] = [];
  const seen: Fix[] = [];
  for (const item of items) {
    out.push(item);
    if (!isFix(item)) continue;
    seen.push(item);
    if (r() < 0.3) out.push({ ...item });
    if (seen.length > 2 && r() < 0.25) {
      const back = 1 + Math.floor(r() * Math.min(seen.length - 1, 12));
      out.push({ ...seen[seen.length - 1 - back]!, late: true, received: item.received + 1 });
    }
  }
  return out;
}

/**
 * Out of order: some pairs of neighbouring fixes are swapped in delivery (ticks stay where they are); the
 * engine judges the later one and skips the earlier (it arrives at or before the last judged instant).
 * Returns the delivery and the items the engine is expected to judge (in-order delivery of the same).
 */
export function swapped(items: readonly Item[], seed: number): { delivery: Item[]; judged: Item[] } {
  const r = prng(seed);
  const delivery = items.slice();
  for (let i = 1; i + 1 < delivery.length; i++) {
    const a = delivery[i]!;
    const b = delivery[i + 1]!;
    if (isFix(a) && isFix(b) && r() < 0.12) {
      delivery[i] = { ...b };
      delivery[i + 1] = { ...a, late: true };
      i++;
    }
  }
  const judged: Item[] = [];
  let last = Number.NEGATIVE_INFINITY;
  for (const item of delivery) {
    if (!isFix(item)) judged.push(item);
    else if (item.ts > last) {
      judged.push(item.late ? { ...item, late: false } : item);
      last = item.ts;
    }
  }
  return { delivery, judged };
}
