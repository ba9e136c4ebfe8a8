import { telemetryTopic } from '../../ingest/payload.ts';
import { backoffDelayMs } from './backoff.ts';
import {
  abortableSleep,
  closeConnections,
  connectClient,
  firstAttempt,
  type LoadConn,
  settledWithin,
  untilSettledOrAborted,
} from './connection.ts';
import { runCredentials } from './credentials.ts';
import { FixFactory } from './fix-factory.ts';
import { LatencyHistogram } from './histogram.ts';
import {
  type LoadCredential,
  type LoadOptions,
  type LoadPhase,
  type LoadSummary,
  targetRateOf,
} from './options.ts';
import { AttemptPacer } from './pacer.ts';
import { newRunCounters, summarizeRun } from './report.ts';
import { SlotSchedule } from './schedule.ts';

/**
 * Load generator: N device connections (mqtt.js over TCP), one per vehicle, publishing valid muck-truck
 * fixes, either as fast as the per-connection window allows or rate-controlled: every vehicle reports
 * once per `intervalS` (or an overall `rate`), the fleet's report slots evenly staggered
 * (schedule.ts). Connections are opened in batches, publishing starts once all batches are up (and
 * `gate` resolves: the other processes of a multi-process run are up too), then a warm-up, then the
 * measured window. This is one process's share; processes.ts forks several and adds them up.
 *
 * QoS 1: at most `window` unacknowledged publishes per connection; latency is publish() -> PUBACK.
 * QoS 0: nothing is acknowledged; a connection writes until its socket buffer is full and waits for
 * 'drain' (at most `window` messages per connection per event-loop turn), so the figure is the rate at
 * which the generator gets bytes into the kernel.
 *
 * A lost connection is retried with exponential backoff and jitter (backoff.ts); a vehicle whose
 * report slot comes while it is down (or its QoS 1 window is full) misses it, counted in `missed`. QoS 1
 * publishes in flight when the connection drops are sent again after the reconnect (mqtt.js keeps them).
 */

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** the run was interrupted before its window: skip to the summary */
class Interrupted extends Error {}

export async function runLoad(opts: LoadOptions): Promise<LoadSummary> {
  const offset = opts.indexOffset ?? 0;
  const creds = runCredentials(opts);
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
  const c = newRunCounters();
  const errorSamples = new Set<string>();
  const noteError = (msg: string) => {
    c.errors++;
    if (errorSamples.size < 5) errorSamples.add(msg);
  };
  let phase: LoadPhase = 'ramp';
  let publishing = false;
  let measuring = false;
  let stopping = false;
  const conns: LoadConn[] = [];
  /** by position in creds (slot -> vehicle); undefined until the ramp opens it */
  const byIndex: (LoadConn | undefined)[] = new Array(creds.length);
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
  const publishOne = (k: LoadConn): void => {
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
  const pump = (k: LoadConn): void => {
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
  const ready = (k: LoadConn): boolean =>
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
  /** publishing on: the rate's slots (schedule.ts), or flat out (every connection fills its window) */
  const startPublishing = (): void => {
    publishing = true;
    schedule = rate === null ? undefined : new SlotSchedule(rate, performance.now());
    if (rate !== null) rateTimer = setInterval(sendDue, 5);
    else for (const k of conns) pump(k);
  };

  // --- connecting, and reconnecting with backoff
  const scheduleReconnect = (k: LoadConn): void => {
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
    const localAddress = sources.length > 0 ? sources[index % sources.length] : undefined;
    const client = connectClient(opts.url, cred, localAddress, opts.connectTimeoutMs ?? 15_000);
    const k: LoadConn = {
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
    return firstAttempt(client, (opts.connectTimeoutMs ?? 15_000) + 1000).then((ok) => {
      if (!ok) c.connectFailures++;
    });
  };

  const aborted = () => opts.signal?.aborted === true;
  const abortable = (ms: number) => abortableSleep(ms, opts.signal);

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
      await untilSettledOrAborted(opts.gate(), opts.signal);
    }
    // interrupted before publishing: nothing to measure
    if (aborted()) throw new Interrupted();

    phase = 'warmup';
    startPublishing();
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
      rate = step.rate > 0 ? step.rate : null;
      maxTake = maxTakeOf(rate);
      warmupMs = step.warmupS * 1000;
      durationMs = step.durationS * 1000;
      hist = new LatencyHistogram();
      c.windowSent = 0;
      c.windowAcked = 0;
      c.windowMissed = 0;
      c.windowLagged = 0;
      phase = 'warmup';
      startPublishing();
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
    await closeConnections(conns, qos);
    // the ramp lanes see `stopping` (their pending attempts ended with the clients) and return
    await settledWithin(lanes, 3000);
  }

  return summarize();

  function summarize(): LoadSummary {
    return summarizeRun(
      {
        url: opts.url,
        qos,
        connections: creds.length,
        connectedAtWindow,
        connectedAtEnd,
        rampS,
        rampComplete,
        warmupMs,
        windowS,
        rate,
        window: windowSize,
        payloadBytes,
        latency: hist,
        errorSamples,
      },
      c,
    );
  }
}
