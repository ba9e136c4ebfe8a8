/**
 * What the platform sends JT/T 808 terminals on its own (a permit's route and sites, a violation's text:
 * platform/jt808.ts), in the cluster: every edge sees every trigger (each applies every registry change
 * and reads every stored violation), so each command gets an id all the edges compute alike (a digest of
 * what triggered it, the device and the message), and its record in the bucket of jt808-commands.ts,
 * under that id, decides who does what:
 *  - an edge that does not hold the terminal `create`s a `not_connected` record (refused when the key
 *    exists: one record whatever the number of edges);
 *  - the edge that holds it claims the command before it sends it: `create` of a `sent` record, or, when
 *    another edge recorded it `not_connected` first, `update` of that record at its revision (refused if
 *    anyone else changed it meanwhile). Only the claim's winner sends: a command is sent at most once,
 *    also when a trigger comes again (a partition replayed after a takeover, an edge reading again what it
 *    missed while cut off from NATS, two connections of one terminal on two edges). An edge that dies
 *    between its claim and the send leaves a `sent` record that the API nodes show as timed out
 *    (StoredCommand's `settleBy`).
 * The record of a command no edge held ends `not_connected`; one whose edge was cut off from NATS when it
 * was triggered is sent once that edge is back and reads the trigger (the violation feed,
 * event-feed.ts; the registry stream), and its record replaces the `not_connected` one.
 */
import { createHash } from 'node:crypto';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import type { Edition } from '../gateway/jt808/codec/header.ts';
import { msgName } from '../gateway/jt808/codec/ids.ts';
import type { Jt808Commands } from '../gateway/jt808/commands.ts';
import { recordKey, type StoredCommand } from './jt808-commands.ts';

/** what this uses of the edge's gateway (gateway/jt808/server.ts) */
export interface OnceGateway {
  readonly commands: Pick<Jt808Commands, 'send'>;
  sessionOf(deviceId: string): unknown;
}

export interface PlatformCommand {
  device: string;
  type: string;
  msgId: number;
  body: Buffer | ((edition: Edition) => Buffer);
  /** violation:{id}, permit:{id} */
  source: string;
  /** what tells two triggers of one source apart (a permit's version); '' when nothing does */
  generation: string;
}

/** the id every edge gives the command: `cmd-` and 16 hex digits, as the gateway's own */
export function platformCommandId(c: PlatformCommand): string {
  const body = typeof c.body === 'function' ? c.body('2013') : c.body;
  const digest = createHash('sha256')
    .update([c.source, c.generation, c.device, c.type, String(c.msgId)].join('\n'))
    .update('\n')
    .update(body)
    .digest('hex');
  return `cmd-${digest.slice(0, 16)}`;
}

/** a bucket write that failed other than by a refused revision: tried this many times, a back-off apart */
const ATTEMPTS = 5;
const BACKOFF_MS = 500;

export class OncePerCommand {
  /** per device, its commands in the order they were asked for (a route before its areas) */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(
    private readonly opts: {
      records: KV;
      gateway: () => OnceGateway | undefined;
      /** the gateway's command timeout: a claimed record says when it ends (StoredCommand) */
      commandTimeoutMs: number;
      logger: Logger;
    },
  ) {}

  /** records or sends the command (see above); resolves once that is done */
  send(command: PlatformCommand): Promise<void> {
    const before = this.chains.get(command.device) ?? Promise.resolve();
    const done = before.then(() => this.settle(command));
    this.chains.set(command.device, done);
    void done.then(() => {
      if (this.chains.get(command.device) === done) this.chains.delete(command.device);
    });
    return done;
  }

  /** every command asked for so far, done */
  async idle(): Promise<void> {
    await Promise.all(this.chains.values());
  }

  private async settle(command: PlatformCommand): Promise<void> {
    const id = platformCommandId(command);
    const key = recordKey(command.device, id);
    const now = Date.now();
    const record: StoredCommand = {
      id,
      device: command.device,
      source: command.source,
      type: command.type,
      msgId: msgName(command.msgId),
      state: 'not_connected',
      createdAt: new Date(now).toISOString(),
    };
    for (let attempt = 1; ; attempt++) {
      try {
        const gateway = this.opts.gateway();
        if (gateway?.sessionOf(command.device) === undefined) {
          await this.createUnlessThere(key, record);
          return;
        }
        const claim: StoredCommand = { ...record, state: 'sent', settleBy: now + this.opts.commandTimeoutMs };
        if (!(await this.claim(key, claim))) return;
        const { device, type, msgId, body, source } = command;
        gateway.commands.send(device, type, msgId, body, source, id);
        return;
      } catch (err) {
        if (attempt >= ATTEMPTS) {
          this.opts.logger.error(
            { command: id, device: command.device, source: command.source, err: (err as Error).message },
            'jt808 platform command neither recorded nor sent: its record could not be written',
          );
          return;
        }
        await new Promise((r) => setTimeout(r, BACKOFF_MS * attempt));
      }
    }
  }

  private async createUnlessThere(key: string, record: StoredCommand): Promise<void> {
    try {
      await this.opts.records.create(key, JSON.stringify(record));
    } catch (err) {
      if (!refused(err)) throw err;
    }
  }

  /** true: this edge sends the command; false: another edge has sent it (or is sending it) */
  private async claim(key: string, claim: StoredCommand): Promise<boolean> {
    const { records } = this.opts;
    // a record changed between the reads and writes here by every edge at once: a few rounds settle it
    for (let round = 0; round < 5; round++) {
      try {
        await records.create(key, JSON.stringify(claim));
        return true;
      } catch (err) {
        if (!refused(err)) throw err;
      }
      const entry = await records.get(key);
      if (entry === null || entry.operation !== 'PUT') continue;
      if (entry.json<StoredCommand>().state !== 'not_connected') return false;
      try {
        await records.update(key, JSON.stringify(claim), entry.revision);
        return true;
      } catch (err) {
        if (!refused(err)) throw err;
      }
    }
    return false;
  }
}

/** the server refused a write at a revision (the key exists, or changed since it was read) */
function refused(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}
