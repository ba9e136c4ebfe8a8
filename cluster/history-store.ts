/**
 * Where the units' histories (cluster/history-segments.ts) are kept between runners: the KV bucket
 * `citywatch_history` (cluster/jetstream.ts), one value per unit and window, key
 * `<partition>.<unit as base64url>.<window>`, gzipped JSON. Replicated like the checkpoints, so a
 * takeover on any machine re-judges a late fix from the history its predecessor wrote. The bucket's max
 * age is the backfill horizon (BACKFILL_HISTORY_HOURS, else MAX_FIX_AGE_DAYS): a segment not written for
 * that long is removed by the server, as the single process prunes its history, and the oldest one left
 * is the floor.
 *
 * Written before each checkpoint of the partition (the segments changed since the last one), so the
 * history always reaches the checkpoint's sequence. A runner that dies after writing segments past its
 * last checkpoint leaves entries its successor will judge again: what is read back is cut at the
 * reader's sequence (`segmentUpTo`), and the successor's own writes replace those segments.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { KV } from '@nats-io/kv';
import { type Segment, segmentUpTo, type UnitHistory, windowOf } from './history-segments.ts';

/** KV gets and puts under way at once per partition (a restore reads every unit's newest segment) */
const CONCURRENCY = 16;

const unitToken = (unit: string): string => Buffer.from(unit, 'utf8').toString('base64url');
const segmentKey = (partition: number, unit: string, w: number): string =>
  `${partition}.${unitToken(unit)}.${w}`;

interface StoredSegment extends Segment {
  /** engineFingerprint(): a segment of another engine version is not read back */
  engine: string;
}

export class HistoryStore {
  constructor(
    private readonly kv: KV,
    private readonly partition: number,
    private readonly fingerprint: string,
  ) {}

  private async read(key: string, upTo: number): Promise<Segment | undefined> {
    const entry = await this.kv.get(key);
    if (entry === null || entry.operation !== 'PUT' || entry.length === 0) return undefined;
    const stored = JSON.parse(gunzipSync(entry.value).toString('utf8')) as StoredSegment;
    if (stored.engine !== this.fingerprint) return undefined;
    const { engine: _e, ...segment } = stored;
    return segmentUpTo(segment, upTo);
  }

  /**
   * After a restore: each unit's newest segment (its window holds the unit's newest fix), so the next
   * fix or tick of the unit extends what is stored; entries after `seq` (the checkpoint) are dropped.
   */
  async loadNewest(units: readonly { history: UnitHistory; newestTs: number }[], seq: number): Promise<void> {
    await inBatches(units, async ({ history, newestTs }) => {
      const key = segmentKey(this.partition, history.unit, windowOf(newestTs));
      const segment = await this.read(key, seq);
      if (segment !== undefined) history.loaded(segment);
    });
  }

  /** Before a re-judging: every segment of the unit (up to `seq`, the runner's position). */
  async loadAll(history: UnitHistory, seq: number): Promise<void> {
    const keys: string[] = [];
    for await (const key of await this.kv.keys(`${this.partition}.${unitToken(history.unit)}.*`))
      keys.push(key);
    await inBatches(keys, async (key) => {
      const segment = await this.read(key, seq);
      if (segment !== undefined) history.loaded(segment);
    });
  }

  /** Writes the segments changed since the last write, then keeps only the newest ones in memory. */
  async write(histories: readonly UnitHistory[]): Promise<number> {
    const puts: { key: string; value: Uint8Array; history: UnitHistory; w: number }[] = [];
    for (const h of histories) {
      for (const w of h.dirty) {
        const s = h.segment(w);
        if (s === undefined) continue;
        const stored: StoredSegment = { engine: this.fingerprint, ...s };
        puts.push({
          key: segmentKey(this.partition, h.unit, w),
          value: gzipSync(JSON.stringify(stored)),
          history: h,
          w,
        });
      }
    }
    await inBatches(puts, async (p) => {
      await this.kv.put(p.key, p.value);
      p.history.dirty.delete(p.w);
    });
    for (const h of histories) h.trim();
    return puts.length;
  }
}

async function inBatches<T>(items: readonly T[], job: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += CONCURRENCY)
    await Promise.all(items.slice(i, i + CONCURRENCY).map(job));
}
