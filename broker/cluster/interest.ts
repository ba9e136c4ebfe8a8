import { QlobberTrue } from 'qlobber';

/**
 * A counted set of MQTT topic filters with a matcher: the subscriptions of one or more brokers. A filter
 * is in the matcher while its count is above zero, so two subscribers of the same filter (or the same
 * filter on two edges) leave it in place when one goes. Pure data structure, no I/O.
 */
export class InterestSet {
  private readonly counts = new Map<string, number>();
  // [MQTT-4.7.1-3] "sport/+" matches "sport/" (an empty level): the same as aedes's own matcher
  private readonly matcher = new QlobberTrue({
    separator: '/',
    wildcard_one: '+',
    wildcard_some: '#',
    match_empty_levels: true,
  });

  /** adds delta (+1 or -1, or a sum of them) to a filter's count; true when the filter came or went */
  change(filter: string, delta: number): boolean {
    const before = this.counts.get(filter) ?? 0;
    const after = Math.max(0, before + delta);
    if (after === 0) this.counts.delete(filter);
    else this.counts.set(filter, after);
    if (before === 0 && after > 0) {
      this.matcher.add(filter);
      return true;
    }
    if (before > 0 && after === 0) {
      this.matcher.remove(filter);
      return true;
    }
    return false;
  }

  /** does some filter match this topic name */
  matches(topic: string): boolean {
    return this.counts.size > 0 && this.matcher.test(topic);
  }

  /** the filters and their counts (a new edge is told the others' subscriptions with it) */
  entries(): Array<{ filter: string; delta: number }> {
    return [...this.counts].map(([filter, delta]) => ({ filter, delta }));
  }

  get size(): number {
    return this.counts.size;
  }
}
