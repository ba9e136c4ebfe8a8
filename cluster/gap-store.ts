/**
 * The platform gaps the workers find: silences the cluster's own outages voided (outages.ts,
 * geofence/platform-gaps.ts), stored where every API node lists them beside their outage (GET
 * /api/v1/platform/outages), as the single process keeps them in its `platform_gaps` table
 * (compliance/backfill-history.ts).
 *
 * Where: the replicated KV bucket `citywatch_gaps` (cluster/jetstream.ts; R`CLUSTER_REPLICAS`, each
 * value kept for the backfill horizon, as the edges keep the outages), one key per outage and would-be
 * violation: `<outage start>.<unit as base64url>.<gap id as base64url>` (registry ids may hold "." and
 * ":", which KV keys do not take). The key is the gap's identity: the id the violation would have had
 * (`unit:code:startTs`) under the first outage that overlaps the silence, both fixed by the fixes and
 * the outages, not by who judged them or when. A worker writes a batch's gaps with its events, before
 * its checkpoint moves past the batch (Worker.store); a runner that dies in between leaves the batch to
 * the next owner, whose replay from the checkpoint finds the same gaps and puts the same keys: a gap is
 * listed once, however many takeovers judged it. Why not the event store the workers write: its port
 * (store/events-port.ts) has no place for gaps in either adapter, and the outages they belong to are in
 * this KV already; one bucket read by prefix lists an outage's gaps.
 *
 * A re-judging (late fixes that fill a silence) replaces its unit's gaps from its base on, as the single
 * process's (compliance/late-fixes.ts deleteGapsAfter): the unit's keys whose silence starts at or after
 * the base are deleted, then the re-judging's gaps are put.
 */
import type { KV } from '@nats-io/kv';
import type { PlatformGap } from '../geofence/platform-gaps.ts';

/** a re-judging replaced the unit's gaps whose silence starts at or after `fromTs` */
export interface GapReset {
  unit: string;
  fromTs: number;
}

/** KV calls at once (a tick over a partition's units may void thousands of silences at once) */
const CONCURRENCY = 64;

const token = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');
const untoken = (t: string): string => Buffer.from(t, 'base64url').toString('utf8');

/** the gap's key: its outage, its unit, its id */
export const gapKey = (g: Pick<PlatformGap, 'outageStart' | 'vehicle' | 'id'>): string =>
  `${g.outageStart}.${token(g.vehicle)}.${token(g.id)}`;

interface StoredGap {
  id: string;
  vehicle: string;
  firm: string;
  code: PlatformGap['code'];
  fromTs: number;
  toTs: number;
  outageStart: number;
  /** null while the outage lasted when the gap was found */
  outageEnd: number | null;
}

const encode = (g: PlatformGap): string =>
  JSON.stringify({
    id: g.id,
    vehicle: g.vehicle,
    firm: g.firm,
    code: g.code,
    fromTs: g.fromTs,
    toTs: g.toTs,
    outageStart: g.outageStart,
    outageEnd: Number.isFinite(g.outageEnd) ? g.outageEnd : null,
  } satisfies StoredGap);

const decode = (text: string): PlatformGap => {
  const s = JSON.parse(text) as StoredGap;
  return { ...s, outageEnd: s.outageEnd ?? Number.POSITIVE_INFINITY };
};

async function eachBounded<T>(items: readonly T[], fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += CONCURRENCY)
    await Promise.all(items.slice(i, i + CONCURRENCY).map(fn));
}

export class GapStore {
  constructor(private readonly kv: KV) {}

  /**
   * A batch's gaps: the re-judgings' resets first, then every gap put (the same key, the same value
   * when a replay writes it again). Throws when NATS does not take them (the caller retries the whole
   * write: each step may be done again).
   */
  async write(resets: readonly GapReset[], gaps: readonly PlatformGap[]): Promise<void> {
    for (const r of resets) await this.reset(r);
    await eachBounded(gaps, (g) => this.kv.put(gapKey(g), encode(g)));
  }

  private async reset(r: GapReset): Promise<void> {
    const keys = await this.keys(`*.${token(r.unit)}.>`);
    await eachBounded(keys, async (key) => {
      const entry = await this.kv.get(key);
      if (entry?.operation !== 'PUT') return;
      if (decode(entry.string()).fromTs >= r.fromTs) await this.kv.delete(key);
    });
  }

  /**
   * The outage's gaps: how many, and the first `limit` by unit, then by the would-be violation's start
   * (the single process's order: by vehicle, then the silence's start).
   */
  async listFor(outageStart: number, limit: number): Promise<{ count: number; gaps: PlatformGap[] }> {
    const keys = (await this.keys(`${outageStart}.>`)).map((key) => {
      const [, unit = '', id = ''] = key.split('.');
      const decodedId = untoken(id);
      return { key, unit: untoken(unit), startTs: Number(decodedId.slice(decodedId.lastIndexOf(':') + 1)) };
    });
    keys.sort((a, b) =>
      a.unit < b.unit ? -1 : a.unit > b.unit ? 1 : a.startTs - b.startTs || (a.key < b.key ? -1 : 1),
    );
    const gaps: (PlatformGap | undefined)[] = [];
    const first = keys.slice(0, limit);
    await eachBounded(
      first.map((k, i) => [k.key, i] as const),
      async ([key, i]) => {
        const entry = await this.kv.get(key);
        // deleted since the listing (a re-judging): left out
        gaps[i] = entry?.operation === 'PUT' ? decode(entry.string()) : undefined;
      },
    );
    return { count: keys.length, gaps: gaps.filter((g): g is PlatformGap => g !== undefined) };
  }

  private async keys(filter: string): Promise<string[]> {
    const out: string[] = [];
    for await (const key of await this.kv.keys(filter)) out.push(key);
    return out;
  }
}
