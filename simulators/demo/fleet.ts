import mqtt, { type MqttClient } from 'mqtt';
import type { UnitKind } from '../../core/fix.ts';
import { type FixPayload, statusTopic, telemetryTopic } from '../../ingest/payload.ts';
import type { Firm, NewDevice, Officer, Vehicle } from '../../registry/types.ts';
import {
  type Behaviour,
  MuckTruckBehaviour,
  OfficerBehaviour,
  SweeperBehaviour,
  type TruckPhase,
} from '../motion/behaviour.ts';
import { createRng, hashString, type Rng } from '../shared/rng.ts';
import { blockLoop, type LatLon, offsetM, type Polyline, patrolLoop, roadRoute } from '../shared/tracks.ts';

/**
 * The demo fleet of Hefei (合肥): two muck-truck firms (four trucks), one sanitation contractor (two
 * sweepers) and one city-management department (three officers with body cameras). Used by the default
 * `npm start` to seed the registry and drive the map.
 *
 * The geometry (sites, routes, rounds, patrol loops) is fixed, so permits and zones written for the demo
 * stay valid; the seed only varies speeds, dwell times, phases and GPS noise.
 */

/** Centre of Hefei (WGS-84), near 政务区 / 蜀山区. */
export const HEFEI: LatLon = { lat: 31.82, lon: 117.23 };

/** Default report intervals, seconds. */
export const DEFAULT_INTERVAL_S: Record<UnitKind, number> = {
  muck_truck: 10,
  sanitation: 10,
  body_camera: 15,
};

export interface DemoRegistrySeed {
  firms: Firm[];
  vehicles: Vehicle[];
  officers: Officer[];
  /** with their plain demo secrets */
  devices: NewDevice[];
}

// DEMO ONLY: these device secrets are fixed, public values that exist so the demo fleet can log in to a
// freshly seeded local platform. They must never be used for real devices or on a reachable broker.
const DEMO_SECRET_PREFIX = 'demo-only-secret-';
/** The fixed, public demo secret of a demo device (DEMO ONLY, see above). */
export const demoSecret = (deviceId: string): string => `${DEMO_SECRET_PREFIX}${deviceId}`;

interface TruckSpec {
  vehicle: string;
  plate: string;
  ratedLoadT: number;
  device: string;
  firm: string;
}

const FIRMS: Firm[] = [
  { id: 'firm-hf-jianyun', name: '合肥建运渣土运输有限公司' },
  { id: 'firm-hf-xinglong', name: '合肥兴隆土方工程有限公司' },
  { id: 'firm-hf-qingyuan', name: '合肥清源环境服务有限公司' },
  { id: 'dept-hf-shushan-cg', name: '合肥市蜀山区城市管理局' },
];

const TRUCKS: TruckSpec[] = [
  { vehicle: 'veh-d1234', plate: '皖A·D1234', ratedLoadT: 18, device: 'dev-d1234', firm: 'firm-hf-jianyun' },
  { vehicle: 'veh-d5678', plate: '皖A·D5678', ratedLoadT: 31, device: 'dev-d5678', firm: 'firm-hf-jianyun' },
  { vehicle: 'veh-f2468', plate: '皖A·F2468', ratedLoadT: 31, device: 'dev-f2468', firm: 'firm-hf-xinglong' },
  { vehicle: 'veh-f1357', plate: '皖A·F1357', ratedLoadT: 18, device: 'dev-f1357', firm: 'firm-hf-xinglong' },
];

const SWEEPERS = [
  { vehicle: 'veh-h0621', plate: '皖A·H0621', device: 'dev-h0621', firm: 'firm-hf-qingyuan' },
  { vehicle: 'veh-h0622', plate: '皖A·H0622', device: 'dev-h0622', firm: 'firm-hf-qingyuan' },
];

const OFFICERS: Officer[] = [
  { id: 'officer-001', name: '王磊', firm: 'dept-hf-shushan-cg' },
  { id: 'officer-002', name: '李娜', firm: 'dept-hf-shushan-cg' },
  { id: 'officer-003', name: '张伟', firm: 'dept-hf-shushan-cg' },
];

