import mqtt, { type MqttClient } from 'mqtt';
import type { UnitKind } from '../../core/fix.ts';
import { type FixPayload, statusTopic, telemetryTopic } from '../../ingest/payload.ts';
import type { NewDevice } from '../../registry/types.ts';
import { type BehaviourFactory, createDeviceSims, type DeviceSim } from './device-sim.ts';
import { demoRegistrySeed } from './registry.ts';

/**
 * The demo fleet of Hefei (合肥): two muck-truck firms (four trucks), one sanitation contractor (two
 * sweepers) and one city-management department (three officers with body cameras). Used by the default
 * `npm start` to seed the registry and drive the map.
 *
 * The geometry (sites, routes, rounds, patrol loops) is fixed, so permits and zones written for the demo
 * stay valid; the seed only varies speeds, dwell times, phases and GPS noise.
 *
 * This module drives the fleet live over MQTT; its registry is registry.ts, its geometry geometry.ts, and
 * its devices as pure simulations device-sim.ts.
 */

/** pino, console and most loggers fit this. */
export interface SimLogger {
  info(msg: string): void;
  warn(msg: string): void;
  /** each device's connect and reconnect; without it they are not logged (info has the fleet's summary) */
  debug?(msg: string): void;
}

export interface DemoFleetOptions {
  /** broker URL, e.g. mqtt://127.0.0.1:1883 */
  url: string;
  /** devices to simulate with their secrets; default the demo devices of demoRegistrySeed() */
  devices?: readonly NewDevice[];
  /** simulated seconds per real second (default 1). See the note on ts below. */
  speedup?: number;
  seed?: number;
  logger?: SimLogger;
  /** report interval override per kind, seconds (default: the device's reportIntervalS, else 10/10/15) */
  intervalS?: Partial<Record<UnitKind, number>>;
  /**
   * Simulated epoch ms at start (default now). With speedup > 1 the simulated clock runs ahead of the
   * wall clock, and ingest refuses fixes more than 5 min in the future: start in the past (e.g. now minus
   * a few hours) for long sped-up runs.
   */
  startTs?: number;
  /**
   * Catch up, then run in real time: the simulated clock runs at `speedup` from `startTs` (in the past)
   * until it reaches the wall clock, then at 1x, so no fix is ever stamped in the future (ingest refuses
   * those). This is how `npm start` hurries the demo (SIMULATE_SPEEDUP).
   */
  catchUp?: boolean;
  /** mqtt.js reconnectPeriod, ms (default 2000) */
  reconnectPeriodMs?: number;
  /**
   * Publish a retained {"state":"online"} on connect and {"state":"offline"} before a clean stop
   * (default false: the platform broker tracks status itself; the retained last will
   * {"state":"offline"} is always set, for brokers that do not).
   */
  announceStatus?: boolean;
  /** fixes kept while disconnected, per device, then sent as one JSON array on reconnect (default 360) */
  offlineBufferFixes?: number;
  /** optional behaviour override per device (e.g. `scenarioBehaviourFor()` of scenario-trucks.ts) */
  behaviourFor?: BehaviourFactory;
}

/** a connection closed this soon after its CONNACK was most likely taken over */
const KNOCKED_OFF_WITHIN_MS = 30_000;

export interface DemoFleetStats {
  devices: number;
  connected: number;
  /** telemetry messages handed to mqtt.js */
  published: number;
  /** telemetry messages acknowledged by the broker (PUBACK) */
  acked: number;
  /** publishes that failed */
  failed: number;
  /** fixes currently buffered while offline */
  buffered: number;
  reconnects: number;
  /**
   * connections the broker closed within 30 s of their CONNACK: the sign of another
   * client connecting with the same client id (a takeover, [MQTT-3.1.4-2]), e.g. a second demo fleet
   */
  knockedOff: number;
  /** current simulated time, ISO-8601 UTC */
  simTime: string;
}

export interface DemoFleet {
  stop(): Promise<void>;
  stats(): DemoFleetStats;
}

interface LiveDevice {
  sim: DeviceSim;
  client: MqttClient;
  timer: NodeJS.Timeout | undefined;
  buffer: FixPayload[];
  everConnected: boolean;
  lastError: string | undefined;
}

/**
 * Connects every device (clientId = username = device id, password = secret, retained last will
 * `{"state":"offline"}` on devices/{id}/status) and publishes QoS 1 fixes on devices/{id}/telemetry at each
 * device's interval of simulated time. Returns at once; connections and reconnections run in the
 * background.
 */
