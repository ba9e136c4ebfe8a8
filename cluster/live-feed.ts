/**
 * The live streams fed from the cluster (issue 16): an API node's GET /api/v1/live/positions and
 * /live/violations show every unit, whichever edge took its fixes and whichever worker judged them.
 *  - positions: the fixes the stream stored, read by an ordered consumer from the newest on (a fix the
 *    stream dropped as a duplicate is not shown twice);
 *  - violations: each worker publishes the violation events it has stored on the core NATS subject
 *    LIVE_VIOLATION_SUBJECT (at most once, like the single process's MQTT alerts: the event store and the
 *    webhooks are the durable paths). A partition replayed after a takeover publishes its events again,
 *    so a live client may see an event twice then (same id and phase).
 * An edge publishes the same violation events as the MQTT alerts `alerts/{firm}/{vehicle}` on its broker
 * (platform/cluster.ts), so a service subscribed to any edge gets every unit's alerts.
 * Nothing is kept here: a live client that falls behind is dropped by the hub (delivery/live/channel.ts).
 */
import { DeliverPolicy } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { Fix } from '../core/fix.ts';
import type { ViolationEvent } from '../geofence/types.ts';
import { type ClusterConnection, FIX_STREAM } from './jetstream.ts';

export const LIVE_VIOLATION_SUBJECT = 'citywatch.live.violations';

/** a worker's side: the events it has stored, to every API node listening */
export function publishLiveViolations(
  cluster: Pick<ClusterConnection, 'nc'>,
  events: readonly ViolationEvent[],
) {
  for (const e of events) cluster.nc.publish(LIVE_VIOLATION_SUBJECT, JSON.stringify(e));
}

export interface LiveSink {
  publishFixes(fixes: readonly Fix[]): void;
  publishViolation(event: ViolationEvent): void;
}

/** every violation event the workers store, from now on, until stop() */
export function subscribeLiveViolations(
  cluster: Pick<ClusterConnection, 'nc'>,
  onEvent: (event: ViolationEvent) => void,
  logger: Logger,
): { stop(): void } {
  const sub = cluster.nc.subscribe(LIVE_VIOLATION_SUBJECT, {
    callback: (err, msg) => {
      if (err) return;
      try {
        onEvent(msg.json<ViolationEvent>());
      } catch (e) {
        logger.warn({ err: (e as Error).message }, 'live feed: a violation event could not be read');
      }
    },
  });
  return { stop: () => sub.unsubscribe() };
}

/** an API node's side: the cluster's fixes and violations into its live hub, until stop() */
export function feedLive(
  cluster: Pick<ClusterConnection, 'nc' | 'js'>,
  live: LiveSink,
  logger: Logger,
): { stop(): Promise<void> } {
  let stopped = false;
  const violations = subscribeLiveViolations(cluster, (e) => live.publishViolation(e), logger);
  let stopConsumer: (() => void) | undefined;
  const positions = (async () => {
    while (!stopped) {
      try {
        const consumer = await cluster.js.consumers.get(FIX_STREAM, { deliver_policy: DeliverPolicy.New });
        const messages = await consumer.consume({ max_messages: 1000 });
        stopConsumer = () => void messages.stop();
        if (stopped) void messages.stop();
        for await (const m of messages) live.publishFixes([m.json<Fix>()]);
      } catch (err) {
        if (stopped) return;
        logger.warn({ err: (err as Error).message }, 'live feed: reading the fix stream failed; again');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  })();
  return {
    async stop() {
      stopped = true;
      violations.stop();
      stopConsumer?.();
      await positions;
    },
  };
}