const CAMERAS = [
  { device: 'cam-sc-0001', officer: 'officer-001' },
  { device: 'cam-sc-0002', officer: 'officer-002' },
  { device: 'cam-sc-0003', officer: 'officer-003' },
];

/** Firms, vehicles, officers and devices (with their demo secrets) for seeding the registry. */
export function demoRegistrySeed(): DemoRegistrySeed {
  const vehicles: Vehicle[] = [
    ...TRUCKS.map((t) => ({
      id: t.vehicle,
      plate: t.plate,
      kind: 'muck_truck' as const,
      firm: t.firm,
      ratedLoadT: t.ratedLoadT,
    })),
    ...SWEEPERS.map((s) => ({ id: s.vehicle, plate: s.plate, kind: 'sanitation' as const, firm: s.firm })),
  ];
  const devices: NewDevice[] = [
    ...TRUCKS.map((t) => ({
      id: t.device,
      secret: demoSecret(t.device),
      kind: 'muck_truck' as const,
      vehicle: t.vehicle,
      firm: t.firm,
      reportIntervalS: DEFAULT_INTERVAL_S.muck_truck,
    })),
    ...SWEEPERS.map((s) => ({
      id: s.device,
      secret: demoSecret(s.device),
      kind: 'sanitation' as const,
      vehicle: s.vehicle,
      firm: s.firm,
      reportIntervalS: DEFAULT_INTERVAL_S.sanitation,
    })),
    ...CAMERAS.map((c) => ({
      id: c.device,
      secret: demoSecret(c.device),
      kind: 'body_camera' as const,
      firm: 'dept-hf-shushan-cg',
      officer: c.officer,
      reportIntervalS: DEFAULT_INTERVAL_S.body_camera,
    })),
  ];
  return {
    firms: FIRMS.map((f) => ({ ...f })),
    vehicles,
    officers: OFFICERS.map((o) => ({ ...o })),
    devices,
  };
}

/**
 * The sandbox: a firm of its own with one test truck and its device, seeded with the demo but never
 * driven by it, for a person trying the platform by hand (the README's `mosquitto_pub` example). Publishing
 * as a live demo truck teleports it and charges its firm (issue 10 item 7); whatever the sandbox device
 * does lands in the sandbox firm's figures only.
 */
export const SANDBOX = {
  firm: { id: 'firm-sandbox', name: '演示沙盒（手动测试）' },
  vehicle: 'veh-sandbox-1',
  device: 'dev-sandbox-1',
} as const;

