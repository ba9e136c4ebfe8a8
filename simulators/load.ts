import { readFile } from 'node:fs/promises';
import mqtt, { type MqttClient } from 'mqtt';
import { telemetryTopic } from '../ingest/payload.ts';
import { LatencyHistogram, type LatencySummaryMs } from './histogram.ts';
import { createRng } from './rng.ts';

/**
 * Load generator: N device connections (mqtt.js over TCP) publishing valid muck-truck fixes, either as
 * fast as the per-connection window allows or at a target overall rate (token bucket). Connections are
 * opened in batches, publishing starts once all batches are up, then a warm-up, then the measured window.
 *
 * QoS 1: at most `window` unacknowledged publishes per connection; latency is publish() -> PUBACK.
 * QoS 0: nothing is acknowledged; a connection writes until its socket buffer is full and waits for
 * 'drain' (at most `window` messages per connection per event-loop turn), so the figure is the rate at
 * which the generator gets bytes into the kernel.
 */

export interface LoadCredential {
  id: string;
  password: string;
}

export interface LoadOptions {
  /** broker URL, e.g. mqtt://127.0.0.1:1883 */
  url: string;
  /** connections (default 1000, or the number of credentials when given) */
  connections?: number;
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
  /** target overall rate, msgs/s; 0 or undefined: as fast as possible */
  rate?: number;
  /** max unacknowledged publishes per connection (default 16) */
  window?: number;
  /** approximate payload size in bytes (default: the natural fix, about 200 bytes) */
  payloadBytes?: number;
  /** connections opened at a time (default 50) */
  rampBatch?: number;
  /** pause between ramp batches, ms (default 0) */
  rampPauseMs?: number;
  /** mqtt.js connectTimeout, ms (default 15000) */
  connectTimeoutMs?: number;
  /** mqtt.js reconnectPeriod, ms (default 1000) */
  reconnectPeriodMs?: number;
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
}

export type LoadPhase = 'ramp' | 'warmup' | 'measure' | 'drain' | 'done';

export interface LoadProgress {
  phase: LoadPhase;
  elapsedS: number;
  connected: number;
  sent: number;
  acked: number;
  /** over the last progress interval */
  sentPerS: number;
  ackedPerS: number;
  inflight: number;
  errors: number;
  reconnects: number;
}

export interface LoadSummary {
  url: string;
  qos: 0 | 1;
  connections: number;
  /** connected when the measured window started */
  connected: number;
  connectFailures: number;
  /** seconds to open all connections */
  rampS: number;
  warmupS: number;
  /** measured window, seconds (actual) */
  windowS: number;
  /** target rate, msgs/s, or null for as fast as possible */
  targetRate: number | null;
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
  reconnects: number;
  disconnects: number;
  /** a few distinct error messages */
  errorSamples: string[];
}

