import { createConnection } from 'node:net';
import mqtt, { type IClientOptions, MqttClient } from 'mqtt';
import type { FixFactory } from './fix-factory.ts';
import type { LoadCredential } from './options.ts';

/**
 * One vehicle's MQTT connection of a load run: the client (its reconnects are the caller's, with backoff:
 * backoff.ts), and the outcome of its first attempt.
 */

/** One vehicle of a run: its client, its fixes and its publishing state. */
export interface LoadConn {
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

/**
 * An mqtt.js client for one vehicle, connecting at once. `localAddress`: the source address to connect
 * from (sources.ts; mqtt:// URLs only), or undefined for the one the OS picks.
 */
export function connectClient(
  url: string,
  cred: LoadCredential,
  localAddress: string | undefined,
  connectTimeoutMs: number,
): MqttClient {
  const options: IClientOptions = {
    clientId: cred.id,
    username: cred.id,
    password: cred.password,
    // mqtt.js retries on a fixed period; the load run's backoff replaces it
    reconnectPeriod: 0,
    connectTimeout: connectTimeoutMs,
    keepalive: 60,
    resubscribe: false,
  };
  if (localAddress === undefined) return mqtt.connect(url, options);
  // mqtt.js opens TCP without a local address; with one, the client gets a stream builder of ours
  // (called again for every reconnect)
  const target = new URL(url);
  return new MqttClient(
    () =>
      createConnection({
        host: target.hostname.replace(/^\[|\]$/g, ''),
        port: Number(target.port || 1883),
        localAddress,
      }),
    options,
  );
}

/** Whether the client's first attempt ends in a CONNACK (true) or a close or `timeoutMs` (false). */
export function firstAttempt(client: MqttClient, timeoutMs: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const done = (ok: boolean) => {
      client.off('connect', onOk);
      client.off('close', onFail);
      clearTimeout(timer);
      resolve(ok);
    };
    const onOk = () => done(true);
    const onFail = () => done(false);
    const timer = setTimeout(() => done(false), timeoutMs);
    client.once('connect', onOk);
    client.once('close', onFail);
  });
}

/** Resolves after `ms`, or at once when `signal` aborts (or has). */
export function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted === true) return resolve();
    const t = setTimeout(finish, ms);
    function finish() {
      clearTimeout(t);
      signal?.removeEventListener('abort', finish);
      resolve();
    }
    signal?.addEventListener('abort', finish, { once: true });
  });
}

/** Resolves when `gate` settles (either way) or `signal` aborts. */
export function untilSettledOrAborted(gate: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    gate.then(resolve, resolve);
    signal?.addEventListener('abort', () => resolve(), { once: true });
  });
}

/**
 * Ends every connection of a run. QoS 1: first gracefully (the PUBACKs still in flight), for 3 s at most;
 * QoS 0 leaves nothing to wait for (and a slow receiver may still hold a backlog): closed at once.
 */
export async function closeConnections(conns: readonly LoadConn[], qos: 0 | 1): Promise<void> {
  if (qos === 1) {
    await settledWithin(
      Promise.all(conns.map((k) => k.client.endAsync(k.inflight > 0).catch(() => undefined))),
      3000,
    );
  }
  for (const k of conns) k.client.end(true);
}

/**
 * Resolves when `p` settles or after `ms`, whichever comes first (bounded by a timer that is cleared: a
 * pending one would hold the process for its length).
 */
export async function settledWithin(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((r) => {
    timer = setTimeout(r, ms);
  });
  await Promise.race([p.then(() => undefined), bound]);
  clearTimeout(timer);
}
