import cluster, { type Worker } from 'node:cluster';
import path from 'node:path';
import { type Logger, pino } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import type { BrokerHandle, PublishOptions } from '../broker.ts';
import type { ListeningPorts } from '../listeners.ts';
import { type BrokerStats, emptyStats } from '../metrics.ts';
import type { TelemetryHook } from '../publish.ts';
import { InterestSet } from './interest.ts';
import {
  asBuffer,
  EDGE_ENV,
  type EdgeConfig,
  type EdgeToHub,
  type HubToEdge,
  type InterestChange,
} from './protocol.ts';
import { sumStats } from './stats.ts';

export interface BrokerClusterOptions {
  /** edge processes to start (>= 1) */
  processes: number;
  edge: EdgeConfig;
  onTelemetry: TelemetryHook;
  logger?: Logger;
  /** how long close() waits for the edges to finish and exit before it kills them, ms (default 15000) */
  closeTimeoutMs?: number;
}

interface Edge {
  worker: Worker;
  /** this edge's subscriptions */
  interest: InterestSet;
  stats: BrokerStats;
  ready: boolean;
}

const EDGE_MAIN = path.join(import.meta.dirname, 'edge-main.ts');
/** an edge that dies is started again, but not more often than this in a minute (a crash loop) */
const MAX_RESTARTS_PER_MINUTE = 5;

/**
 * The embedded broker spread over MQTT_PROCESSES edge processes (protocol.ts says why and what crosses).
 * Seen from the platform it is one broker (the BrokerHandle interface): listen, publish, stats,
 * dropDeviceSessions, close. Telemetry comes back here and enters the same ingest as in one process.
 */
