/**
 * The cluster's own outages (the platform never charges a firm for its own downtime; the single
 * process's are compliance/platform-outages.ts), kept in the replicated KV bucket `citywatch_outages`
 * (cluster/jetstream.ts), so every worker, and a worker that takes a partition over later, judges with
 * the same ones.
 *
 * What an outage of the cluster is: a time in which no device could get a fix into the stream. Devices
 * reach the cluster through its edges, and an edge acknowledges a fix only once the stream holds it, so
 * that is a time in which no edge was alive and writing to JetStream: every edge down, or the NATS
 * cluster without a quorum (a whole-cluster restart is both). Measured by a heartbeat: every edge, three
 * times per lease time, writes the instant `intake.alive` (CLUSTER_LEASE_S). An edge that finds it older
 * than the lease time knows nobody held the intake since, and records the outage, from that instant to
 * now plus the restart grace (120 s, as the single process's: devices reconnect and send what they
 * buffered meanwhile), in the list `outages`. While no edge writes, a worker sees `intake.alive` grow
 * old and judges with an outage open since then (nobody may record it yet: no edge is up).
 *
 * Behind (the single process's `behind`, compliance/platform-outages.ts): an edge whose intake lags its
 * devices (the median of received - ts of the fixes the stream took from it, past the 60 s the workers
 * hold their clock back, on 10 devices at least: compliance/clock.ts IntakeLag) records, at each beat
 * while it lasts, an outage from the instant it has caught up to until a lease time past the beat, and
 * ends it at the beat once it has caught up: their fixes are waiting in the edge, not missing. The end
 * moves with the beats rather than staying open, so an edge that dies behind leaves an outage that ends a
 * lease time after its last beat.
 *
 * Not outages: the workers' absence (the stream keeps the fixes; a runner judges silence by the live
 * tick only while it has read its partition to its end, and at the fix that ends it otherwise), a store
 * outage (a runner retries its batch and does not read on, or tick, until the store took it), an edge
 * that is up while others are down (its devices reach it).
 */
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import type { Outage } from '../geofence/platform-gaps.ts';

/**
 * an outage of the cluster, on the edges' wall clock (epoch ms): stopped (no edge alive, or no NATS
 * quorum), or behind (an edge's intake lagging its devices, as the single process's `behind`)
 */
export interface ClusterOutage extends Outage {
  cause: 'stopped' | 'behind';
}

const ALIVE_KEY = 'intake.alive';
const OUTAGES_KEY = 'outages';
/** the restart grace, as the single process's (compliance/service.ts restoreGraceMs) */
export const RESTART_GRACE_MS = 120_000;

const decodeOutages = (text: string): ClusterOutage[] => {
  const list = JSON.parse(text) as { start: number; end: number | null; cause: ClusterOutage['cause'] }[];
  return list.map((o) => ({ ...o, end: o.end ?? Number.POSITIVE_INFINITY }));
};
const encodeOutages = (list: readonly ClusterOutage[]): string =>
  JSON.stringify(list.map((o) => ({ ...o, end: Number.isFinite(o.end) ? o.end : null })));

export interface HeartbeatOptions {
  kv: KV;
  /** CLUSTER_LEASE_S: a heartbeat older than this means nobody held the intake */
  leaseMs: number;
  /** outages ended before now less this are dropped from the list (the backfill horizon) */
  keepMs: number;
  graceMs?: number;
  now?: () => number;
  /**
   * while this edge's intake lags its devices by more than the workers' clock holds back (the single
   * process's `behindSince`, compliance/clock.ts: the wall time less the lag), that instant; else undefined
   */
  behindSince?: () => number | undefined;
  logger: Logger;
}

