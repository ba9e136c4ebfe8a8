/**
 * The events the workers stored, for the consumers that must not miss one (issue 16: the single
 * process's webhooks). A worker publishes every violation and trip event of a batch to the replicated
 * stream CITYWATCH_EVENTS once the event store took them, before its checkpoint moves past the batch:
 * a worker that dies in between has its batch judged again by the next owner, and the stream's duplicate
 * window drops the events published twice (the message id is a digest of the event: the same event,
 * the same id). An API node reads the stream with a durable consumer of its own (its name kept in its
 * DATA_DIR) and hands each event to its webhook dispatcher (delivery/webhooks/dispatcher.ts), acknowledging it
 * once the dispatcher has written its deliveries: an API node that was down gets what it missed when it
 * is back; one that dies between the write and the acknowledgement gets the event again, and its
 * subscribers a second delivery with the same webhook id (at least once, as Standard Webhooks expects
 * receivers to deduplicate by that id).
 *
 * The live streams and the MQTT alerts stay on the core NATS subject of live-feed.ts (at most once, as
 * in the single process).
 */
import { createHash } from 'node:crypto';
import { AckPolicy, DeliverPolicy, type JetStreamClient } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { TripEvent } from '../geofence/trips.ts';
import type { ViolationEvent } from '../geofence/types.ts';
import { type ClusterConnection, EVENT_STREAM, EVENT_SUBJECT_PREFIX } from './jetstream.ts';

const VIOLATION_SUBJECT = `${EVENT_SUBJECT_PREFIX}.violation`;
const TRIP_SUBJECT = `${EVENT_SUBJECT_PREFIX}.trip`;

/** a worker's side: the batch's stored events, each acknowledged by the stream (R3) */
export async function publishStoredEvents(
  js: JetStreamClient,
  violations: readonly ViolationEvent[],
  trips: readonly TripEvent[],
): Promise<void> {
  const publish = (subject: string, event: unknown) => {
    const body = JSON.stringify(event);
    const msgID = createHash('sha256').update(subject).update('\n').update(body).digest('hex');
    return js.publish(subject, body, { msgID });
  };
  await Promise.all([
    ...violations.map((e) => publish(VIOLATION_SUBJECT, e)),
    ...trips.map((e) => publish(TRIP_SUBJECT, e)),
  ]);
}

export interface StoredEventSink {
  onViolation(event: ViolationEvent): void;
  onTrip(event: TripEvent): void;
}

/**
 * An API node's side: every event stored from the first start of the durable consumer `durable` on,
 * into `sink`, until stop(). Each is acknowledged after the sink's writes of the next turn of the event
 * loop (the dispatcher writes its deliveries there).
 */
export function consumeStoredEvents(
  cluster: Pick<ClusterConnection, 'js' | 'jsm'>,
  durable: string,
  sink: StoredEventSink,
  logger: Logger,
  /** how long a durable consumer nobody reads is kept (the stream's max age) */
  inactiveMs: number,
): { stop(): Promise<void> } {
  let stopped = false;
  let stopConsumer: (() => void) | undefined;
  const loop = (async () => {
    while (!stopped) {
      try {
        try {
          await cluster.jsm.consumers.info(EVENT_STREAM, durable);
        } catch {
          // the first start of this node: from now on (what was stored before is not its subscribers')
          await cluster.jsm.consumers.add(EVENT_STREAM, {
            durable_name: durable,
            ack_policy: AckPolicy.Explicit,
            deliver_policy: DeliverPolicy.New,
            inactive_threshold: nanos(inactiveMs),
          });
        }
        const consumer = await cluster.js.consumers.get(EVENT_STREAM, durable);
        const messages = await consumer.consume({ max_messages: 256 });
        stopConsumer = () => void messages.stop();
        if (stopped) void messages.stop();
        for await (const m of messages) {
          try {
            if (m.subject === TRIP_SUBJECT) sink.onTrip(m.json<TripEvent>());
            else sink.onViolation(m.json<ViolationEvent>());
          } catch (err) {
            logger.error(
              { err: (err as Error).message, seq: m.seq },
              'event feed: an event could not be read',
            );
          }
          // the dispatcher writes what it queued on the next turn of the loop: acknowledged after it
          await new Promise((r) => setImmediate(r));
          m.ack();
        }
      } catch (err) {
        if (stopped) return;
        logger.warn({ err: (err as Error).message }, 'event feed: reading the event stream failed; again');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  })();
  return {
    async stop() {
      stopped = true;
      stopConsumer?.();
      await loop;
    },
  };
}

/**
 * An edge's side (platform/cluster-jt808.ts: the drivers' violation texts): every violation event stored
 * from now on, in stream order, each handed to `onEvent` once the one before it was handled. An ordered
 * consumer from the stream's next sequence: an edge cut off from NATS for a while reads, once it is
 * back, what was stored meanwhile (the client recreates the consumer at the sequence after its last;
 * this loop does too when the consumer fails), where the core NATS subject of live-feed.ts would have
 * lost it. Nothing is kept on the server for it: an edge that restarts starts from its start again.
 */
export function followStoredViolations(
  cluster: Pick<ClusterConnection, 'js' | 'jsm'>,
  onEvent: (event: ViolationEvent) => Promise<void>,
  logger: Logger,
): { stop(): Promise<void> } {
  let stopped = false;
  let stopConsumer: (() => void) | undefined;
  let next: number | undefined;
  const loop = (async () => {
    while (!stopped) {
      try {
        next ??= (await cluster.jsm.streams.info(EVENT_STREAM)).state.last_seq + 1;
        const consumer = await cluster.js.consumers.get(EVENT_STREAM, {
          filter_subjects: VIOLATION_SUBJECT, // one subject: `filter_subject`, which NATS 2.9 takes
          opt_start_seq: next,
        });
        const messages = await consumer.consume({ max_messages: 64 });
        stopConsumer = () => void messages.stop();
        if (stopped) void messages.stop();
        for await (const m of messages) {
          let event: ViolationEvent | undefined;
          try {
            event = m.json<ViolationEvent>();
          } catch (err) {
            logger.error(
              { err: (err as Error).message, seq: m.seq },
              'violation feed: an event could not be read',
            );
          }
          if (event !== undefined) {
            await onEvent(event).catch((err: Error) =>
              logger.error({ err: err.message, seq: m.seq }, 'violation feed: an event could not be handled'),
            );
          }
          next = m.seq + 1;
        }
      } catch (err) {
        if (stopped) return;
        logger.warn(
          { err: (err as Error).message },
          'violation feed: reading the event stream failed; again',
        );
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  })();
  return {
    async stop() {
      stopped = true;
      stopConsumer?.();
      await loop;
    },
  };
}
