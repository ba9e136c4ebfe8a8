import { readFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import mqtt, { type IClientOptions, MqttClient } from 'mqtt';
import { telemetryTopic } from '../ingest/payload.ts';
import { LatencyHistogram, type LatencySummaryMs } from './histogram.ts';
import { backoffDelayMs } from './load-backoff.ts';
import { AttemptPacer } from './load-pacer.ts';
import { SlotSchedule } from './load-schedule.ts';
import { createRng } from './rng.ts';

/**
 * Load generator: N device connections (mqtt.js over TCP), one per vehicle, publishing valid muck-truck
 * fixes, either as fast as the per-connection window allows or rate-controlled: every vehicle reports
 * once per `intervalS` (or an overall `rate`), the fleet's report slots evenly staggered
 * (load-schedule.ts). Connections are opened in batches, publishing starts once all batches are up (and
 * `gate` resolves: the other processes of a multi-process run are up too), then a warm-up, then the
 * measured window. This is one process's share; load-processes.ts forks several and adds them up.
 *
 * QoS 1: at most `window` unacknowledged publishes per connection; latency is publish() -> PUBACK.
 * QoS 0: nothing is acknowledged; a connection writes until its socket buffer is full and waits for
 * 'drain' (at most `window` messages per connection per event-loop turn), so the figure is the rate at
 * which the generator gets bytes into the kernel.
 *
 * A lost connection is retried with exponential backoff and jitter (load-backoff.ts); a vehicle whose
 * report slot comes while it is down (or its QoS 1 window is full) misses it, counted in `missed`. QoS 1
 * publishes in flight when the connection drops are sent again after the reconnect (mqtt.js keeps them).
 */

export interface LoadCredential {
  id: string;
  password: string;
}

export interface LoadOptions {
  /** broker URL, e.g. mqtt://127.0.0.1:1883 */
  url: string;
  /** connections = vehicles (default 1000, or the number of credentials when given) */
  connections?: number;
  /** global index of this process's first vehicle (its ids and start positions; 0 for one process) */
  indexOffset?: number;
  /** device credentials; without them ids are `${prefix}${n}` (n zero-padded to 5) */
  credentials?: readonly LoadCredential[];
  /** id prefix for generated ids (default "load-") */
  prefix?: string;
  /** password for generated ids; "{id}" is replaced by the id, "{n}" by its number (default "{id}") */
  password?: string;
  qos?: 0 | 1;
  /** measured window, seconds (default 10) */
  durationS?: number;
  /** publishing before the measured window starts, seconds (default 2) */
  warmupS?: number;
  /** target overall rate, msgs/s; 0 or undefined: as fast as possible (unless intervalS is set) */
  rate?: number;
  /** report interval of every vehicle, seconds: rate = connections / intervalS (overrides rate) */
  intervalS?: number;
  /** max unacknowledged publishes per connection (default 16) */
  window?: number;
  /** approximate payload size in bytes (default: the natural fix, about 200 bytes) */
  payloadBytes?: number;
  /** first connection attempts in flight at a time while ramping (default 50) */
  rampBatch?: number;
  /** pause after each first attempt, per ramp lane, ms (default 0) */
  rampPauseMs?: number;
  /**
   * the ramp ends early once no connection has come up for this long, seconds (default 30): the broker
   * or this machine is full, and waiting out the connect timeouts of every remaining vehicle would take
   * hours. The rest keep being opened, at the ramp's pace, while the run goes on. 0: wait for all.
   */
  rampIdleS?: number;
  /** mqtt.js connectTimeout, ms (default 15000) */
  connectTimeoutMs?: number;
  /** first reconnect delay, ms (default 1000); doubles per failed attempt, with jitter */
  backoffMinMs?: number;
  /** longest reconnect delay, ms (default 30000) */
  backoffMaxMs?: number;
  /** connection attempts (first ones and reconnects) this process starts per second at most (default 1000) */
  attemptsPerS?: number;
  /**
   * local addresses to connect from, vehicle i from the (i mod n)-th: each has its own ephemeral port
   * range (load-sources.ts). mqtt:// URLs only. Default: the OS picks.
   */
  sourceAddresses?: readonly string[];
  /** awaited after the ramp, before publishing (a multi-process run starts all processes together) */
  gate?: () => Promise<void>;
  /** records publish -> PUBACK of the measured window here (default: a histogram of its own) */
  latency?: LatencyHistogram;
  /** how long to wait for outstanding PUBACKs after the window, ms (default 5000) */
  drainMs?: number;
  /** called about once a second */
  onProgress?: (p: LoadProgress) => void;
  /** called when the measured window starts and ends */
  onEvent?: (event: 'ramp_done' | 'window_start' | 'window_end') => void;
  /** stops the run early (the summary covers what was measured) */
  signal?: AbortSignal;
  /** seed for start positions (default 1) */
  seed?: number;
  /**
   * Further measured windows on the same connections (one process, e.g. a benchmark searching for the
   * highest rate a broker sustains without reconnecting 1,000 devices per step, the trucks driving on
   * where they were): after each window and its drain, publishing pauses and this is called with the
   * window's result; it returns the next step (a rate, its warm-up and window) or undefined to finish.
   * The first window may be flat out (no rate), the next ones are rate-controlled. The returned
   * summary is that of the last window.
   */
  nextStep?: (window: LoadStepResult) => Promise<LoadStep | undefined>;
}

/** One more window of a stepped run (LoadOptions.nextStep). */
export interface LoadStep {
  /** overall rate, msgs/s (> 0) */
  rate: number;
  warmupS: number;
  durationS: number;
}

/** A window's summary, plus the report slots missed or given up during that window alone. */
export type LoadStepResult = LoadSummary & { windowMissed: number; windowLagged: number };

export type LoadPhase = 'ramp' | 'warmup' | 'measure' | 'drain' | 'done';

export interface LoadProgress {
  phase: LoadPhase;
  elapsedS: number;
  /** connections (vehicles) of the run */
  connections: number;
  connected: number;
  sent: number;
  acked: number;
  /** over the last progress interval */
  sentPerS: number;
  ackedPerS: number;
  /** target overall rate, msgs/s, or null for as fast as possible */
  targetRate: number | null;
  inflight: number;
  errors: number;
  /** reconnect attempts */
  reconnects: number;
  /** established connections lost */
  disconnects: number;
  /** report slots whose vehicle was not connected (or its window full) */
  missed: number;
  /** report slots given up because the generator fell more than 1 s behind */
  lagged: number;
}

export interface LoadSummary {
  url: string;
  qos: 0 | 1;
  connections: number;
  /** connected when the measured window started */
  connected: number;
  /** connected when the measured window ended */
  connectedAtEnd: number;
  connectFailures: number;
  /** seconds to open all connections (or until the ramp was cut short) */
  rampS: number;
  /** false when the ramp ended on --ramp-idle: some vehicles had not had their first attempt */
  rampComplete: boolean;
  warmupS: number;
  /** measured window, seconds (actual) */
  windowS: number;
  /** target rate, msgs/s, or null for as fast as possible */
  targetRate: number | null;
  /** report interval per vehicle, seconds (connections / targetRate), or null */
  intervalS: number | null;
  /** targetRate x windowS: what the window should have sent (null for as fast as possible) */
  expected: number | null;
  /** processes the run was spread over */
  processes: number;
  window: number;
  payloadBytes: number;
  /** all publishes handed to mqtt.js */
  sent: number;
  /** all PUBACKs received (QoS 1) */
  acked: number;
  /** publishes made during the measured window */
  windowSent: number;
  /** PUBACKs received during the measured window */
  windowAcked: number;
  /** windowSent / windowS */
  sentPerS: number;
  /** windowAcked / windowS (0 for QoS 0) */
  ackedPerS: number;
  /** publish -> PUBACK of messages sent in the window (null for QoS 0) */
  latencyMs: LatencySummaryMs | null;
  /** QoS 1 publishes never acknowledged by the end of the drain */
  unacked: number;
  errors: number;
  /** reconnect attempts */
  reconnects: number;
  /** established connections lost */
  disconnects: number;
  /** report slots missed: vehicle not connected or its window full (rate-controlled runs) */
  missed: number;
  /** report slots given up: the generator was more than 1 s behind (rate-controlled runs) */
  lagged: number;
  /** a few distinct error messages */
  errorSamples: string[];
}

/** Generated credentials: `${prefix}00001`.. (from start + 1); password pattern with {id} and {n}. */
export function generateCredentials(
  count: number,
  prefix = 'load-',
  password = '{id}',
  start = 0,
): LoadCredential[] {
  return Array.from({ length: count }, (_, i) => {
    const n = String(start + i + 1).padStart(5, '0');
    const id = `${prefix}${n}`;
    return { id, password: password.replaceAll('{id}', id).replaceAll('{n}', n) };
  });
}

/**
 * Reads credentials from JSON: an array of `{id, secret}` or `{id, password}` (NewDevice[] works), or an
 * object with such an array under `devices`.
 */
export async function readCredentialsFile(path: string): Promise<LoadCredential[]> {
  const data: unknown = JSON.parse(await readFile(path, 'utf8'));
  const list = Array.isArray(data) ? data : (data as { devices?: unknown }).devices;
  if (!Array.isArray(list)) throw new Error(`${path}: expected an array of {id, secret} or {devices: [...]}`);
  return list.map((item, i) => {
    const o = item as { id?: unknown; secret?: unknown; password?: unknown };
    const password = o.password ?? o.secret;
    if (typeof o.id !== 'string' || typeof password !== 'string') {
      throw new Error(`${path}: entry ${i} needs a string id and a string secret (or password)`);
    }
    return { id: o.id, password };
  });
}

/** Builds valid muck-truck fix payloads for one device: distinct, increasing ts; a slowly moving truck. */
export class FixFactory {
  private lastTs = 0;
  private lat: number;
  private lon: number;
  private dLat: number;
  private dLon: number;
  private readonly heading: number;
  private pad: string;
  private minimal: boolean;
  private n = 0;

  constructor(seed: number, payloadBytes?: number) {
    const rng = createRng(seed);
    this.lat = 31.82 + rng.range(-0.05, 0.05);
    this.lon = 117.23 + rng.range(-0.05, 0.05);
    this.heading = rng.int(0, 359);
    const step = 30 / 3.6 / 111_000; // about 30 km/h at one fix a second, in degrees
    this.dLat = step * Math.cos((this.heading * Math.PI) / 180);
    this.dLon = step * Math.sin((this.heading * Math.PI) / 180);
    this.minimal = false;
    this.pad = '';
    const natural = this.next(Date.now()).length;
    if (payloadBytes !== undefined && payloadBytes < natural) {
      this.minimal = true;
    } else if (payloadBytes !== undefined && payloadBytes > natural) {
      // Unknown keys are stripped by the schema, so a pad field keeps the payload valid.
      this.pad = `,"pad":"${'x'.repeat(Math.max(0, payloadBytes - natural - 9))}"`;
    }
    this.lastTs = 0;
    this.n = 0;
  }

  next(now: number): string {
    const ts = now > this.lastTs ? now : this.lastTs + 1;
    this.lastTs = ts;
    this.n++;
    if (this.n % 600 === 0) {
      // turn back now and then so the truck stays in town
      this.dLat = -this.dLat;
      this.dLon = -this.dLon;
    }
    this.lat += this.dLat;
    this.lon += this.dLon;
    const lat = this.lat.toFixed(6);
    const lon = this.lon.toFixed(6);
    if (this.minimal) return `{"ts":${ts},"lat":${lat},"lon":${lon},"speed":30}`;
    return (
      `{"ts":${ts},"lat":${lat},"lon":${lon},"speed":30.0,"heading":${this.heading},"alt":31.5,"sats":12,` +
      `"accuracy":6.5,"valid":true,"ign":true,"load":"full","weight":15.2,"cover":"closed","lift":"down",` +
      `"doors":"closed"${this.pad}}`
    );
  }
}

interface Conn {
  index: number;
  cred: LoadCredential;
  topic: string;
  client: MqttClient;
  fixes: FixFactory;
  inflight: number;
  everConnected: boolean;
  pumping: boolean;
  waitingDrain: boolean;
  /** failed attempts since the last CONNACK (backoff exponent) */
  attempt: number;
  reconnectTimer: NodeJS.Timeout | undefined;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** the run was interrupted before its window: skip to the summary */
class Interrupted extends Error {}

/** overall target rate from the options: connections / intervalS, else rate, else null (flat out) */
export function targetRateOf(
  connections: number,
  opts: Pick<LoadOptions, 'rate' | 'intervalS'>,
): number | null {
  if (opts.intervalS !== undefined && opts.intervalS > 0) return connections / opts.intervalS;
  return opts.rate && opts.rate > 0 ? opts.rate : null;
}

export async function runLoad(opts: LoadOptions): Promise<LoadSummary> {
  const offset = opts.indexOffset ?? 0;
  const creds =
    opts.credentials !== undefined
      ? opts.credentials.slice(0, opts.connections ?? opts.credentials.length)
      : generateCredentials(
          opts.connections ?? 1000,
          opts.prefix ?? 'load-',
          opts.password ?? '{id}',
          offset,
        );
  if (opts.credentials && opts.connections !== undefined && opts.connections > opts.credentials.length) {
    throw new Error(
      `${opts.connections} connections requested but only ${opts.credentials.length} credentials given`,
    );
  }
  const qos: 0 | 1 = opts.qos ?? 1;
  const windowSize = Math.max(1, Math.min(65_000, opts.window ?? 16));
  let rate = creds.length > 0 ? targetRateOf(creds.length, opts) : null;
  let durationMs = (opts.durationS ?? 10) * 1000;
  let warmupMs = (opts.warmupS ?? 2) * 1000;
  const rampBatch = Math.max(1, opts.rampBatch ?? 50);
  const seed = opts.seed ?? 1;
  const backoffMin = Math.max(1, opts.backoffMinMs ?? 1000);
  const backoffMax = Math.max(backoffMin, opts.backoffMaxMs ?? 30_000);
  const pacer = new AttemptPacer(opts.attemptsPerS ?? 1000);

  let hist = opts.latency ?? new LatencyHistogram();
  const c = {
    sent: 0,
    acked: 0,
    failed: 0,
    windowSent: 0,
    windowAcked: 0,
    errors: 0,
    reconnects: 0,
    disconnects: 0,
    connectFailures: 0,
    missed: 0,
    lagged: 0,
    windowMissed: 0,
    windowLagged: 0,
  };
  const errorSamples = new Set<string>();
  const noteError = (msg: string) => {
    c.errors++;
    if (errorSamples.size < 5) errorSamples.add(msg);
  };
  let phase: LoadPhase = 'ramp';
  let publishing = false;
  let measuring = false;
  let stopping = false;
  const conns: Conn[] = [];
  /** by position in creds (slot -> vehicle); undefined until the ramp opens it */
  const byIndex: (Conn | undefined)[] = new Array(creds.length);
  let lastConnectAt = performance.now();
  const t0 = performance.now();
  const payloadBytes = Buffer.byteLength(new FixFactory(seed, opts.payloadBytes).next(Date.now()));
  const connectedNow = () => conns.reduce((n, k) => n + (k.client.connected ? 1 : 0), 0);

  // --- progress
  let lastSent = 0;
  let lastAcked = 0;
  let lastT = t0;
  const progress = () => {
    const now = performance.now();
    const dt = (now - lastT) / 1000 || 1;
    opts.onProgress?.({
      phase,
      elapsedS: (now - t0) / 1000,
      connections: creds.length,
      connected: connectedNow(),
      sent: c.sent,
      acked: c.acked,
      sentPerS: (c.sent - lastSent) / dt,
      ackedPerS: (c.acked - lastAcked) / dt,
      targetRate: rate,
      inflight: conns.reduce((n, k) => n + k.inflight, 0),
      errors: c.errors,
      reconnects: c.reconnects,
      disconnects: c.disconnects,
      missed: c.missed,
      lagged: c.lagged,
    });
    lastSent = c.sent;
    lastAcked = c.acked;
    lastT = now;
  };
  const progressTimer = setInterval(progress, 1000);

  // --- sending
  const publishOne = (k: Conn): void => {
    const payload = k.fixes.next(Date.now());
    c.sent++;
    const inWindow = measuring;
    if (inWindow) c.windowSent++;
    if (qos === 0) {
      k.client.publish(k.topic, payload, { qos: 0 });
      return;
    }
    k.inflight++;
    const start = performance.now();
    k.client.publish(k.topic, payload, { qos: 1 }, (err) => {
      k.inflight--;
      if (err) {
        c.failed++;
        noteError(err.message);
      } else {
        c.acked++;
        if (measuring) c.windowAcked++;
        if (inWindow) hist.recordMs(performance.now() - start);
      }
      if (rate === null) pump(k);
    });
  };

  /** as fast as possible: fill the window (QoS 1) or the socket buffer (QoS 0) */
  const pump = (k: Conn): void => {
    if (!publishing || k.pumping || !k.client.connected) return;
    k.pumping = true;
    try {
      if (qos === 1) {
        while (k.inflight < windowSize && publishing && k.client.connected) publishOne(k);
      } else {
        const stream = k.client.stream;
        let n = 0;
        while (n < windowSize && publishing && k.client.connected && !stream.writableNeedDrain) {
          publishOne(k);
          n++;
        }
        if (!publishing) return;
        if (stream.writableNeedDrain) {
          if (!k.waitingDrain) {
            k.waitingDrain = true;
            stream.once('drain', () => {
              k.waitingDrain = false;
              pump(k);
            });
          }
        } else {
          setImmediate(() => pump(k));
        }
      }
    } finally {
      k.pumping = false;
    }
  };

  /** has room for one more message now */
  const ready = (k: Conn): boolean =>
    k.client.connected && (qos === 1 ? k.inflight < windowSize : !k.client.stream.writableNeedDrain);

  // Rate-controlled: each due slot belongs to one vehicle (slot mod n); a vehicle not ready misses it.
  let schedule: SlotSchedule | undefined;
  // at most 20 ms of slots per timer turn, so a catch-up does not hold the event loop (the rest stay due)
  const maxTakeOf = (r: number | null) => (r === null ? 0 : Math.max(64, Math.ceil(r * 0.02)));
  let maxTake = maxTakeOf(rate);
  const sendDue = () => {
    if (!publishing || schedule === undefined) return;
    const { first, take, skipped } = schedule.next(performance.now(), maxTake);
    c.lagged += skipped;
    if (measuring) c.windowLagged += skipped;
    for (let slot = first; slot < first + take; slot++) {
      // a vehicle not opened yet (the ramp was cut short) misses its slot like a disconnected one
      const k = byIndex[slot % creds.length];
      if (k !== undefined && ready(k)) publishOne(k);
      else {
        c.missed++;
        if (measuring) c.windowMissed++;
      }
    }
  };
  /**
   * Every slot due by now, whatever maxTake: at a window's edges, so that slots due before the window
   * (a backlog left by a stall in the warm-up) are not counted in it, and those due inside it are.
   */
  const drainDue = () => {
    if (!publishing || schedule === undefined) return;
    let before: number;
    do {
      before = schedule.slots;
      sendDue();
    } while (schedule.slots - before >= maxTake);
  };
  let rateTimer: NodeJS.Timeout | undefined;

  // --- connecting, and reconnecting with backoff
  const scheduleReconnect = (k: Conn): void => {
    if (stopping || k.reconnectTimer !== undefined) return;
    const delay = backoffDelayMs(k.attempt++, backoffMin, backoffMax);
    k.reconnectTimer = setTimeout(() => {
      k.reconnectTimer = undefined;
      pacer.run(() => {
        if (stopping || k.client.connected) return;
        c.reconnects++;
        // connect() on the same client keeps its unacknowledged QoS 1 publishes: they go out again
        k.client.connect();
      });
    }, delay);
  };

  const sources = opts.sourceAddresses ?? [];
  const target = new URL(opts.url);
  if (sources.length > 0 && target.protocol !== 'mqtt:')
    throw new Error(`source addresses need an mqtt:// URL (TCP), got ${opts.url}`);
  const open = (cred: LoadCredential, index: number): Promise<void> => {
    const options: IClientOptions = {
      clientId: cred.id,
      username: cred.id,
      password: cred.password,
      // mqtt.js retries on a fixed period; the backoff above replaces it
      reconnectPeriod: 0,
      connectTimeout: opts.connectTimeoutMs ?? 15_000,
      keepalive: 60,
      resubscribe: false,
    };
    const localAddress = sources.length > 0 ? sources[index % sources.length] : undefined;
    // mqtt.js opens TCP without a local address; with one, the client gets a stream builder of ours
    // (called again for every reconnect)
    const client =
      localAddress === undefined
        ? mqtt.connect(opts.url, options)
        : new MqttClient(
            () =>
              createConnection({
                host: target.hostname.replace(/^\[|\]$/g, ''),
                port: Number(target.port || 1883),
                localAddress,
              }),
            options,
          );
    const k: Conn = {
      index,
      cred,
      topic: telemetryTopic(cred.id),
      client,
      fixes: new FixFactory(seed * 100_003 + index, opts.payloadBytes),
      inflight: 0,
      everConnected: false,
      pumping: false,
      waitingDrain: false,
      attempt: 0,
      reconnectTimer: undefined,
    };
    conns.push(k);
    byIndex[index - offset] = k;
    client.on('close', () => {
      if (stopping) return;
      if (k.everConnected && k.attempt === 0) c.disconnects++;
      scheduleReconnect(k);
    });
    client.on('error', (err) => noteError(err.message));
    client.on('connect', () => {
      lastConnectAt = performance.now();
      k.everConnected = true;
      k.attempt = 0;
      if (rate === null) pump(k);
    });
    return new Promise<void>((resolve) => {
      const done = (ok: boolean) => {
        client.off('connect', onOk);
        client.off('close', onFail);
        clearTimeout(timer);
        if (!ok) c.connectFailures++;
        resolve();
      };
      const onOk = () => done(true);
      const onFail = () => done(false);
      const timer = setTimeout(() => done(false), (opts.connectTimeoutMs ?? 15_000) + 1000);
      client.once('connect', onOk);
      client.once('close', onFail);
    });
  };

  const aborted = () => opts.signal?.aborted === true;
  const abortable = (ms: number) =>
    new Promise<void>((resolve) => {
      if (aborted()) return resolve();
      const t = setTimeout(finish, ms);
      function finish() {
        clearTimeout(t);
        opts.signal?.removeEventListener('abort', finish);
        resolve();
      }
      opts.signal?.addEventListener('abort', finish, { once: true });
    });

  // Ramp: `rampBatch` lanes, each opening the next vehicle once its previous first attempt has ended
  // (CONNACK, refusal, close or timeout), so one slow connection holds one lane, not a whole batch.
  let nextToOpen = 0;
  const lane = async () => {
    while (nextToOpen < creds.length && !aborted() && !stopping) {
      await pacer.acquire();
      if (aborted() || stopping || nextToOpen >= creds.length) break;
      const i = nextToOpen++;
      await open(creds[i] as LoadCredential, offset + i);
      if (opts.rampPauseMs) await sleep(opts.rampPauseMs);
    }
  };
  const rampIdleMs = (opts.rampIdleS ?? 30) * 1000;
  let lanes: Promise<unknown> = Promise.resolve();

  let rampS = 0;
  let rampComplete = true;
  let windowS = 0;
  let connectedAtWindow = 0;
  let connectedAtEnd = 0;
  try {
    lanes = Promise.all(Array.from({ length: Math.min(rampBatch, creds.length) }, lane));
    let rampDone = false;
    void lanes.then(() => {
      rampDone = true;
    });
    while (!rampDone && !aborted()) {
      await Promise.race([lanes, sleep(250)]);
      if (rampIdleMs > 0 && performance.now() - lastConnectAt > rampIdleMs) break;
    }
    rampComplete = rampDone;
    rampS = (performance.now() - t0) / 1000;
    opts.onEvent?.('ramp_done');
    if (opts.gate && !aborted()) {
      const gate = opts.gate();
      await new Promise<void>((resolve) => {
        gate.then(resolve, resolve);
        opts.signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    // interrupted before publishing: nothing to measure
    if (aborted()) throw new Interrupted();

    phase = 'warmup';
    publishing = true;
    if (rate !== null) {
      schedule = new SlotSchedule(rate, performance.now());
      rateTimer = setInterval(sendDue, 5);
    } else {
      for (const k of conns) pump(k);
    }
    await abortable(warmupMs);
    if (aborted()) throw new Interrupted();

    for (;;) {
      phase = 'measure';
      drainDue(); // the warm-up's slots stay in the warm-up
      connectedAtWindow = connectedNow();
      measuring = true;
      const w0 = performance.now();
      opts.onEvent?.('window_start');
      await abortable(durationMs);
      drainDue(); // the slots due up to the window's end belong to it
      measuring = false;
      windowS = (performance.now() - w0) / 1000;
      connectedAtEnd = connectedNow();
      opts.onEvent?.('window_end');

      phase = 'drain';
      publishing = false;
      clearInterval(rateTimer);
      const drainEnd = performance.now() + (opts.drainMs ?? 5000);
      while (qos === 1 && performance.now() < drainEnd && conns.some((k) => k.inflight > 0)) await sleep(20);
      if (opts.nextStep === undefined || aborted()) break;

      // A stepped run: the next window on the same connections, its counters afresh.
      const step = await opts.nextStep({
        ...summarize(),
        windowMissed: c.windowMissed,
        windowLagged: c.windowLagged,
      });
      if (step === undefined || aborted()) break;
      rate = step.rate;
      maxTake = maxTakeOf(rate);
      warmupMs = step.warmupS * 1000;
      durationMs = step.durationS * 1000;
      hist = new LatencyHistogram();
      c.windowSent = 0;
      c.windowAcked = 0;
      c.windowMissed = 0;
      c.windowLagged = 0;
      phase = 'warmup';
      publishing = true;
      schedule = new SlotSchedule(rate, performance.now());
      rateTimer = setInterval(sendDue, 5);
      await abortable(warmupMs);
      if (aborted()) throw new Interrupted();
    }
  } catch (err) {
    if (!(err instanceof Interrupted)) throw err;
  } finally {
    publishing = false;
    measuring = false;
    stopping = true;
    pacer.stop();
    clearInterval(rateTimer);
    clearInterval(progressTimer);
    for (const k of conns) clearTimeout(k.reconnectTimer);
    phase = 'done';
    // QoS 0 leaves nothing to wait for (and a slow receiver may still hold a backlog): close at once.
    if (qos === 1) {
      // (bounded by a timer that is cleared: a pending one would hold the process for its length)
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((r) => {
        timer = setTimeout(r, 3000);
      });
      await Promise.race([
        Promise.all(conns.map((k) => k.client.endAsync(k.inflight > 0).catch(() => undefined))),
        bound,
      ]);
      clearTimeout(timer);
    }
    for (const k of conns) k.client.end(true);
    // the ramp lanes see `stopping` (their pending attempts ended with the clients) and return
    let lanesTimer: NodeJS.Timeout | undefined;
    await Promise.race([lanes, new Promise<void>((r) => (lanesTimer = setTimeout(r, 3000)))]);
    clearTimeout(lanesTimer);
  }

  return summarize();

  function summarize(): LoadSummary {
    const round = (v: number) => Math.round(v * 10) / 10;
    return {
      url: opts.url,
      qos,
      connections: creds.length,
      connected: connectedAtWindow,
      connectedAtEnd,
      connectFailures: c.connectFailures,
      rampS: round(rampS),
      rampComplete,
      warmupS: warmupMs / 1000,
      windowS: Math.round(windowS * 1000) / 1000,
      targetRate: rate,
      intervalS: rate === null ? null : Math.round((creds.length / rate) * 1000) / 1000,
      expected: rate === null ? null : Math.round(rate * windowS),
      processes: 1,
      window: windowSize,
      payloadBytes,
      sent: c.sent,
      acked: c.acked,
      windowSent: c.windowSent,
      windowAcked: c.windowAcked,
      sentPerS: windowS > 0 ? round(c.windowSent / windowS) : 0,
      ackedPerS: windowS > 0 ? round(c.windowAcked / windowS) : 0,
      latencyMs: qos === 1 ? hist.summary() : null,
      unacked: qos === 1 ? c.sent - c.acked - c.failed : 0,
      errors: c.errors,
      reconnects: c.reconnects,
      disconnects: c.disconnects,
      missed: c.missed,
      lagged: c.lagged,
      errorSamples: [...errorSamples],
    };
  }
}
