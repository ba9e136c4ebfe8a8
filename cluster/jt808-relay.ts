/**
 * An edge's side of the cluster's JT/T 808 commands (jt808-commands.ts): for each terminal authenticated
 * on this edge's gateway it subscribes to the terminal's command subject, sends what an API node asks
 * through the gateway's commands (gateway/jt808/commands.ts: serials, sub-packages, the answer or the
 * timeout), and keeps every record the gateway makes in the records' bucket, in order per command.
 *
 * One connection per terminal across the edges: when a terminal authenticates here, the edge says so on
 * `citywatch.jt808.session.<device>`, and an edge that still holds an older connection of it (a
 * half-open TCP connection the terminal gave up on) ends that one, as the single process does with two
 * connections of one device. The command subject is subscribed in a queue group, so a command reaches one
 * edge even while both still hold one.
 */
import type { KV } from '@nats-io/kv';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { CommandRecord, Jt808Commands } from '../gateway/jt808/commands.ts';
import {
  type CommandAnswer,
  type CommandAsk,
  commandSubject,
  deviceOfToken,
  deviceToken,
  recordKey,
  SESSION_SUBJECT_PREFIX,
  type StoredCommand,
} from './jt808-commands.ts';

/** what the relay uses of the edge's gateway (gateway/jt808/server.ts) */
export interface RelayGateway {
  readonly commands: Pick<Jt808Commands, 'request'>;
  dropDeviceSessions(deviceId: string): void;
}

export interface RelayOptions {
  nc: NatsConnection;
  records: KV;
  /** this edge, in its session claims */
  edgeId: string;
  /** the gateway, once it listens */
  gateway: () => RelayGateway | undefined;
  /** the gateway's command timeout (JT808_COMMAND_TIMEOUT_S): a `sent` record says when it ends */
  commandTimeoutMs: number;
  logger: Logger;
}

/** a record's write to the bucket: retried this many times, a back-off apart, then logged as lost */
const WRITE_ATTEMPTS = 5;
const WRITE_BACKOFF_MS = 500;

export class EdgeCommandRelay {
  private readonly subscriptions = new Map<string, Subscription>();
  /** per command id, its records' writes chained in order (`sent` before its outcome) */
  private readonly writes = new Map<string, Promise<void>>();
  private readonly claims: Subscription;
  private stopped = false;

  constructor(private readonly opts: RelayOptions) {
    this.claims = opts.nc.subscribe(`${SESSION_SUBJECT_PREFIX}.*`, {
      callback: (err, msg) => {
        if (err) return;
        const token = msg.subject.slice(SESSION_SUBJECT_PREFIX.length + 1);
        let edge: string | undefined;
        try {
          edge = (msg.json() as { edge?: string }).edge;
        } catch {
          return;
        }
        const device = deviceOfToken(token);
        if (edge === opts.edgeId || !this.subscriptions.has(device)) return;
        opts.logger.info(
          { device, edge },
          'jt808 terminal authenticated at another edge: its connection here is closed',
        );
        opts.gateway()?.dropDeviceSessions(device);
      },
    });
  }

  /** the gateway's onSession hook */
  session(deviceId: string, connected: boolean): void {
    if (this.stopped) return;
    const { nc, edgeId } = this.opts;
    if (!connected) {
      this.subscriptions.get(deviceId)?.unsubscribe();
      this.subscriptions.delete(deviceId);
      return;
    }
    if (!this.subscriptions.has(deviceId)) {
      const sub = nc.subscribe(commandSubject(deviceId), {
        queue: 'jt808-edges',
        callback: (err, msg) => {
          if (err) return;
          void Promise.resolve()
            .then(() => this.ask(deviceId, msg.json<CommandAsk>()))
            .then(
              (answer) => msg.respond(JSON.stringify(answer)),
              (e: Error) => msg.respond(JSON.stringify({ error: e.message } satisfies CommandAnswer)),
            );
        },
      });
      this.subscriptions.set(deviceId, sub);
    }
    nc.publish(`${SESSION_SUBJECT_PREFIX}.${deviceToken(deviceId)}`, JSON.stringify({ edge: edgeId }));
  }

  /** the gateway's onCommandRecord hook: the record's write, after the earlier ones of the command */
  record(record: CommandRecord): Promise<void> {
    const before = this.writes.get(record.id) ?? Promise.resolve();
    const write = before.then(() => this.write(record));
    this.writes.set(record.id, write);
    void write.then(() => {
      if (this.writes.get(record.id) === write) this.writes.delete(record.id);
    });
    return write;
  }

  /**
   * Takes no more commands and waits for the records' writes under way: an edge that stops cleanly
   * closes its gateway first, which settles the commands still waiting (`cancelled`, Jt808Commands.
   * cancelWaiting), and those records reach the bucket before the edge leaves NATS.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.claims.unsubscribe();
    for (const sub of this.subscriptions.values()) sub.unsubscribe();
    this.subscriptions.clear();
    await Promise.all(this.writes.values());
  }

  private async ask(deviceId: string, ask: CommandAsk): Promise<CommandAnswer> {
    const gateway = this.opts.gateway();
    if (gateway === undefined) return { error: 'the JT/T 808 gateway of this edge is not listening' };
    let record: CommandRecord;
    try {
      record = gateway.commands.request(deviceId, ask.request, ask.source);
    } catch (err) {
      return { error: (err as Error).message };
    }
    // the record as the command left (the gateway's own settles meanwhile when the terminal answers
    // at once), answered once it is in the bucket: any API node reads it as soon as this one answers 202
    const sent = { ...record };
    await this.writes.get(record.id);
    return { record: sent };
  }

  private async write(record: CommandRecord): Promise<void> {
    const key = recordKey(record.device, record.id);
    const stored: StoredCommand =
      record.state === 'sent'
        ? { ...record, settleBy: Date.parse(record.createdAt) + this.opts.commandTimeoutMs }
        : record;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.opts.records.put(key, JSON.stringify(stored));
        return;
      } catch (err) {
        if (attempt >= WRITE_ATTEMPTS) {
          this.opts.logger.error(
            { command: record.id, device: record.device, state: record.state, err: (err as Error).message },
            'jt808 command record could not be stored',
          );
          return;
        }
        await new Promise((r) => setTimeout(r, WRITE_BACKOFF_MS * attempt));
      }
    }
  }
}
