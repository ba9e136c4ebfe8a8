import type { Logger } from 'pino';
import type { Fix } from '../core/fix.ts';
import type { Device, Registry } from '../registry/types.ts';
import type { Backpressure } from './backpressure.ts';
import { buildDeadLetter } from './dead-letter.ts';
import {
  type DecodeLimits,
  decodeTelemetry,
  deviceIdFromTelemetryTopic,
  validateFixObjects,
} from './decode.ts';
import { DeprecationNotices } from './deprecation.ts';
import { LogThrottle } from './log-throttle.ts';
import type { IngestMetrics } from './metrics.ts';
import { DEAD_LETTER_TOPIC } from './payload.ts';
import type { Rejection } from './reasons.ts';
import { Sequencer } from './sequencer.ts';
import type { Spool } from './spool.ts';

export type Transport = 'embedded' | 'external' | 'jt808';
export type DeadLetterPublisher = (topic: string, payload: Buffer) => void;
export type FixListener = (fixes: readonly Fix[]) => void;

/** What became of a message's fixes once `acceptFixObjects` resolved. */
export interface AcceptOutcome {
  /** made durable by this message */
  accepted: number;
  /** already accepted before (durable too) */
  duplicates: number;
  /** refused, counted and dead-lettered */
  rejected: number;
}

/** Fix objects built by a protocol gateway from its own frames (gateway/jt808/). */
export interface FixObjects {
  device: Device;
  /** fix objects in the device contract's shape (ingest/payload.ts) */
  items: readonly unknown[];
  /** rejections carry the item's index */
  batch: boolean;
  /** names the source in a dead letter, e.g. jt808/013912345678/0x0200 */
  topic: string;
  /** the raw message as it came in, for the dead letter (e.g. the frame as hex); built only for one */
  raw: () => Buffer;
}

export interface IngestCoreOptions {
  registry: Pick<Registry, 'device'>;
  /** where accepted fixes are made durable: the local spool, or the cluster's replicated stream (cluster/edge.ts) */
  spool: Pick<Spool, 'append'>;
  limits: DecodeLimits;
  metrics: IngestMetrics;
  /** where dead letters go (the embedded broker, or the external broker's client) */
  deadLetter: DeadLetterPublisher;
  /** receive-time clock; injectable for tests */
  now?: () => number;
  /**
   * Why the store can never hold this device's fixes (its ids predate the registry's grammar), or
   * undefined; such fixes are refused (`unstorable_id`) rather than acknowledged and then refused by the
   * store. Asked once per registry entry (a changed device is a new object).
   */
  unstorable?: (device: Device) => string | undefined;
  /**
   * Admission in front of everything else: while the spool nears its limit a message waits here, its
   * acknowledgement with it (backpressure.ts); rejected when the platform stops.
   */
  backpressure?: Backpressure;
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
  /** device → ts → the spool append under way for that fix (see accept) */
  private readonly appending = new Map<string, Map<number, Promise<void>>>();
  private readonly appendFailureLog = new LogThrottle();
  private readonly deprecationNotices: DeprecationNotices;
  /** registry entry → why the store cannot hold its fixes ('' when it can) */
  private readonly unstorableByDevice = new WeakMap<Device, string>();
  private readonly deprecatedNumericAcc: { inc(n: number): void };