/** Generated credentials: `${prefix}00001`..; password pattern with {id} and {n}. */
export function generateCredentials(count: number, prefix = 'load-', password = '{id}'): LoadCredential[] {
  return Array.from({ length: count }, (_, i) => {
    const n = String(i + 1).padStart(5, '0');
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
      `"acc":6.5,"valid":true,"ign":true,"load":"full","weight":15.2,"cover":"closed","lift":"down",` +
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
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runLoad(opts: LoadOptions): Promise<LoadSummary> {
  const creds =
    opts.credentials !== undefined
      ? opts.credentials.slice(0, opts.connections ?? opts.credentials.length)
      : generateCredentials(opts.connections ?? 1000, opts.prefix ?? 'load-', opts.password ?? '{id}');
  if (opts.credentials && opts.connections !== undefined && opts.connections > opts.credentials.length) {
    throw new Error(
      `${opts.connections} connections requested but only ${opts.credentials.length} credentials given`,
    );
  }
  const qos: 0 | 1 = opts.qos ?? 1;
  const windowSize = Math.max(1, Math.min(65_000, opts.window ?? 16));
  const rate = opts.rate && opts.rate > 0 ? opts.rate : null;
  const durationMs = (opts.durationS ?? 10) * 1000;
  const warmupMs = (opts.warmupS ?? 2) * 1000;
  const rampBatch = Math.max(1, opts.rampBatch ?? 50);
  const seed = opts.seed ?? 1;

  const hist = new LatencyHistogram();
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
  };
  const errorSamples = new Set<string>();
  const noteError = (msg: string) => {
    c.errors++;
    if (errorSamples.size < 5) errorSamples.add(msg);
  };
  let phase: LoadPhase = 'ramp';
  let publishing = false;
  let measuring = false;
  const conns: Conn[] = [];
  const t0 = performance.now();
  const payloadBytes = Buffer.byteLength(new FixFactory(seed, opts.payloadBytes).next(Date.now()));

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
      connected: conns.reduce((n, k) => n + (k.client.connected ? 1 : 0), 0),
      sent: c.sent,
      acked: c.acked,
      sentPerS: (c.sent - lastSent) / dt,
      ackedPerS: (c.acked - lastAcked) / dt,
      inflight: conns.reduce((n, k) => n + k.inflight, 0),
      errors: c.errors,
      reconnects: c.reconnects,
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

  let tokens = 0;
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

  let cursor = 0;
  let lastRefill = 0;
  const refill = () => {
    if (!publishing || rate === null) return;
    const now = performance.now();
    tokens = Math.min(tokens + ((now - lastRefill) / 1000) * rate, Math.max(1, rate * 0.05));
    lastRefill = now;
    // Round-robin one message per ready connection per pass until the tokens run out.
    let idle = 0;
    while (tokens >= 1 && idle < conns.length) {
      const k = conns[cursor] as Conn;
      cursor = (cursor + 1) % conns.length;
      if (ready(k)) {
        publishOne(k);
        tokens -= 1;
        idle = 0;
      } else {
        idle++;
      }
    }
  };
  let rateTimer: NodeJS.Timeout | undefined;

  // --- connecting
  const open = (cred: LoadCredential, index: number): Promise<void> => {
    const client = mqtt.connect(opts.url, {
      clientId: cred.id,
      username: cred.id,
      password: cred.password,
      reconnectPeriod: opts.reconnectPeriodMs ?? 1000,
      connectTimeout: opts.connectTimeoutMs ?? 15_000,
      keepalive: 60,
      resubscribe: false,
    });
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
    };
    conns.push(k);
    client.on('reconnect', () => c.reconnects++);
    client.on('close', () => {
      if (k.everConnected && phase !== 'done') c.disconnects++;
    });
    client.on('error', (err) => noteError(err.message));
    client.on('connect', () => {
      k.everConnected = true;
      if (rate === null) pump(k);
    });
    return new Promise<void>((resolve) => {
      const done = (ok: boolean) => {
        client.off('connect', onOk);
        client.off('error', onErr);
        clearTimeout(timer);
        if (!ok) c.connectFailures++;
        resolve();
      };
      const onOk = () => done(true);
      const onErr = () => done(false);
      const timer = setTimeout(() => done(false), (opts.connectTimeoutMs ?? 15_000) + 1000);
      client.once('connect', onOk);
      client.once('error', onErr);
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

  let rampS = 0;
  let windowS = 0;
  let connectedAtWindow = 0;
  try {
    for (let i = 0; i < creds.length && !aborted(); i += rampBatch) {
      const batch = creds.slice(i, i + rampBatch);
      await Promise.all(batch.map((cred, j) => open(cred, i + j)));
      if (opts.rampPauseMs) await sleep(opts.rampPauseMs);
    }
    rampS = (performance.now() - t0) / 1000;
    opts.onEvent?.('ramp_done');

    phase = 'warmup';
    publishing = true;
    if (rate !== null) {
      lastRefill = performance.now();
      rateTimer = setInterval(refill, 5);
    } else {
      for (const k of conns) pump(k);
    }
    await abortable(warmupMs);

    phase = 'measure';
    connectedAtWindow = conns.reduce((n, k) => n + (k.client.connected ? 1 : 0), 0);
    measuring = true;
    const w0 = performance.now();
    opts.onEvent?.('window_start');
    await abortable(durationMs);
    measuring = false;
    windowS = (performance.now() - w0) / 1000;
    opts.onEvent?.('window_end');

    phase = 'drain';
    publishing = false;
    clearInterval(rateTimer);
    const drainEnd = performance.now() + (opts.drainMs ?? 5000);
    while (qos === 1 && performance.now() < drainEnd && conns.some((k) => k.inflight > 0)) await sleep(20);
  } finally {
    publishing = false;
    measuring = false;
    clearInterval(rateTimer);
    clearInterval(progressTimer);
    phase = 'done';
    // QoS 0 leaves nothing to wait for (and a slow receiver may still hold a backlog): close at once.
    if (qos === 1) {
      await Promise.all(
        conns.map((k) =>
          Promise.race([k.client.endAsync(k.inflight > 0), sleep(3000)]).catch(() => undefined),
        ),
      );
    }
    for (const k of conns) k.client.end(true);
  }

  const round = (v: number) => Math.round(v * 10) / 10;
  return {
    url: opts.url,
    qos,
    connections: creds.length,
    connected: connectedAtWindow,
    connectFailures: c.connectFailures,
    rampS: round(rampS),
    warmupS: warmupMs / 1000,
    windowS: Math.round(windowS * 1000) / 1000,
    targetRate: rate,
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
    errorSamples: [...errorSamples],
  };
}
