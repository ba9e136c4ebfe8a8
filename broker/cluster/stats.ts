import { type BrokerStats, emptyStats } from '../metrics.ts';

/**
 * The broker figures of several edge processes as one broker's: every number added up, and every
 * record of numbers key by key (connections, counters, a connection cap: the total is the capacity of
 * them all). Generic on purpose, so a figure added to BrokerStats is summed without a change here. Pure.
 */
export function sumStats(all: readonly BrokerStats[]): BrokerStats {
  const total = emptyStats() as unknown as Record<string, unknown>;
  for (const stats of all)
    for (const [key, value] of Object.entries(stats)) {
      if (typeof value === 'number') total[key] = ((total[key] as number | undefined) ?? 0) + value;
      else if (value !== null && typeof value === 'object') {
        total[key] ??= {};
        const into = total[key] as Record<string, number>;
        for (const [k, v] of Object.entries(value as Record<string, unknown>))
          if (typeof v === 'number') into[k] = (into[k] ?? 0) + v;
      }
    }
  return total as unknown as BrokerStats;
}
