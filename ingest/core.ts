import type { Logger } from 'pino';
import type { Registry } from '../registry/types.ts';
import { buildDeadLetter } from './dead-letter.ts';
import { type DecodeLimits, decodeTelemetry, deviceIdFromTelemetryTopic } from './decode.ts';
import type { Fix } from './fix.ts';
import type { IngestMetrics } from './metrics.ts';
import { DEAD_LETTER_TOPIC } from './payload.ts';
import type { Rejection } from './reasons.ts';
import { Sequencer } from './sequencer.ts';
import type { Spool } from './spool.ts';

export type Transport = 'embedded' | 'external';
export type DeadLetterPublisher = (topic: string, payload: Buffer) => void;
export type FixListener = (fixes: readonly Fix[]) => void;

export interface IngestCoreOptions {
  registry: Pick<Registry, 'device'>;
  spool: Spool;
  limits: DecodeLimits;
  metrics: IngestMetrics;
  /** where dead letters go (the embedded broker, or the external broker's client) */
  deadLetter: DeadLetterPublisher;
  /** receive-time clock; injectable for tests */
  now?: () => number;
  logger?: Logger;
}

/**
 * The one ingest core both transports feed: decode → validate → normalize → sequence (dedupe, late
 * marking) → spool (durable) → listeners. `accept` resolves only once the message's accepted fixes are
 * durable, which is when a transport may acknowledge it. Rejections are counted and dead-lettered and
 * `accept` still resolves: a malformed message is answered, not retried forever.
 */
export class IngestCore {
  private readonly sequencer = new Sequencer();
  private readonly listeners = new Set<FixListener>();
  private readonly now: () => number;
  /** labelled counters resolved once: `labels()` hashes its arguments on every call (hot path) */
  private readonly messagesByTransport: Record<Transport, { inc(): void }>;

  constructor(private readonly opts: IngestCoreOptions) {
    this.now = opts.now ?? Date.now;
    this.messagesByTransport = {
      embedded: opts.metrics.messages.labels('embedded'),
      external: opts.metrics.messages.labels('external'),
    };
  }

  /** Seeds duplicate/late detection from stored state after a restart. */
  prime(latest: readonly Fix[]): void {
    for (const fix of latest) this.sequencer.prime(fix.device, fix.ts);
  }

  /** Receives accepted fixes, in acceptance order per device, after they are durable. */
  onFixes(listener: FixListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async accept(topic: string, payload: Buffer, transport: Transport): Promise<void> {
    const { metrics } = this.opts;
    const receivedMs = this.now();
    this.messagesByTransport[transport].inc();
    const deviceId = deviceIdFromTelemetryTopic(topic);
    if (deviceId === undefined) {
      this.deadLetter(topic, '', payload, receivedMs, [
        { reason: 'bad_topic', detail: `topic "${topic.slice(0, 200)}" is not devices/{id}/telemetry` },
      ]);
      return;
    }
    const { fixes, rejections } = decodeTelemetry(
      { deviceId, payload, receivedMs, device: this.opts.registry.device(deviceId) },
      this.opts.limits,
    );
    if (rejections.length > 0) this.deadLetter(topic, deviceId, payload, receivedMs, rejections);
    if (fixes.length === 0) return;

    // Within one message, apply fixes in time order so a batch upload is judged oldest first.
    if (fixes.length > 1) fixes.sort((a, b) => a.ts - b.ts);
    const admitted: Fix[] = [];
    for (const fix of fixes) {
      const verdict = this.sequencer.admit(fix);
      if (verdict === 'duplicate') metrics.duplicates.inc();
      else {
        if (verdict === 'late') metrics.late.inc();
        admitted.push(fix);
      }
    }
    if (admitted.length === 0) return;
    await this.opts.spool.append(admitted.map((f) => JSON.stringify(f)));
    metrics.accepted.inc(admitted.length);
    metrics.durableLatency.observe((this.now() - receivedMs) / 1000);
    for (const listener of this.listeners) {
      try {
        listener(admitted);
      } catch (err) {
        // A consumer's bug must not turn into a lost acknowledgement for the device.
        this.opts.logger?.error({ err }, 'fix listener failed');
      }
    }
  }

  private deadLetter(
    topic: string,
    deviceId: string,
    payload: Buffer,
    receivedMs: number,
    rejections: Rejection[],
  ): void {
    for (const r of rejections) this.opts.metrics.rejected.labels(r.reason).inc();
    this.opts.logger?.debug(
      { device: deviceId, reasons: rejections.map((r) => r.reason) },
      'telemetry rejected',
    );
    try {
      const letter = buildDeadLetter(topic, deviceId, payload, receivedMs, rejections);
      this.opts.deadLetter(DEAD_LETTER_TOPIC, Buffer.from(JSON.stringify(letter)));
    } catch (err) {
      this.opts.logger?.warn({ err }, 'dead letter could not be published');
    }
  }
}
