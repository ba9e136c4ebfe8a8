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
 * history always reaches the checkpoint's sequence. What a runner wrote after its last checkpoint (it
 * died before the next one, or it had lost the partition and did not know yet) is not its successor's
 * history. A segment says which runner life wrote it and at which sequence; the checkpoint names the
 * lives that led to it and how far each checkpointed (partition-state.ts), so a reader knows whether a
 * segment was committed. One that was not is read as it was at the writer's last checkpoint: its
 * `base` when a re-judging changed it since, else cut at the restored sequence (stepping only appends).
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
  /** the runner's life that wrote it, and its sequence then (that of the checkpoint it came before) */
  life: string;
  atSeq: number;
  /** the segment as of the writer's previous checkpoint, when a re-judging changed it since */
  base?: Segment;
}

/** who wrote what (PartitionState.historyView) */
export interface HistoryView {
  life: string;
  restoredSeq: number;
  /** the lives that led to the restored checkpoint, and how far each checkpointed */
  committed: ReadonlyMap<string, number>;
}

export class HistoryStore {
  constructor(
    private readonly kv: KV,
    private readonly partition: number,
    private readonly fingerprint: string,
    private readonly view: HistoryView,
  ) {}

  private async read(key: string): Promise<Segment | undefined> {
    const entry = await this.kv.get(key);
    if (entry === null || entry.operation !== 'PUT' || entry.length === 0) return undefined;
    const stored = JSON.parse(gunzipSync(entry.value).toString('utf8')) as StoredSegment;
    if (stored.engine !== this.fingerprint) return undefined;
    const { engine: _e, life, atSeq, base, ...segment } = stored;
    if (life === this.view.life) return segment;
    const committedTo = this.view.committed.get(life);
    if (committedTo !== undefined && atSeq <= committedTo) return segment;
    // written after its writer's last checkpoint: as it was at that checkpoint
    return segmentUpTo(base ?? segment, this.view.restoredSeq);
  }

  /**
   * After a restore: each unit's newest segment (its window holds the unit's newest fix), so the next
   * fix or tick of the unit extends what is stored.
   */
  async loadNewest(units: readonly { history: UnitHistory; newestTs: number }[]): Promise<void> {
    await inBatches(units, async ({ history, newestTs }) => {
      const key = segmentKey(this.partition, history.unit, windowOf(newestTs));
      const segment = await this.read(key);
      if (segment !== undefined) history.loaded(segment);
    });
  }

  /** Before a re-judging: every segment of the unit. */
  async loadAll(history: UnitHistory): Promise<void> {
    const keys: string[] = [];
    for await (const key of await this.kv.keys(`${this.partition}.${unitToken(history.unit)}.*`))
      keys.push(key);
    await inBatches(keys, async (key) => {
      const segment = await this.read(key);
      if (segment !== undefined) history.loaded(segment);
    });
  }

  /** Writes the segments changed since the last write, then keeps only the newest ones in memory. */
  async write(histories: readonly UnitHistory[], atSeq: number): Promise<number> {
    const puts: { key: string; value: Uint8Array; history: UnitHistory; w: number }[] = [];
    for (const h of histories) {
      for (const w of h.dirty) {
        const s = h.segment(w);
        if (s === undefined) continue;
        const base = h.bases.get(w);
        const stored: StoredSegment = {
          engine: this.fingerprint,
          life: this.view.life,
          atSeq,
          ...s,
          ...(base !== undefined ? { base } : {}),
        };
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
