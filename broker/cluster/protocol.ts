import type { PublishOptions } from '../broker.ts';
import type { BrokerStats } from '../metrics.ts';

/**
 * The messages between the platform process (the hub) and its MQTT edge processes, over the node:cluster
 * IPC channel with `advanced` serialization (Buffers cross as bytes, not base64).
 *
 * Why edge processes: every MQTT connection is a file descriptor, and one process may hold at most its
 * open-files hard limit of them (20,000 on the reference machine, not raisable without root). With
 * MQTT_PROCESSES = N the connections are spread over N processes sharing the listening ports
 * (node:cluster hands each accepted socket to one of them, round robin), while ingest, the store, the
 * engine and the API stay in the one platform process: the pipeline is unchanged, only the sockets move.
 *
 * What crosses:
 *   edge -> hub   telemetry     a device's message, before its PUBACK; answered by telemetryDone once
 *                                ingest has made it durable (the PUBACK then means "stored", as in-process)
 *                 interest      the edge's local subscriptions changed (filter, +1/-1): the hub routes
 *                                publishes to the edges that have a subscriber
 *                 emit          a publish an edge's clients made that other edges want (their interest),
 *                                or a retained one (every edge stores it, so later subscribers get it)
 *                 stats         the edge's broker figures, every second
 *                 published     answer to publish
 *                 ready         listening (with the bound ports)
 *   hub -> edge   telemetryDone per telemetry id: ok, or the error that withholds the PUBACK
 *                 interest      the other edges' subscriptions (the edge forwards only what someone wants)
 *                 relay         a publish of another edge, delivered to local subscribers only
 *                 publish       a publish of the platform itself (alerts, commands, dead letters): every
 *                                edge delivers it to its local subscribers (and stores it when retained)
 *                 dropSessions  a device's secret or status changed: re-read it, close its connections
 *                 close         stop accepting, finish telemetry under way, close, exit
 */

/** The fields of an aedes packet that matter for delivery (aedes-packet), as plain data. */
export interface WirePacket {
  cmd: 'publish';
  topic: string;
  payload: Buffer | Uint8Array;
  qos: 0 | 1 | 2;
  retain: boolean;
  dup: boolean;
  brokerId?: string;
  brokerCounter?: number;
  messageId?: number;
  clientId?: string;
}

export interface TelemetryItem {
  id: number;
  device: string;
  topic: string;
  payload: Buffer | Uint8Array;
  qos: 0 | 1 | 2;
}

export interface InterestChange {
  filter: string;
  delta: number;
}

export type EdgeToHub =
  | { t: 'ready'; ports: { tcpPort: number; wsPort?: number; tlsPort?: number; wssPort?: number } }
  | { t: 'telemetry'; items: TelemetryItem[] }
  | { t: 'interest'; changes: InterestChange[] }
  | { t: 'emit'; packet: WirePacket }
  | { t: 'stats'; stats: BrokerStats }
  | { t: 'published'; id: number; error?: string }
  | { t: 'fatal'; error: string };

export type HubToEdge =
  | { t: 'telemetryDone'; results: Array<{ id: number; error?: string }> }
  | { t: 'interest'; changes: InterestChange[] }
  | { t: 'relay'; packet: WirePacket }
  | { t: 'publish'; id: number; topic: string; payload: Buffer | Uint8Array | string; opts: PublishOptions }
  | { t: 'dropSessions'; device: string }
  | { t: 'close' };

/** What the hub hands an edge process at start (environment variable CITYWATCH_EDGE, JSON). */
export interface EdgeConfig {
  /** the registry's folder (registry.db): the edge reads devices and services from it */
  registryDir: string;
  host: string;
  port: number;
  wsPort?: number;
  tls?: { certFile: string; keyFile: string; caFile?: string };
  tlsPort?: number;
  wssPort?: number;
  maxPacketBytes: number;
  /** connections this edge accepts before it refuses (undefined: its own default) */
  maxConnections?: number;
  logLevel: string;
}

export const EDGE_ENV = 'CITYWATCH_EDGE';

/** Buffers may arrive as Uint8Array views; aedes and mqtt-packet want Buffers. */
export function asBuffer(bytes: Buffer | Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
