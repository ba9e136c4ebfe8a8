import fs from 'node:fs/promises';
import type { Logger } from 'pino';
import { type Fix, upgradeSpooledFix } from '../core/fix.ts';
import type { FixStore } from '../store/port.ts';
import type { IngestMetrics } from './metrics.ts';
import type { Spool, SpoolBatch } from './spool.ts';

export interface PumpOptions {
  spool: Spool;
  store: FixStore;
  metrics: IngestMetrics;
  /** fixes per store write (InfluxDB recommends a few thousand lines per request) */
  batchSize?: number;
  /** batches written concurrently (committed in order); default 2 */
  writesInFlight?: number;
  /** first retry delay after a failed write; doubles up to maxBackoffMs */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  logger?: Logger;
  /** JSONL file for fixes the store refuses permanently (e.g. a value InfluxDB cannot encode) */
  quarantineFile?: string;
  /** called after a batch is stored (tests and the benchmark use it) */
  onStored?: (fixes: readonly Fix[]) => void;
  /**
   * The compliance engine's judgement gate: `mark()` when a batch is read, and the checkpoint moves past
   * the batch only once `judged(mark)` resolves (its fixes' judgement is committed), so that after a
   * crash the fixes past the checkpoint are all the ones to judge again (compliance/service.ts replay).
   */
  judgement?: { mark(): number; judged(mark: number): Promise<void> };
}

interface InFlight {
  batch: SpoolBatch;
  fixes: Fix[];
  /** the judgement mark when it was read */
  mark: number;
  /** true once written (or quarantined); false when stopping cut the retries short */
  stored: Promise<boolean>;
}

export interface PumpState {
  storeOk: boolean;
  lastError?: string;
  lastWriteAt?: number;
  consecutiveFailures: number;
  /** false while reading the spool or moving its checkpoint fails (e.g. EMFILE); the pump retries */
  spoolOk: boolean;
  spoolError?: string;
  /** passes over the spool that failed so far (each one is retried after a backoff) */
  spoolFailures: number;
}

/**
 * Moves fixes from the spool to the store: read a batch, write it, and only then move the spool's
 * checkpoint. On failure it retries the same batch with exponential backoff for as long as it takes,
 * while the spool keeps taking (and acknowledging) new fixes on disk. A small fixed number of batches
 * in flight (default 2) keeps memory bounded; stores are keyed by (vehicle, ts), so the order in which
 * two batches land does not matter, only the order of checkpoints does.
 *
 * Reading the spool and moving its checkpoint can fail too (EMFILE when the process is out of
 * descriptors, ENOSPC): that is retried the same way, from the checkpoint, for as long as it takes; the
 * pump stops only when asked to. Batches stored but not yet checkpointed are simply written again.
 */
