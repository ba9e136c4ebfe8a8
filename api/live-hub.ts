import type { Fix, UnitKind } from '../core/fix.ts';
import { withInstants } from '../core/instants.ts';
import { LiveChannel, type SubscribeOptions, type Subscription } from '../delivery/live/channel.ts';
import type { ViolationEvent } from '../geofence/types.ts';
import type { Registry } from '../registry/types.ts';
import { toPositionDto } from './schemas.ts';

/**
 * The live bus behind GET /api/v1/live/*: accepted fixes (IngestCore.onFixes) and violation events
 * (ComplianceService.bus 'violation') go in, each on its own channel with its own ids and replay ring.
 * Publishing is synchronous and never waits for a client (see delivery/live/channel.ts).
 */

export type LiveStreamName = 'positions' | 'violations';

export interface LiveHubOptions {
  /** plates for positions, unit kinds for violations */
  registry: Pick<Registry, 'vehicle' | 'device'>;
  /** how long events stay replayable, ms */
  retentionMs: number;
  /** events kept per stream at most */
  maxEvents: number;
  /** events a blocked client may fall behind before it is dropped */
  maxLag: number;
  /** bytes buffered per client before writes to it stop (the route's stream highWaterMark) */
  clientBufferBytes: number;
  /** interval of heartbeat comments, ms; 0 disables them */
  heartbeatMs: number;
  now?: () => number;
  /**
   * the id before a stream's first event. Defaults to the start time in microseconds-ish (epoch ms x
   * 1000), so ids keep increasing across restarts and an id from before a restart is recognised as
   * older than the ring (a `reset`), instead of being mistaken for a recent one.
   */
  idBase?: number;
}

/** What the routes need: api/app.ts takes this rather than the class, so tests can pass their own hub. */
export interface LiveStreams {
  readonly clientBufferBytes: number;
  subscribe(stream: LiveStreamName, options: SubscribeOptions): Subscription;
}

export class LiveHub implements LiveStreams {
  readonly clientBufferBytes: number;
  private readonly channels: Record<LiveStreamName, LiveChannel>;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: LiveHubOptions) {
    const now = opts.now ?? Date.now;
    const common = {
      capacity: opts.maxEvents,
      retentionMs: opts.retentionMs,
      idBase: opts.idBase ?? now() * 1000,
      maxLag: opts.maxLag,
      now,
    };
    this.channels = {
      positions: new LiveChannel('positions', 'position', common),
      violations: new LiveChannel('violations', 'violation', common),
    };
    this.clientBufferBytes = opts.clientBufferBytes;
    if (opts.heartbeatMs > 0) {
      this.timer = setInterval(() => this.heartbeat(), opts.heartbeatMs);
      this.timer.unref();
    }
  }

  /** IngestCore.onFixes listener: one `position` event per accepted fix, in acceptance order. */
  publishFixes(fixes: readonly Fix[]): void {
    const { registry } = this.opts;
    this.channels.positions.publish(
      fixes.map((fix) => ({
        meta: { firm: fix.firm, vehicle: fix.vehicle, kind: fix.kind, lon: fix.lon, lat: fix.lat },
        data: JSON.stringify(toPositionDto(fix, registry.vehicle(fix.vehicle)?.plate)),
      })),
    );
  }

  /**
   * ComplianceService.bus 'violation' listener: the event as the MQTT alert carries it, with the ISO
   * instants the API adds to violations (startAt, endAt).
   */
  publishViolation(event: ViolationEvent): void {
    const v = event.violation;
    this.channels.violations.publish([
      {
        meta: {
          firm: v.firm,
          vehicle: v.vehicle,
          kind: this.kindOf(v.vehicle),
          lon: v.lastPos[0],
          lat: v.lastPos[1],
          code: v.code,
        },
        data: JSON.stringify({ ...event, violation: withInstants(v) }),
      },
    ]);
  }

  subscribe(stream: LiveStreamName, options: SubscribeOptions): Subscription {
    return this.channels[stream].subscribe(options);
  }

  heartbeat(): void {
    for (const channel of Object.values(this.channels)) channel.heartbeat();
  }

  stats(): Record<LiveStreamName, ReturnType<LiveChannel['stats']>> {
    return { positions: this.channels.positions.stats(), violations: this.channels.violations.stats() };
  }

  /** Stops the heartbeat and ends every client's stream. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    for (const channel of Object.values(this.channels)) channel.closeAll();
  }

  private kindOf(unit: string): UnitKind | undefined {
    const { registry } = this.opts;
    return registry.vehicle(unit)?.kind ?? registry.device(unit)?.kind;
  }
}