/** An edge's side: says the intake is alive, and records the outage when it finds nobody did. */
export class IntakeHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> = Promise.resolve();
  /** outages this edge recorded (tests, logs) */
  recorded = 0;
  /** the start of this edge's behind outage under way */
  private behindStart: number | undefined;

  constructor(private readonly opts: HeartbeatOptions) {}

  start(): void {
    const every = Math.max(100, Math.floor(this.opts.leaseMs / 3));
    const beat = () => {
      this.beating = this.beating
        .then(() => this.beat())
        .catch((err: Error) => this.opts.logger.debug({ err: err.message }, 'intake heartbeat failed'));
    };
    beat();
    this.timer = setInterval(beat, every);
    this.timer.unref();
  }

  /** stops beating (a clean stop: the other edges go on; with none left the next start records it) */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.beating;
  }

  async beat(): Promise<void> {
    const { kv, leaseMs } = this.opts;
    const now = (this.opts.now ?? Date.now)();
    const entry = await kv.get(ALIVE_KEY);
    const prev = entry?.operation === 'PUT' ? Number(entry.string()) : Number.NaN;
    if (Number.isFinite(prev) && now - prev > leaseMs) {
      // nobody wrote since `prev`: every edge was down, or NATS had no quorum. Recorded before the
      // heartbeat moves on, so that an edge dying in between leaves it to the next one.
      await this.record({
        start: prev,
        end: now + (this.opts.graceMs ?? RESTART_GRACE_MS),
        cause: 'stopped',
      });
      this.opts.logger.warn(
        { start: new Date(prev).toISOString(), downMs: now - prev },
        'cluster: the intake was down (no edge alive, or no NATS quorum): recorded as an outage of the platform',
      );
    }
    // at the revision read: of two edges finding the same gap, both record it (the same start), one moves on
    if (entry === null || entry.operation !== 'PUT') await kv.create(ALIVE_KEY, String(now)).catch(() => 0);
    else await kv.update(ALIVE_KEY, String(now), entry.revision).catch(() => 0);
    await this.observeBehind(now);
  }

  /**
   * This edge's intake behind its devices (their fixes wait in its sockets and queues): an outage from
   * the instant it has not caught up from, whose end is moved to a lease time past each beat while it
   * lasts (an edge that dies behind leaves it ended a lease time after its last beat, not open for
   * ever), and set to the beat at which it has caught up.
   */
  private async observeBehind(now: number): Promise<void> {
    const since = this.opts.behindSince?.();
    if (since !== undefined) {
      const opened = this.behindStart === undefined;
      this.behindStart ??= since;
      await this.record({ start: this.behindStart, end: now + this.opts.leaseMs, cause: 'behind' }, true);
      if (opened)
        this.opts.logger.warn(
          { since: new Date(since).toISOString() },
          "cluster: this edge's intake is behind its devices: recorded as an outage of the platform",
        );
    } else if (this.behindStart !== undefined) {
      await this.record({ start: this.behindStart, end: now, cause: 'behind' }, true);
      this.opts.logger.info(
        { since: new Date(this.behindStart).toISOString() },
        "cluster: this edge's intake caught up with its devices: its outage ended",
      );
      this.behindStart = undefined;
    }
  }

  /**
   * adds (or extends; `exact`: sets the end of) an outage in the list, at the list's revision (retried
   * when another edge wrote); an outage is the one of the same start and cause
   */
  private async record(o: ClusterOutage, exact = false): Promise<void> {
    const { kv } = this.opts;
    const now = (this.opts.now ?? Date.now)();
    for (let attempt = 0; ; attempt++) {
      const entry = await kv.get(OUTAGES_KEY);
      const list = entry?.operation === 'PUT' ? decodeOutages(entry.string()) : [];
      const isIt = (x: ClusterOutage) => x.start === o.start && x.cause === o.cause;
      const same = list.find(isIt);
      const next = [
        ...list.filter((x) => !isIt(x) && x.end >= now - this.opts.keepMs),
        same && !exact ? { ...o, end: Math.max(o.end, same.end) } : o,
      ].sort((a, b) => a.start - b.start);
      try {
        if (entry === null || entry.operation !== 'PUT') await kv.create(OUTAGES_KEY, encodeOutages(next));
        else await kv.update(OUTAGES_KEY, encodeOutages(next), entry.revision);
        this.recorded++;
        return;
      } catch (err) {
        if (attempt >= 10) throw err;
      }
    }
  }
}

/**
 * A worker's side: the outages as recorded, read again at every lease round, and, while no edge writes
 * the heartbeat, the outage under way since its last instant.
 */
export class OutageView {
  private recorded: readonly ClusterOutage[] = [];
  private aliveAt = Number.NaN;
  private text = '';
  /** the recorded outages, and the same with the one under way (built when they change) */
  private views: [readonly ClusterOutage[], readonly ClusterOutage[]] = [
    Object.freeze([]),
    Object.freeze([]),
  ];

  constructor(
    private readonly kv: KV,
    private readonly leaseMs: number,
  ) {}

  async refresh(): Promise<void> {
    const [alive, outages] = await Promise.all([this.kv.get(ALIVE_KEY), this.kv.get(OUTAGES_KEY)]);
    const aliveAt = alive?.operation === 'PUT' ? Number(alive.string()) : Number.NaN;
    const text = outages?.operation === 'PUT' ? outages.string() : '[]';
    if (aliveAt === this.aliveAt && text === this.text) return;
    this.aliveAt = aliveAt;
    this.text = text;
    this.recorded = decodeOutages(text);
    const recorded: readonly ClusterOutage[] = Object.freeze([...this.recorded]);
    const underWay =
      Number.isFinite(aliveAt) && !this.recorded.some((o) => o.start === aliveAt && o.cause === 'stopped')
        ? Object.freeze([
            ...this.recorded,
            { start: aliveAt, end: Number.POSITIVE_INFINITY, cause: 'stopped' as const },
          ])
        : recorded;
    this.views = [recorded, underWay];
  }

  /** the recorded outages (tests, logs) */
  all(): readonly ClusterOutage[] {
    return this.recorded;
  }

  /**
   * The outages to judge with at wall instant `now`: the recorded ones, and, when no edge has said the
   * intake is alive for longer than the lease time, the outage under way since it last did.
   */
  current(now: number): readonly ClusterOutage[] {
    const down = Number.isFinite(this.aliveAt) && now - this.aliveAt > this.leaseMs;
    return this.views[down ? 1 : 0];
  }
}