export class StorePump {
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  /** resolvers of the sleeps under way (new data, or stop, ends them early) */
  private readonly sleepers = new Set<() => void>();
  /** resolvers of the backoff sleeps after a failed write (only stop ends them early) */
  private readonly backoffSleepers = new Set<() => void>();
  private readonly state: PumpState = {
    storeOk: true,
    consecutiveFailures: 0,
    spoolOk: true,
    spoolFailures: 0,
  };
  private readonly batchSize: number;
  private readonly writesInFlight: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private unsubscribe: (() => void) | undefined;
  private stopDeadline = Number.POSITIVE_INFINITY;
  /** settles when the stop deadline has passed: a write still under way is then given up on */
  private deadlinePassed: Promise<'late'> = new Promise(() => undefined);
  private deadlineTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: PumpOptions) {
    this.batchSize = opts.batchSize ?? 5000;
    this.writesInFlight = opts.writesInFlight ?? 2;
    this.initialBackoffMs = opts.initialBackoffMs ?? 250;
    this.maxBackoffMs = opts.maxBackoffMs ?? 15_000;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopDeadline = Number.POSITIVE_INFINITY;
    this.unsubscribe = this.opts.spool.onAppend(() => this.wake(this.sleepers));
    this.loopDone = this.loop();
  }

  /**
   * Drains what it can within `drainMs` (SIGTERM flushes the spool to the store), then stops: a write
   * still under way at the deadline (a hung store) is given up on, so this returns by the deadline
   * plus the time to move the checkpoint. Whatever is not yet stored stays in the spool and is written
   * after the next start.
   */
  async stop(drainMs = 5000): Promise<void> {
    if (!this.running) return;
    this.stopDeadline = Date.now() + drainMs;
    this.deadlinePassed = new Promise((resolve) => {
      this.deadlineTimer = setTimeout(() => resolve('late'), Math.max(0, drainMs));
    });
    this.wake(this.sleepers);
    this.wake(this.backoffSleepers);
    await this.loopDone;
    clearTimeout(this.deadlineTimer);
    this.unsubscribe?.();
  }

  status(): PumpState {
    return { ...this.state };
  }

  /** Runs passes over the spool; a pass that fails on the spool is retried with backoff. */
  private async loop(): Promise<void> {
    const { spool, logger } = this.opts;
    let delay = this.initialBackoffMs;
    try {
      for (;;) {
        const inflight: InFlight[] = [];
        try {
          await this.pass(inflight, () => {
            delay = this.initialBackoffMs;
          });
          return;
        } catch (err) {
          // Let the writes under way settle (they retry on their own), then start over from the
          // checkpoint: nothing after it is lost, at worst written twice.
          await Promise.allSettled(inflight.map((w) => w.stored));
          spool.rewind();
          const message = (err as Error).message;
          if (this.state.spoolOk) {
            logger?.warn(
              { err: message, retryInMs: delay },
              'store pump: reading the spool or moving its checkpoint failed; retrying',
            );
          }
          this.state.spoolOk = false;
          this.state.spoolError = message;
          this.state.spoolFailures++;
          if (Date.now() + delay > this.stopDeadline) return;
          await this.sleep(delay);
          delay = Math.min(delay * 2, this.maxBackoffMs);
        }
      }
    } finally {
      this.running = false;
    }
  }

  /**
   * Keeps up to `writesInFlight` batches in flight (the store round trip dominates while the CPU
   * idles) but commits them strictly in spool order, so the checkpoint never passes an unwritten batch.
   * Returns when stopped; throws when the spool fails (`inflight` then holds the writes under way).
   */
  private async pass(inflight: InFlight[], onProgress: () => void): Promise<void> {
    const { spool, metrics } = this.opts;
    while (Date.now() < this.stopDeadline || inflight.length > 0) {
      while (inflight.length < this.writesInFlight && Date.now() < this.stopDeadline) {
        const batch = await spool.read(this.batchSize);
        if (batch === undefined) break;
        const fixes = this.parse(batch);
        const mark = this.opts.judgement?.mark() ?? 0;
        inflight.push({ batch, fixes, mark, stored: this.writeWithRetry(fixes) });
      }
      const head = inflight[0];
      if (head === undefined) {
        this.spoolRecovered(); // caught up: the spool reads again
        if (this.stopDeadline !== Number.POSITIVE_INFINITY) return; // drained
        await this.sleep(1000);
        continue;
      }
      if (!(await head.stored)) {
        // Stopping mid-outage: everything from the checkpoint on stays in the spool for the next
        // start (batches behind this one that did land are simply written again, idempotently).
        await Promise.all(inflight.map((w) => w.stored));
        inflight.length = 0;
        spool.rewind();
        return;
      }
      if (this.opts.judgement) await this.opts.judgement.judged(head.mark);
      await spool.commit(head.batch.end, head.batch.records.length);
      inflight.shift();
      this.spoolRecovered();
      onProgress();
      const stats = spool.stats();
      metrics.spoolDepth.set(stats.depthRecords);
      metrics.spoolBytes.set(stats.depthBytes);
      this.opts.onStored?.(head.fixes);
    }
  }

  private spoolRecovered(): void {
    if (this.state.spoolOk) return;
    this.opts.logger?.info('store pump: the spool reads and checkpoints again; resuming');
    this.state.spoolOk = true;
    delete this.state.spoolError;
  }

  private parse(batch: SpoolBatch): Fix[] {
    const fixes: Fix[] = [];
    for (const record of batch.records) {
      try {
        fixes.push(upgradeSpooledFix(JSON.parse(record) as Fix));
      } catch {
        this.opts.metrics.spoolCorrupt.inc();
      }
    }
    return fixes;
  }

  /**
   * true once written (or quarantined); false when asked to stop before the store came back. A
   * permanent error splits the batch in halves until the offending fix is alone, so one bad value costs
   * log2(batch) extra writes instead of blocking the pump forever.
   */
  private async writeWithRetry(fixes: Fix[]): Promise<boolean> {
    const { store, metrics, logger } = this.opts;
    if (fixes.length === 0) return true;
    let oldestReceived = Number.POSITIVE_INFINITY;
    for (const fix of fixes) if (fix.received < oldestReceived) oldestReceived = fix.received;
    // how long the batch has waited since receipt, after every attempt: it grows through an outage
    const lag = () => {
      if (Number.isFinite(oldestReceived))
        metrics.storeLag.set(Math.max(0, Date.now() - oldestReceived) / 1000);
    };
    let delay = this.initialBackoffMs;
    for (;;) {
      const endTimer = metrics.storeWriteLatency.startTimer();
      try {
        const write = store.writeFixes(fixes);
        if ((await Promise.race([write, this.deadlinePassed])) === 'late') {
          // stopping, and the store has not answered by the deadline: the fixes stay in the spool
          write.catch(() => undefined);
          return false;
        }
        endTimer();
        lag();
        metrics.storeWrites.labels('ok').inc();
        metrics.storeFixes.inc(fixes.length);
        if (!this.state.storeOk)
          logger?.info({ store: store.name }, 'store reachable again; replaying spool');
        this.state.storeOk = true;
        this.state.consecutiveFailures = 0;
        this.state.lastWriteAt = Date.now();
        return true;
      } catch (err) {
        metrics.storeWrites.labels('error').inc();
        lag();
        if ((err as { permanent?: unknown }).permanent === true) {
          if (fixes.length === 1) {
            await this.quarantine(fixes[0]!, err as Error);
            return true;
          }
          const mid = fixes.length >> 1;
          return (
            (await this.writeWithRetry(fixes.slice(0, mid))) && (await this.writeWithRetry(fixes.slice(mid)))
          );
        }
        this.state.consecutiveFailures++;
        this.state.lastError = (err as Error).message;
        if (this.state.storeOk) {
          logger?.warn(
            { store: store.name, err: this.state.lastError },
            'store write failed; spooling to disk',
          );
        }
        this.state.storeOk = false;
        // stopping: go on trying until the deadline (the store may be back in a moment), not past it
        const left = this.stopDeadline - Date.now();
        if (left <= 0) return false;
        // new fixes do not end this wait: retrying at the intake's pace would hammer a store that is down
        await this.sleep(Math.min(delay, left), this.backoffSleepers);
        delay = Math.min(delay * 2, this.maxBackoffMs);
      }
    }
  }

  private async quarantine(fix: Fix, err: Error): Promise<void> {
    this.opts.metrics.quarantined.inc();
    this.opts.logger?.error(
      { vehicle: fix.vehicle, ts: fix.ts, err: err.message },
      'store refused a fix permanently',
    );
    if (this.opts.quarantineFile) {
      const line = JSON.stringify({ error: err.message, quarantined: new Date().toISOString(), fix });
      await fs.appendFile(this.opts.quarantineFile, `${line}\n`);
    }
  }

  private wake(sleepers: Set<() => void>): void {
    for (const wake of [...sleepers]) wake();
  }

  private sleep(ms: number, sleepers = this.sleepers): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      sleepers.add(done);
    });
  }
}
