/**
 * JT/T 808 commands in the cluster (issue 16 with issue 14): a command asked for through any API node
 * reaches the edge that holds the terminal's TCP connection, and its outcome is kept where every API node
 * reads it.
 *  - Each edge subscribes, for every terminal authenticated on it, to the core NATS subject
 *    `citywatch.jt808.command.<device>` (jt808-relay.ts). An API node sends the command as a NATS request
 *    on that subject: the edge holding the connection sends it to the terminal and answers with the
 *    command's record (`sent`); with no edge subscribed, NATS answers "no responders" at once and the
 *    record is `not_connected` (nothing is sent or queued, as in the single process).
 *  - The records live in the replicated KV bucket `citywatch_jt808_commands` (R`CLUSTER_REPLICAS`, kept
 *    `CLUSTER_STREAM_MAX_AGE_H`), key `<device>.<command id>`: the edge writes a record when it sends the
 *    command (before it answers the request, so the 202 is readable at once from any API node) and again
 *    when the terminal's 0x0001 (or 0x0201) answer, the timeout, or the edge's clean stop (`cancelled`)
 *    settles it (and an API node shows a command its edge never settled, the edge having died, as
 *    `timeout`: StoredCommand).
 *  - What the platform sends on its own (permit pushes, violation texts) is recorded in the same bucket,
 *    once across the edges: jt808-once.ts.
 * `<device>` is the device id in base64url: registry ids may hold "." and ":", which NATS subjects and KV
 * keys do not take.
 */
import { randomBytes } from 'node:crypto';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { msgName } from '../gateway/jt808/codec/ids.ts';
import { type CommandRecord, type CommandRequest, encodeRequest } from '../gateway/jt808/commands.ts';
import type { ClusterConnection } from './jetstream.ts';

export const COMMAND_BUCKET = 'citywatch_jt808_commands';
export const COMMAND_SUBJECT_PREFIX = 'citywatch.jt808.command';
/** an edge where a terminal authenticated says so: another edge holding an older connection ends it */
export const SESSION_SUBJECT_PREFIX = 'citywatch.jt808.session';

export const deviceToken = (deviceId: string): string => Buffer.from(deviceId, 'utf8').toString('base64url');
export const deviceOfToken = (token: string): string => Buffer.from(token, 'base64url').toString('utf8');
export const commandSubject = (deviceId: string): string =>
  `${COMMAND_SUBJECT_PREFIX}.${deviceToken(deviceId)}`;
export const recordKey = (deviceId: string, commandId: string): string =>
  `${deviceToken(deviceId)}.${commandId}`;

/**
 * A record as the bucket holds it: a `sent` one carries the instant by which its edge times it out. An
 * edge that dies before it settles a command writes no outcome; once that instant is past by
 * STALE_MARGIN_MS (more than the edge's retries of a write take), the API nodes show it as `timeout`:
 * the terminal's answer can no longer come (its connection was on that edge).
 */
export type StoredCommand = CommandRecord & { settleBy?: number };

/** beyond an edge's write retries (jt808-relay.ts: 5 attempts, 0.5-2 s apart) */
export const STALE_MARGIN_MS = 15_000;

/** the record the API shows of a stored one, at `now` */
export function shownRecord(stored: StoredCommand, now: number): CommandRecord {
  const { settleBy, ...record } = stored;
  if (record.state !== 'sent' || settleBy === undefined || now <= settleBy + STALE_MARGIN_MS) return record;
  return { ...record, state: 'timeout', answeredAt: new Date(settleBy).toISOString() };
}

/** what an API node asks the edge holding a terminal */
export interface CommandAsk {
  request: CommandRequest;
  source: string;
}

/** the edge's answer: the record, or why the command could not be encoded */
export type CommandAnswer = { record: CommandRecord } | { error: string };

/** the records' bucket, created if missing (idempotent, as jetstream.ts's) */
export function openCommandRecords(
  cluster: Pick<ClusterConnection, 'js'>,
  settings: { replicas: number; maxAgeMs: number },
): Promise<KV> {
  return new Kvm(cluster.js).create(COMMAND_BUCKET, {
    history: 1,
    replicas: settings.replicas,
    ttl: settings.maxAgeMs,
    // reads through the stream's leader: a record an edge stored is what any API node reads next (a
    // direct get may be answered by a replica that has not caught up yet)
    allow_direct: false,
  });
}

/** the ids Jt808Commands makes (cmd- and 16 hex digits): anything else is no key of the bucket */
const COMMAND_ID = /^cmd-[0-9a-f]{16}$/;

/** No edge answered in time: the command may have been sent (its record then shows in the list). */
export class EdgeUnavailableError extends Error {
  override readonly name = 'EdgeUnavailableError';
}

/**
 * An API node's commands (api/device-commands.ts's port): sent through the edge that holds the terminal,
 * read from the bucket.
 */
export class ClusterCommands {
  constructor(
    private readonly nc: NatsConnection,
    private readonly records: KV,
    /** how long the request waits for the edge's answer (the edge answers once the record is stored) */
    private readonly requestTimeoutMs = 10_000,
  ) {}

  async request(deviceId: string, request: CommandRequest, source: string): Promise<CommandRecord> {
    // refused here, naming the problem, as the single process does (a character GBK cannot hold)
    const { msgId } = encodeRequest(request);
    const ask: CommandAsk = { request, source };
    let answer: CommandAnswer;
    try {
      const reply = await this.nc.request(commandSubject(deviceId), JSON.stringify(ask), {
        timeout: this.requestTimeoutMs,
      });
      answer = reply.json<CommandAnswer>();
    } catch (err) {
      if (!isNoResponders(err)) {
        throw new EdgeUnavailableError(
          `no answer from the edge holding the terminal of ${deviceId}: ${(err as Error).message}`,
        );
      }
      // no edge holds an authenticated connection of this terminal
      const record: CommandRecord = {
        id: `cmd-${randomBytes(8).toString('hex')}`,
        device: deviceId,
        source,
        type: request.type,
        msgId: msgName(msgId),
        state: 'not_connected',
        createdAt: new Date().toISOString(),
      };
      await this.records.put(recordKey(deviceId, record.id), JSON.stringify(record));
      return record;
    }
    if ('error' in answer) throw new Error(answer.error);
    return answer.record;
  }

  async list(deviceId: string): Promise<CommandRecord[]> {
    const keys: string[] = [];
    for await (const key of await this.records.keys(`${deviceToken(deviceId)}.*`)) keys.push(key);
    const entries = await Promise.all(keys.map((key) => this.records.get(key)));
    const out: CommandRecord[] = [];
    for (const entry of entries) {
      if (entry === null || entry.operation !== 'PUT') continue;
      const record = shownRecord(entry.json<StoredCommand>(), Date.now());
      if (record.device === deviceId) out.push(record);
    }
    return out;
  }

  async get(commandId: string, deviceId: string): Promise<CommandRecord | undefined> {
    if (!COMMAND_ID.test(commandId)) return undefined;
    const entry = await this.records.get(recordKey(deviceId, commandId));
    if (entry === null || entry.operation !== 'PUT') return undefined;
    return shownRecord(entry.json<StoredCommand>(), Date.now());
  }
}

function isNoResponders(err: unknown): boolean {
  const e = err as { isNoResponders?: () => boolean; cause?: { name?: string } };
  return e.isNoResponders?.() === true || e.cause?.name === 'NoRespondersError';
}