export function demoSandboxSeed(): DemoRegistrySeed {
  return {
    firms: [{ ...SANDBOX.firm }],
    vehicles: [
      { id: SANDBOX.vehicle, plate: '皖A·TEST1', kind: 'muck_truck', firm: SANDBOX.firm.id, ratedLoadT: 18 },
    ],
    officers: [],
    devices: [
      {
        id: SANDBOX.device,
        secret: demoSecret(SANDBOX.device),
        kind: 'muck_truck',
        vehicle: SANDBOX.vehicle,
        firm: SANDBOX.firm.id,
        reportIntervalS: DEFAULT_INTERVAL_S.muck_truck,
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------
// Geometry

export interface DemoSite {
  name: string;
  center: LatLon;
  /** a square polygon round the centre, closed (first point repeated) */
  polygon: LatLon[];
}

export interface DemoHaul {
  firm: string;
  origin: DemoSite;
  disposal: DemoSite;
  /** from the origin centre to the disposal centre */
  route: Polyline;
}

export interface DemoPlan {
  hauls: DemoHaul[];
  sweeperRounds: Polyline[];
  patrols: Polyline[];
}

const GEOMETRY_SEED = 0x68656665; // fixed: the demo city's roads do not change with the simulation seed

function squareSite(name: string, center: LatLon, halfM: number): DemoSite {
  const polygon = [
    offsetM(center, -halfM, -halfM),
    offsetM(center, -halfM, halfM),
    offsetM(center, halfM, halfM),
    offsetM(center, halfM, -halfM),
  ];
  polygon.push(polygon[0] as LatLon);
  return { name, center, polygon };
}

let cachedPlan: DemoPlan | undefined;

/** Sites, routes, sweeping rounds and patrol loops of the demo (fixed geometry, WGS-84). */
export function demoPlan(): DemoPlan {
  if (cachedPlan) return cachedPlan;
  const rng = createRng(GEOMETRY_SEED);
  const haul = (firm: string, origin: DemoSite, disposal: DemoSite): DemoHaul => ({
    firm,
    origin,
    disposal,
    route: roadRoute(rng, origin.center, disposal.center),
  });
  const hauls: DemoHaul[] = [
    haul(
      'firm-hf-jianyun',
      squareSite('蜀山区 某安置房项目工地', { lat: 31.8352, lon: 117.2046 }, 120),
      squareSite('包河区 建筑垃圾消纳场', { lat: 31.8061, lon: 117.2471 }, 150),
    ),
    haul(
      'firm-hf-xinglong',
      squareSite('庐阳区 某商业综合体工地', { lat: 31.8468, lon: 117.2663 }, 120),
      squareSite('庐阳区 建筑垃圾资源化利用场', { lat: 31.8702, lon: 117.2298 }, 150),
    ),
  ];
  const sweeperRounds = [
    blockLoop(rng, offsetM(HEFEI, -900, 300), 800, 600),
    blockLoop(rng, offsetM(HEFEI, 400, -700), 700, 500),
  ];
  const patrols = [
    patrolLoop(rng, offsetM(HEFEI, -300, 900), 450),
    patrolLoop(rng, offsetM(HEFEI, 1200, 200), 500),
    patrolLoop(rng, offsetM(HEFEI, -1500, -800), 400),
  ];
  cachedPlan = { hauls, sweeperRounds, patrols };
  return cachedPlan;
}

// ---------------------------------------------------------------------------------------------------------
// Pure generator

export interface DemoMessage {
  device: string;
  kind: UnitKind;
  topic: string;
  ts: number;
  payload: FixPayload;
  /** true when the device did not send this fix (a simulated outage): publishers skip it */
  silent?: boolean;
}

/**
 * Chooses the behaviour of a device instead of the default demo one (e.g. the compliance scenarios of
 * scenario-trucks.ts); returns undefined to keep the default. Must not draw from `rng` when it returns undefined.
 */
export type BehaviourFactory = (device: NewDevice, rng: Rng) => Behaviour<FixPayload> | undefined;

export interface DeviceSimOptions {
  seed?: number;
  /** simulated epoch ms of the start; the first fix comes within one interval after it */
  startTs: number;
  /** report interval override per kind, seconds */
  intervalS?: Partial<Record<UnitKind, number>>;
  /** position of this device among those of its kind (chooses its route when it is not a demo device) */
  indexInKind?: number;
  /** optional behaviour override per device (default: the demo behaviours) */
  behaviourFor?: BehaviourFactory;
}

/** One simulated device: its behaviour plus its own clock. Pure and deterministic. */
export class DeviceSim {
  readonly id: string;
  readonly kind: UnitKind;
  readonly intervalMs: number;
  readonly behaviour: Behaviour<FixPayload>;
  /** ts of the next fix */
  nextTs: number;
  private lastTs: number;

  constructor(device: NewDevice, opts: DeviceSimOptions) {
    this.id = device.id;
    this.kind = device.kind;
    const seed = opts.seed ?? 1;
    const rng = createRng((Math.imul(seed, 0x9e3779b1) ^ hashString(device.id)) >>> 0);
    const intervalS =
      opts.intervalS?.[device.kind] ?? device.reportIntervalS ?? DEFAULT_INTERVAL_S[device.kind];
    this.intervalMs = Math.round(intervalS * 1000);
    const plan = demoPlan();
    const index = opts.indexInKind ?? 0;
    const custom = opts.behaviourFor?.(device, rng);
    if (custom !== undefined) {
      this.behaviour = custom;
    } else if (device.kind === 'muck_truck') {
      const known = TRUCKS.findIndex((t) => t.device === device.id);
      const i = known >= 0 ? known : index;
      const haul = plan.hauls[Math.floor(i / 2) % plan.hauls.length] as DemoHaul;
      const phases: TruckPhase[] = ['loading', 'haul', 'unloading', 'return'];
      // The two trucks of a firm start half a cycle apart.
      const phase = phases[(i * 2 + rng.int(0, 1)) % phases.length] as TruckPhase;
      const rated = TRUCKS[i % TRUCKS.length]?.ratedLoadT ?? 18;
      this.behaviour = new MuckTruckBehaviour(rng, {
        route: haul.route,
        ratedLoadT: rated,
        startPhase: phase,
        startProgress: rng.range(0, 0.8),
      });
    } else if (device.kind === 'sanitation') {
      const known = SWEEPERS.findIndex((s) => s.device === device.id);
      const i = known >= 0 ? known : index;
      const loop = plan.sweeperRounds[i % plan.sweeperRounds.length] as Polyline;
      this.behaviour = new SweeperBehaviour(rng, loop, rng.range(0, 1));
    } else {
      const known = CAMERAS.findIndex((c) => c.device === device.id);
      const i = known >= 0 ? known : index;
      const loop = plan.patrols[i % plan.patrols.length] as Polyline;
      const officer = device.officer ?? CAMERAS[i % CAMERAS.length]?.officer ?? 'officer-001';
      this.behaviour = new OfficerBehaviour(rng, loop, officer, rng.range(0, 1));
    }
    this.nextTs = opts.startTs + rng.int(0, this.intervalMs - 1);
    this.lastTs = opts.startTs;
  }

  get track(): Polyline {
    return this.behaviour.track;
  }

  /** The fix due at `nextTs`; advances the clock by one interval. */
  next(): DemoMessage {
    const ts = this.nextTs;
    const body = this.behaviour.step(ts - this.lastTs);
    this.lastTs = ts;
    this.nextTs = ts + this.intervalMs;
    const payload = { ts, ...body } as FixPayload;
    const msg: DemoMessage = {
      device: this.id,
      kind: this.kind,
      topic: telemetryTopic(this.id),
      ts,
      payload,
    };
    if (this.behaviour.silent === true) msg.silent = true;
    return msg;
  }
}

/** Creates one DeviceSim per device (defaults to the demo devices). */
export function createDeviceSims(
  devices: readonly NewDevice[] = demoRegistrySeed().devices,
  opts: Omit<DeviceSimOptions, 'indexInKind'>,
): DeviceSim[] {
  const counters: Record<UnitKind, number> = { muck_truck: 0, sanitation: 0, body_camera: 0 };
  return devices.map((d) => new DeviceSim(d, { ...opts, indexInKind: counters[d.kind]++ }));
}

export interface GenerateOptions {
  seed?: number;
  /** simulated start, epoch ms (default 2025-06-02T00:00:00Z, 08:00 in Hefei) */
  startTs?: number;
  /** number of messages (over all devices) */
  count: number;
  devices?: readonly NewDevice[];
  intervalS?: Partial<Record<UnitKind, number>>;
  /** optional behaviour override per device */
  behaviourFor?: BehaviourFactory;
}

/**
 * The first `count` messages the fleet would publish, in time order, without a broker (the silent fixes
 * of simulated outages left out). Pure: the same options give the same messages.
 */
export function generateDemoFixes(opts: GenerateOptions): DemoMessage[] {
  const sims = createDeviceSims(opts.devices, {
    seed: opts.seed ?? 1,
    startTs: opts.startTs ?? Date.UTC(2025, 5, 2, 0, 0, 0),
    intervalS: opts.intervalS,
    ...(opts.behaviourFor ? { behaviourFor: opts.behaviourFor } : {}),
  });
  const out: DemoMessage[] = [];
  if (sims.length === 0) return out;
  while (out.length < opts.count) {
    let best = sims[0] as DeviceSim;
    for (const s of sims) if (s.nextTs < best.nextTs) best = s;
    const msg = best.next();
    if (msg.silent !== true) out.push(msg);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Live fleet over MQTT

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
