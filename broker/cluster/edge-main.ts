/**
 * One MQTT edge process (node:cluster worker of the platform process; protocol.ts says why and what
 * crosses). It runs the embedded broker as in one process (CONNECT authentication, topic ACL, status,
 * packet limit, connection cap) on the shared listening ports; telemetry goes to the platform process
 * and its PUBACK waits for the answer that it is durable.
 */
import { pino } from 'pino';
import { AggregatorRegistry, Registry as MetricsRegistry } from 'prom-client';
import { createBroker } from '../broker.ts';
import { defaultMaxConnections, readOpenFilesLimit } from '../open-files.ts';
import { dropDeviceSessions } from '../sessions.ts';
import { EdgeMq } from './edge-mq.ts';
import { FollowerRegistry } from './follower-registry.ts';
import {
  asBuffer,
  EDGE_ENV,
  type EdgeConfig,
  type EdgeToHub,
  type HubToEdge,
  type TelemetryItem,
} from './protocol.ts';

// the platform process may be gone (then 'disconnect' below closes this edge): a lost message is no error
const send = (message: EdgeToHub) => {
  if (process.connected) process.send?.(message, undefined, undefined, () => undefined);
};

function fail(err: unknown): never {
  send({ t: 'fatal', error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}

const raw = process.env[EDGE_ENV];
if (raw === undefined || process.send === undefined) {
  process.stderr.write(
    `broker/cluster/edge-main.ts is started by the platform (MQTT_PROCESSES > 1), not by hand\n`,
  );
  process.exit(2);
}
const config = JSON.parse(raw) as EdgeConfig;
const logger = pino({ level: config.logLevel, base: { component: 'mqtt-edge', pid: process.pid } });

// The terminal's Ctrl-C reaches the whole process group: the platform process decides when the edges
// stop (after it stopped taking new work), by the close message, or by its exit (the IPC channel closes).
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);

const registry = new FollowerRegistry({ dir: config.registryDir });
// The broker's metrics, answered to the platform process's GET /metrics over the cluster channel
// (prom-client's AggregatorRegistry listens for its requests once one is made in this process).
const metrics = new MetricsRegistry();
AggregatorRegistry.setRegistries(metrics);
new AggregatorRegistry();

// Telemetry to the platform process, one message per turn of the event loop; answers by id.
let nextId = 1;
const waiting = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
let batch: TelemetryItem[] = [];
const flush = () => {
  const items = batch;
  batch = [];
  if (items.length > 0) send({ t: 'telemetry', items });
};

const mq = new EdgeMq({
  send,
  // aedes's types leave out its persistence; a retained publish of another edge is stored in this one's
  storeRetained: (packet) =>
    (
      broker.aedes as unknown as { persistence: { storeRetained(p: unknown): Promise<void> } }
    ).persistence.storeRetained(packet),
});

const broker = createBroker({
  registry,
  host: config.host,
  port: config.port,
  ...(config.wsPort !== undefined ? { wsPort: config.wsPort } : {}),
  ...(config.tls ? { tls: config.tls } : {}),
  ...(config.tlsPort !== undefined ? { tlsPort: config.tlsPort } : {}),
  ...(config.wssPort !== undefined ? { wssPort: config.wssPort } : {}),
  maxPacketBytes: config.maxPacketBytes,
  // its share of MQTT_MAX_CONNECTIONS, or what its own open-files limit leaves (each process has its own)
  maxConnections: config.maxConnections ?? defaultMaxConnections(readOpenFilesLimit()),
  metrics,
  logger,
  aedes: { mq: mq as never },
  onTelemetry: (device, topic, payload, qos) =>
    new Promise<void>((resolve, reject) => {
      if (!process.connected) {
        reject(new Error('the platform process is gone'));
        return;
      }
      const id = nextId++;
      waiting.set(id, { resolve, reject });
      if (batch.length === 0) setImmediate(flush);
      batch.push({ id, device, topic, payload, qos });
    }),
});

let closing: Promise<void> | undefined;
const close = () => {
  closing ??= (async () => {
    try {
      await broker.close();
    } finally {
      registry.close();
    }
    process.exit(0);
  })();
  return closing;
};

process.on('message', (m: HubToEdge) => {
  switch (m.t) {
    case 'telemetryDone':
      for (const r of m.results) {
        const w = waiting.get(r.id);
        waiting.delete(r.id);
        if (r.error === undefined) w?.resolve();
        else w?.reject(new Error(r.error));
      }
      return;
    case 'interest':
      mq.remoteInterest(m.changes);
      return;
    case 'relay':
      mq.relay(m.packet).catch((err: unknown) => logger.warn({ err }, 'relayed publish not delivered'));
      return;
    case 'publish':
      broker.publish(m.topic, typeof m.payload === 'string' ? m.payload : asBuffer(m.payload), m.opts).then(
        () => send({ t: 'published', id: m.id }),
        (err: unknown) => send({ t: 'published', id: m.id, error: (err as Error).message }),
      );
      return;
    case 'dropSessions':
      registry.refreshDevice(m.device);
      dropDeviceSessions(broker.aedes, m.device);
      return;
    case 'close':
      void close();
      return;
  }
});
// The platform process died without a word: nothing can be made durable any more.
process.on('disconnect', () => {
  for (const w of waiting.values()) w.reject(new Error('the platform process is gone'));
  waiting.clear();
  void close();
});

try {
  const ports = await broker.listen();
  setInterval(() => send({ t: 'stats', stats: broker.stats() }), 1000).unref();
  send({ t: 'stats', stats: broker.stats() });
  send({ t: 'ready', ports });
} catch (err) {
  fail(err);
}