export function createBrokerCluster(opts: BrokerClusterOptions): BrokerHandle {
  const logger = opts.logger ?? pino({ enabled: false });
  // the edges' citywatch_mqtt_* metrics, collected over the cluster channel and summed (prom-client)
  const aggregator = new AggregatorRegistry();
  const edges = new Map<number, Edge>();
  let closing = false;
  let restarts: number[] = [];
  let nextPublishId = 1;
  let roundRobin = 0;
  const publishes = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  let readyWaiter: { resolve: (p: ListeningPorts) => void; reject: (e: Error) => void } | undefined;
  let ports: ListeningPorts | undefined;

  // An edge may be on its way out (closing, or killed) when a message is sent to it: the channel's error
  // goes to the callback, not to an 'error' event that would end the platform process.
  const send = (edge: Edge, message: HubToEdge) => {
    if (edge.worker.isConnected() && !edge.worker.isDead())
      edge.worker.send(message, undefined, (err) => {
        if (err)
          logger.debug({ edge: edge.worker.id, err: err.message }, 'message to an mqtt edge process lost');
      });
  };

  function fork(): void {
    const worker = cluster.fork({ [EDGE_ENV]: JSON.stringify(opts.edge) });
    const edge: Edge = { worker, interest: new InterestSet(), stats: emptyStats(), ready: false };
    edges.set(worker.id, edge);
    // what the others subscribe to, so the new edge forwards what they want from the start
    const others: InterestChange[] = [];
    for (const o of edges.values()) if (o !== edge) others.push(...o.interest.entries());
    if (others.length > 0) send(edge, { t: 'interest', changes: others });
    worker.on('message', (m: EdgeToHub) => onMessage(edge, m));
    worker.on('error', (err) =>
      logger.debug({ edge: worker.id, err: err.message }, 'mqtt edge process channel error'),
    );
    worker.on('exit', (code, signal) => onExit(edge, code, signal));
  }

  // Results of telemetry go back in one message per edge per turn of the event loop.
  const pendingResults = new Map<Edge, Array<{ id: number; error?: string }>>();
  let resultsQueued = false;
  function answer(edge: Edge, result: { id: number; error?: string }): void {
    const list = pendingResults.get(edge);
    if (list) list.push(result);
    else pendingResults.set(edge, [result]);
    if (resultsQueued) return;
    resultsQueued = true;
    setImmediate(() => {
      resultsQueued = false;
      for (const [e, results] of pendingResults) send(e, { t: 'telemetryDone', results });
      pendingResults.clear();
    });
  }

  function onMessage(edge: Edge, m: EdgeToHub): void {
    switch (m.t) {
      case 'telemetry':
        // Closing: what is still queued in the channel is refused (no PUBACK; the devices send it again
        // to the next broker) rather than ingested while the platform is trying to stop, as in one process.
        if (closing) {
          for (const item of m.items) answer(edge, { id: item.id, error: 'broker closing' });
          return;
        }
        // in arrival order, as the in-process hook is called, so a device's fixes keep their order
        for (const item of m.items) {
          let pending: Promise<void>;
          try {
            pending = opts.onTelemetry(item.device, item.topic, asBuffer(item.payload), item.qos);
          } catch (err) {
            pending = Promise.reject(err);
          }
          pending.then(
            () => answer(edge, { id: item.id }),
            (err: unknown) => answer(edge, { id: item.id, error: (err as Error)?.message ?? String(err) }),
          );
        }
        return;
      case 'interest':
        for (const c of m.changes) edge.interest.change(c.filter, c.delta);
        for (const o of edges.values()) if (o !== edge) send(o, { t: 'interest', changes: m.changes });
        return;
      case 'emit':
        for (const o of edges.values())
          if (o !== edge && o.ready && (m.packet.retain || o.interest.matches(m.packet.topic)))
            send(o, { t: 'relay', packet: m.packet });
        return;
      case 'stats':
        edge.stats = m.stats;
        return;
      case 'published': {
        const p = publishes.get(m.id);
        publishes.delete(m.id);
        if (m.error) p?.reject(new Error(m.error));
        else p?.resolve();
        return;
      }
      case 'ready':
        edge.ready = true;
        ports ??= m.ports;
        if ([...edges.values()].every((e) => e.ready)) readyWaiter?.resolve(ports);
        return;
      case 'fatal':
        logger.error({ edge: edge.worker.id, err: m.error }, 'mqtt edge process failed');
        readyWaiter?.reject(new Error(`mqtt edge process failed: ${m.error}`));
        return;
    }
  }

  function onExit(edge: Edge, code: number | null, signal: string | null): void {
    edges.delete(edge.worker.id);
    pendingResults.delete(edge);
    if (closing) return;
    // its subscriptions are gone: the others stop forwarding for them
    const gone = edge.interest.entries().map((e) => ({ filter: e.filter, delta: -e.delta }));
    if (gone.length > 0) for (const o of edges.values()) send(o, { t: 'interest', changes: gone });
    // Its devices lost their connection without PUBACK for what was under way: they reconnect (to the
    // other edges, or the new one) and send it again.
    logger.error({ edge: edge.worker.id, code, signal }, 'mqtt edge process exited; starting another');
    const now = Date.now();
    restarts = restarts.filter((t) => now - t < 60_000);
    if (restarts.length >= MAX_RESTARTS_PER_MINUTE) {
      logger.error('mqtt edge processes keep failing: not started again (see the errors above)');
      readyWaiter?.reject(new Error('mqtt edge processes keep failing'));
      return;
    }
    restarts.push(now);
    fork();
  }

  return {
    async listen() {
      if (ports && [...edges.values()].every((e) => e.ready)) return ports;
      const execArgv = process.execArgv.some((a) => a.includes('tsx'))
        ? process.execArgv
        : [...process.execArgv, '--import', 'tsx'];
      cluster.setupPrimary({ exec: EDGE_MAIN, execArgv, serialization: 'advanced' });
      const ready = new Promise<ListeningPorts>((resolve, reject) => {
        readyWaiter = { resolve, reject };
      });
      for (let i = 0; i < opts.processes; i++) fork();
      const bound = await ready;
      readyWaiter = undefined;
      logger.info({ processes: opts.processes, ...bound }, 'mqtt broker listening in edge processes');
      return bound;
    },

    publish(topic: string, payload: Buffer | string, po: PublishOptions = {}): Promise<void> {
      // one edge publishes it as aedes would in one process: it stores it when retained, delivers it
      // to its own subscribers and forwards it to the edges that have one (edge-mq.ts)
      const ready = [...edges.values()].filter((e) => e.ready);
      if (ready.length === 0) return Promise.reject(new Error('no mqtt edge process is running'));
      const edge = ready[roundRobin++ % ready.length]!;
      const id = nextPublishId++;
      return new Promise<void>((resolve, reject) => {
        publishes.set(id, { resolve, reject });
        send(edge, { t: 'publish', id, topic, payload, opts: po });
      });
    },

    metricsText: () => aggregator.clusterMetrics(),

    dropDeviceSessions(deviceId: string): void {
      for (const e of edges.values()) send(e, { t: 'dropSessions', device: deviceId });
    },

    stats() {
      const s = sumStats([...edges.values()].map((e) => e.stats));
      const connectionsByProcess: Record<string, number> = {};
      for (const e of edges.values())
        connectionsByProcess[String(e.worker.process.pid)] = e.stats.connections;
      return { ...s, processes: edges.size, connectionsByProcess };
    },

    async close() {
      if (closing) return;
      closing = true;
      const exits = [...edges.values()].map(
        (e) =>
          new Promise<void>((resolve) =>
            e.worker.isDead() ? resolve() : e.worker.once('exit', () => resolve()),
          ),
      );
      for (const e of edges.values()) send(e, { t: 'close' });
      const timeout = new Promise<'timeout'>((resolve) =>
        setTimeout(() => resolve('timeout'), opts.closeTimeoutMs ?? 15_000).unref(),
      );
      if ((await Promise.race([Promise.all(exits), timeout])) === 'timeout') {
        logger.warn('mqtt edge processes did not exit in time: killing them');
        for (const e of edges.values()) e.worker.process.kill('SIGKILL');
        await Promise.all(exits);
      }
      for (const p of publishes.values()) p.reject(new Error('broker closed'));
      publishes.clear();
    },
  };
}