  constructor(private readonly opts: IngestCoreOptions) {
    this.now = opts.now ?? Date.now;
    this.deprecationNotices = new DeprecationNotices({ now: this.now });
    this.deprecatedNumericAcc = opts.metrics.deprecatedFields.labels('acc_number');
    this.deprecatedNumericAcc.inc(0);
    this.messagesByTransport = {
      embedded: opts.metrics.messages.labels('embedded'),
      external: opts.metrics.messages.labels('external'),
      jt808: opts.metrics.messages.labels('jt808'),
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
    const receivedMs = this.now();
    this.messagesByTransport[transport].inc();
    // the common case returns no promise: nothing waits and nothing is allocated
    const admission = this.opts.backpressure?.admit();
    if (admission !== undefined) await admission;
    const deviceId = deviceIdFromTelemetryTopic(topic);
    if (deviceId === undefined) {
      this.deadLetter(topic, '', payload, receivedMs, [
        { reason: 'bad_topic', detail: `topic "${topic.slice(0, 200)}" is not devices/{id}/telemetry` },
      ]);
      return;
    }
    const device = this.opts.registry.device(deviceId);
    const unstorable = device === undefined ? '' : this.unstorableReason(device);
    if (unstorable !== '') {
      this.deadLetter(topic, deviceId, payload, receivedMs, [
        { reason: 'unstorable_id', detail: `the store cannot hold this device's fixes: ${unstorable}` },
      ]);
      return;
    }
    const { fixes, rejections, deprecatedNumericAcc } = decodeTelemetry(
      { deviceId, payload, receivedMs, device },
      this.opts.limits,
    );
    if (rejections.length > 0) this.deadLetter(topic, deviceId, payload, receivedMs, rejections);
    if (deprecatedNumericAcc > 0) this.noteDeprecatedAcc(deviceId, deprecatedNumericAcc);
    if (fixes.length === 0) return;
    await this.admit(fixes, receivedMs);
  }

  /**
   * The entry of a protocol gateway that decodes its own frames into fix objects: the same checks,
   * normalization, sequencing, spool and listeners as `accept`, without a JSON round trip. Resolves once
   * the accepted fixes are durable (when the gateway may acknowledge), with what became of them;
   * rejects when the spool could not store them (not to be acknowledged: the device sends them again).
   */
  async acceptFixObjects(source: FixObjects, transport: Transport): Promise<AcceptOutcome> {
    const receivedMs = this.now();
    this.messagesByTransport[transport].inc();
    // the same spool backpressure as MQTT: the gateway's answer waits with it
    const admission = this.opts.backpressure?.admit();
    if (admission !== undefined) await admission;
    const { device } = source;
    const unstorable = this.unstorableReason(device);
    if (unstorable !== '') {
      this.deadLetter(source.topic, device.id, source.raw(), receivedMs, [
        { reason: 'unstorable_id', detail: `the store cannot hold this device's fixes: ${unstorable}` },
      ]);
      return { accepted: 0, duplicates: 0, rejected: source.items.length };
    }
    const { fixes, rejections } = device.enabled
      ? validateFixObjects(
          { deviceId: device.id, device, receivedMs },
          source.items,
          source.batch,
          this.opts.limits,
        )
      : {
          fixes: [],
          rejections: [{ reason: 'device_disabled' as const, detail: `device "${device.id}" is disabled` }],
        };
    if (rejections.length > 0) this.deadLetter(source.topic, device.id, source.raw(), receivedMs, rejections);
    if (fixes.length === 0) return { accepted: 0, duplicates: 0, rejected: rejections.length };
    const admitted = await this.admit(fixes, receivedMs);
    return { accepted: admitted, duplicates: fixes.length - admitted, rejected: rejections.length };
  }

  /** sequence → spool → listeners; resolves with the number of fixes admitted once they are durable */
  private async admit(fixes: Fix[], receivedMs: number): Promise<number> {
    const { metrics } = this.opts;

    // Within one message, apply fixes in time order so a batch upload is judged oldest first.
    if (fixes.length > 1) fixes.sort((a, b) => a.ts - b.ts);
    const admitted: Fix[] = [];
    // A duplicate of a fix whose append is still under way (a resend on a new connection while the old
    // one's hook waits) is acknowledged only once that append is durable, and not if it fails.
    const pendingOriginals: Promise<void>[] = [];
    for (const fix of fixes) {
      const verdict = this.sequencer.admit(fix);
      if (verdict === 'duplicate') {
        metrics.duplicates.inc();
        const original = this.appending.get(fix.device)?.get(fix.ts);
        if (original !== undefined) pendingOriginals.push(original);
      } else {
        if (verdict === 'late') metrics.late.inc();
        admitted.push(fix);
      }
    }
    if (admitted.length === 0) {
      if (pendingOriginals.length > 0) await Promise.all(pendingOriginals);
      return 0;
    }
    const appended = this.opts.spool.append(admitted.map((f) => JSON.stringify(f)));
    this.trackAppend(admitted, appended);
    try {
      await appended;
    } catch (err) {
      // Not durable, so not acknowledged: the transport withholds the PUBACK and the device sends the
      // message again, which must then be admitted again rather than dropped as a duplicate.
      for (const fix of admitted) this.sequencer.forget(fix);
      metrics.spoolAppendFailures.inc();
      const n = this.appendFailureLog.hit();
      if (n > 0) {
        this.opts.logger?.error(
          { err: (err as Error).message, failures: n },
          'spool append failed: message not acknowledged (the device sends it again)',
        );
      }
      throw err;
    }
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
    // this message's own fixes are durable and delivered; its duplicates' originals must be too
    if (pendingOriginals.length > 0) await Promise.all(pendingOriginals);
    return admitted.length;
  }

  private unstorableReason(device: Device): string {
    if (this.opts.unstorable === undefined) return '';
    let reason = this.unstorableByDevice.get(device);
    if (reason === undefined) {
      reason = this.opts.unstorable(device) ?? '';
      this.unstorableByDevice.set(device, reason);
    }
    return reason;
  }

  private noteDeprecatedAcc(deviceId: string, fixes: number): void {
    this.deprecatedNumericAcc.inc(fixes);
    const warning = this.deprecationNotices.hit(deviceId, fixes);
    if (warning === undefined) return;
    this.opts.logger?.warn(
      warning,
      `device ${deviceId} sends its accuracy as a number in "acc", which means ignition (ACC) in this contract now: read as accuracy for this release only; send "accuracy" (metres) instead`,
    );
  }

  private trackAppend(fixes: readonly Fix[], appended: Promise<void>): void {
    for (const fix of fixes) {
      let byTs = this.appending.get(fix.device);
      if (byTs === undefined) {
        byTs = new Map();
        this.appending.set(fix.device, byTs);
      }
      byTs.set(fix.ts, appended);
    }
    const untrack = () => {
      for (const fix of fixes) {
        const byTs = this.appending.get(fix.device);
        if (byTs?.get(fix.ts) !== appended) continue;
        byTs.delete(fix.ts);
        if (byTs.size === 0) this.appending.delete(fix.device);
      }
    };
    appended.then(untrack, untrack);
  }

  private deadLetter(
    topic: string,
    deviceId: string,
    payload: Buffer,
    receivedMs: number,
    rejections: Rejection[],
  ): void {
    for (const r of rejections) this.opts.metrics.rejected.labels(r.reason).inc();
    this.opts.metrics.deadLetters.inc();
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
