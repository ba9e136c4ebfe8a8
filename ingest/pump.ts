import fs from 'node:fs/promises';
import type { Logger } from 'pino';
import type { FixStore } from '../store/port.ts';
import type { Fix } from './fix.ts';
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
}

export interface PumpState {
  storeOk: boolean;
  lastError?: string;
  lastWriteAt?: number;
  consecutiveFailures: number;
}

/**
 * Moves fixes from the spool to the store: read a batch, write it, and only then move the spool's
 * checkpoint. On failure it retries the same batch with exponential backoff for as long as it takes,
 * while the spool keeps taking (and acknowledging) new fixes on disk. A small fixed number of batches
 * in flight (default 2) keeps memory bounded; stores are keyed by (vehicle, ts), so the order in which
 * two batches land does not matter, only the order of checkpoints does.
 */
export class StorePump {
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  /** resolvers of the sleeps under way (new data, or stop, ends them early) */
  private readonly sleepers = new Set<() => void>();
  private readonly state: PumpState = { storeOk: true, consecutiveFailures: 0 };
  private readonly batchSize: number;
  private readonly writesInFlight: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private unsubscribe: (() => void) | undefined;
  private stopDeadline = Number.POSITIVE_INFINITY;

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
    this.unsubscribe = this.opts.spool.onAppend(() => this.wakeAll());
    this.loopDone = this.loop();
  }

  /**
   * Drains what it can within `drainMs` (SIGTERM flushes buffers), then stops. Whatever is not yet
   * stored stays in the spool and is written after the next start.
   */
  async stop(drainMs = 5000): Promise<void> {
    if (!this.running) return;
    this.stopDeadline = Date.now() + drainMs;
    this.wakeAll();
    await this.loopDone;
    this.unsubscribe?.();
  }

  status(): PumpState {
    return { ...this.state };
  }

  /**
   * Keeps up to `writesInFlight` batches in flight (the store round trip dominates while the CPU
   * idles) but commits them strictly in spool order, so the checkpoint never passes an unwritten batch.
   */
  private async loop(): Promise<void> {
    const { spool, metrics } = this.opts;
    const inflight: Array<{ batch: SpoolBatch; fixes: Fix[]; stored: Promise<boolean> }> = [];
    try {
      while (Date.now() < this.stopDeadline || inflight.length > 0) {
        while (inflight.length < this.writesInFlight && Date.now() < this.stopDeadline) {
          const batch = await spool.read(this.batchSize);
          if (batch === undefined) break;
          const fixes = this.parse(batch);
          inflight.push({ batch, fixes, stored: this.writeWithRetry(fixes) });
        }
        const head = inflight.shift();
        if (head === undefined) {
          if (this.stopDeadline !== Number.POSITIVE_INFINITY) break; // drained
          await this.sleep(1000);
          continue;
        }
        if (!(await head.stored)) {
          // Stopping mid-outage: everything from the checkpoint on stays in the spool for the next
          // start (batches behind this one that did land are simply written again, idempotently).
          await Promise.all(inflight.map((w) => w.stored));
          spool.rewind();
          break;
        }
        await spool.commit(head.batch.end, head.batch.records.length);
        const stats = spool.stats();
        metrics.spoolDepth.set(stats.depthRecords);
        metrics.spoolBytes.set(stats.depthBytes);
        this.opts.onStored?.(head.fixes);
      }
    } catch (err) {
      this.opts.logger?.error({ err }, 'store pump stopped on an unexpected error');
      this.state.lastError = (err as Error).message;
    } finally {
      this.running = false;
    }
  }

  private parse(batch: SpoolBatch): Fix[] {
    const fixes: Fix[] = [];
    for (const record of batch.records) {
      try {
        fixes.push(JSON.parse(record) as Fix);
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
    let delay = this.initialBackoffMs;
    for (;;) {
      const endTimer = metrics.storeWriteLatency.startTimer();
      try {
        await store.writeFixes(fixes);
        endTimer();
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
        if (Date.now() + delay > this.stopDeadline) return false;
        await this.sleep(delay);
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

  private wakeAll(): void {
    for (const wake of [...this.sleepers]) wake();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }
}