export function startDemoFleet(opts: DemoFleetOptions): DemoFleet {
  const devices = opts.devices ?? demoRegistrySeed().devices;
  const speedup = opts.speedup ?? 1;
  if (!(speedup > 0)) throw new Error('speedup must be > 0');
  const startTs = opts.startTs ?? Date.now();
  const realStart = performance.now();
  const log = opts.logger;
  const announce = opts.announceStatus ?? false;
  const bufferCap = opts.offlineBufferFixes ?? 360;
  const counters = { published: 0, acked: 0, failed: 0, reconnects: 0, knockedOff: 0 };
  let stopping = false;
  const sims = createDeviceSims(devices, {
    seed: opts.seed ?? 1,
    startTs,
    intervalS: opts.intervalS,
    ...(opts.behaviourFor ? { behaviourFor: opts.behaviourFor } : {}),
  });
  // Wall clock as performance.now() time: the instant at which the sped-up clock meets the present.
  const wallOffset = Date.now() - performance.now();
  const catchUpAt = opts.catchUp ? realStart + (wallOffset + realStart - startTs) / (speedup - 1) : Infinity;
  const simNow = (): number => {
    const t = performance.now();
    return t < catchUpAt ? startTs + (t - realStart) * speedup : wallOffset + t;
  };

  const status = (state: 'online' | 'offline'): string =>
    JSON.stringify({ state, ts: new Date().toISOString() });

  const publishFix = (live: LiveDevice, body: FixPayload | FixPayload[]): void => {
    counters.published++;
    live.client.publish(telemetryTopic(live.sim.id), JSON.stringify(body), { qos: 1 }, (err) => {
      if (err) {
        counters.failed++;
        if (!stopping) log?.warn(`demo fleet: ${live.sim.id} publish failed: ${err.message}`);
      } else {
        counters.acked++;
      }
    });
  };

  const schedule = (live: LiveDevice): void => {
    const spedUp = realStart + (live.sim.nextTs - startTs) / speedup;
    const due = spedUp < catchUpAt ? spedUp : live.sim.nextTs - wallOffset;
    live.timer = setTimeout(() => tick(live), Math.max(0, due - performance.now()));
  };

  const tick = (live: LiveDevice): void => {
    if (stopping) return;
    const msg = live.sim.next();
    if (msg.silent === true) {
      // simulated outage: nothing sent, nothing buffered
    } else if (live.client.connected) {
      publishFix(live, msg.payload);
    } else {
      live.buffer.push(msg.payload);
      if (live.buffer.length > bufferCap) live.buffer.shift();
    }
    schedule(live);
  };

  let everConnected = 0;
  const lives: LiveDevice[] = sims.map((sim, i) => {
    const device = devices[i] as NewDevice;
    const client = mqtt.connect(opts.url, {
      clientId: device.id,
      username: device.id,
      password: device.secret,
      reconnectPeriod: opts.reconnectPeriodMs ?? 2000,
      connectTimeout: 10_000,
      keepalive: 60,
      will: { topic: statusTopic(device.id), payload: Buffer.from(status('offline')), qos: 1, retain: true },
    });
    const live: LiveDevice = {
      sim,
      client,
      timer: undefined,
      buffer: [],
      everConnected: false,
      lastError: undefined,
    };
    let connectedAt = Number.NEGATIVE_INFINITY;
    client.on('connect', () => {
      // one info line for the fleet once every device is in, not one per device (issue 10, item 17)
      if (!live.everConnected) {
        log?.debug?.(`demo fleet: ${device.id} (${device.kind}) connected`);
        if (++everConnected === sims.length) log?.info(`demo fleet: all ${sims.length} devices connected`);
      } else log?.debug?.(`demo fleet: ${device.id} reconnected`);
      live.everConnected = true;
      live.lastError = undefined;
      connectedAt = Date.now();
      if (announce) client.publish(statusTopic(device.id), status('online'), { qos: 1, retain: true });
      // Blind-area backfill: what was recorded while offline goes up as JSON arrays.
      while (live.buffer.length > 0) publishFix(live, live.buffer.splice(0, 100));
    });
    client.on('reconnect', () => {
      counters.reconnects++;
    });
    client.on('close', () => {
      // a refused CONNECT never set connectedAt: only accepted connections count
      if (!stopping && Date.now() - connectedAt < KNOCKED_OFF_WITHIN_MS) counters.knockedOff++;
      connectedAt = Number.NEGATIVE_INFINITY;
    });
    client.on('offline', () => {
      if (!stopping && live.everConnected) log?.warn(`demo fleet: ${device.id} offline, reconnecting`);
    });
    client.on('error', (err) => {
      // once per distinct error, not on every reconnect attempt
      if (!stopping && err.message !== live.lastError) log?.warn(`demo fleet: ${device.id}: ${err.message}`);
      live.lastError = err.message;
    });
    schedule(live);
    return live;
  });

  return {
    stats: () => ({
      devices: lives.length,
      connected: lives.filter((l) => l.client.connected).length,
      ...counters,
      buffered: lives.reduce((n, l) => n + l.buffer.length, 0),
      simTime: new Date(simNow()).toISOString(),
    }),
    stop: async () => {
      if (stopping) return;
      stopping = true;
      await Promise.all(
        lives.map(async (l) => {
          clearTimeout(l.timer);
          if (l.client.connected) {
            // A clean disconnect suppresses the will, so say offline ourselves when asked to.
            if (announce) {
              await Promise.race([
                l.client.publishAsync(statusTopic(l.sim.id), status('offline'), { qos: 1, retain: true }),
                new Promise((r) => setTimeout(r, 2000)),
              ]).catch(() => undefined);
            }
            await Promise.race([l.client.endAsync(), new Promise((r) => setTimeout(r, 2000))]).catch(
              () => undefined,
            );
          }
          l.client.end(true);
        }),
      );
    },
  };
}
