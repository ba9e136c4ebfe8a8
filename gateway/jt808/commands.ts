import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Edition } from './codec/header.ts';
import { MSG, msgName } from './codec/ids.ts';
import { TERMINAL_RESULTS } from './codec/msg-0001.ts';
import type { Location } from './codec/msg-0200.ts';
import { encode8103, PARAMETER } from './codec/msg-8103.ts';
import { encode8201 } from './codec/msg-8201.ts';
import { encode8300, TEXT_FLAGS } from './codec/msg-8300.ts';
import { encodeFrames } from './codec/packet.ts';
import type { Jt808Metrics } from './metrics.ts';
import type { Session } from './session.ts';

/**
 * Commands down to JT/T 808 terminals (0x8201 location query, 0x8103 parameters, 0x8300 text, 0x8604
 * areas, 0x8606 routes) and their outcomes: the terminal's 0x0001 reply (0x0201 for a location query)
 * matched by serial, or a timeout. Outcomes are kept in memory, bounded (the newest `maxRecords`), and
 * read through the API (GET /api/v1/devices/{id}/commands); they do not survive a restart.
 */

export const COMMAND_STATES = [
  /** written to the terminal's connection, no answer yet */
  'sent',
  /** 0x0001 result 0, or the 0x0201 answer to a location query */
  'acknowledged',
  /** 0x0001 result 1 */
  'failure',
  /** 0x0001 result 2 */
  'message_error',
  /** 0x0001 result 3 */
  'unsupported',
  /** no answer within the timeout */
  'timeout',
  /** the device has no authenticated JT/T 808 connection: nothing was sent */
  'not_connected',
  /** the gateway stopped while it waited (its connection closed): the answer cannot come any more */
  'cancelled',
] as const;
export type CommandState = (typeof COMMAND_STATES)[number];

/** What the API may ask a terminal for. */
export type CommandRequest =
  | { type: 'location_query' }
  | { type: 'report_interval'; seconds: number }
  | { type: 'text'; text: string; tts: boolean; display: boolean; emergency: boolean };

export interface CommandRecord {
  id: string;
  device: string;
  /** what asked for it: api, violation:{id}, permit:{id} */
  source: string;
  type: string;
  msgId: string;
  state: CommandState;
  /** ISO-8601 UTC */
  createdAt: string;
  answeredAt?: string;
  /** the 0x0201 answer's position */
  location?: { ts: string; lat: number; lon: number; speed: number };
  /** a sub-packaged command: packets sent */
  packets?: number;
  /** why a command was settled without the terminal's answer (`cancelled`) */
  reason?: string;
}

interface Pending {
  record: CommandRecord;
  session: Session;
  /** every packet's serial */
  serials: readonly number[];
  /** packets not yet acknowledged */
  open: Set<number>;
  timer: NodeJS.Timeout | undefined;
}

export interface CommandsOptions {
  sessionOf: (deviceId: string) => Session | undefined;
  metrics: Jt808Metrics;
  logger: Logger;
  /** default 30 s */
  timeoutMs?: number;
  /** default 10,000 */
  maxRecords?: number;
  now?: () => number;
  /**
   * every record as it is created (`sent`, `not_connected`) and as it settles: a copy, for a store
   * beyond this process (the cluster's edges keep them where every API node reads them)
   */
  onRecord?: (record: CommandRecord) => void;
}

/** What the API asks for, as the message to send (throws, naming the problem, when it cannot be encoded). */
export function encodeRequest(req: CommandRequest): {
  msgId: number;
  body: Buffer | ((edition: Edition) => Buffer);
} {
  switch (req.type) {
    case 'location_query':
      return { msgId: MSG.QUERY_LOCATION, body: encode8201() };
    case 'report_interval':
      return {
        msgId: MSG.SET_PARAMETERS,
        body: encode8103([{ id: PARAMETER.defaultReportIntervalS, value: req.seconds }]),
      };
    case 'text': {
      const flags =
        (req.tts ? TEXT_FLAGS.tts : 0) |
        (req.display ? TEXT_FLAGS.display : 0) |
        (req.emergency ? TEXT_FLAGS.emergency : 0);
      // a character GBK cannot hold is refused before anything is sent
      encode8300({ flags, text: req.text }, '2013');
      return { msgId: MSG.TEXT, body: (edition) => encode8300({ flags, text: req.text }, edition) };
    }
  }
}

export class Jt808Commands {
  private readonly records = new Map<string, CommandRecord>();
  /** session → serial → pending */
  private readonly pending = new WeakMap<Session, Map<number, Pending>>();
  /** every command waiting for its answer, whatever its session (cancelWaiting) */
  private readonly waiting = new Set<Pending>();
  private readonly now: () => number;

  constructor(private readonly opts: CommandsOptions) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * Sends a command to a device's terminal (sub-packaged when the body is over 1023 bytes, §4.4.2).
   * Returns its record at once: `sent`, or `not_connected` when the device has no session. `id` is the
   * record's id when the caller chose it (a cluster edge's, claimed beforehand: cluster/jt808-once.ts).
   */
  send(
    deviceId: string,
    type: string,
    msgId: number,
    body: Buffer | ((edition: Edition) => Buffer),
    source: string,
    id = `cmd-${randomBytes(8).toString('hex')}`,
  ): CommandRecord {
    const record: CommandRecord = {
      id,
      device: deviceId,
      source,
      type,
      msgId: msgName(msgId),
      state: 'sent',
      createdAt: new Date(this.now()).toISOString(),
    };
    this.keep(record);
    const session = this.opts.sessionOf(deviceId);
    if (session === undefined) {
      record.state = 'not_connected';
      this.opts.metrics.commands.labels(record.msgId, record.state).inc();
      this.opts.onRecord?.({ ...record });
      return record;
    }
    const serials: number[] = [];
    const frames = encodeFrames({
      msgId,
      edition: session.edition,
      phone: session.phone ?? '0',
      serial: session.peekSerial(),
      // the layout of some commands differs between 2013 and 2019 (0x8300, 0x8604, 0x8606)
      body: typeof body === 'function' ? body(session.edition) : body,
      protocolVersion: session.protocolVersion,
    });
    for (const frame of frames) {
      serials.push(session.nextSerial());
      session.write(frame);
    }
    if (frames.length > 1) record.packets = frames.length;
    let bySerial = this.pending.get(session);
    if (bySerial === undefined) {
      bySerial = new Map();
      this.pending.set(session, bySerial);
    }
    const p: Pending = { record, session, serials, open: new Set(serials), timer: undefined };
    p.timer = setTimeout(() => this.finish(p, 'timeout'), this.opts.timeoutMs ?? 30_000);
    p.timer.unref();
    for (const s of serials) bySerial.set(s, p);
    this.waiting.add(p);
    this.opts.onRecord?.({ ...record });
    return record;
  }

  /** A command asked for through the API; throws (naming the field) when it cannot be encoded. */
  request(deviceId: string, req: CommandRequest, source: string): CommandRecord {
    const { msgId, body } = encodeRequest(req);
    return this.send(deviceId, req.type, msgId, body, source);
  }

  /** The server's hook for a terminal's 0x0001 (or 0x0201) to one of our messages. */
  onReply(session: Session, reply: { serial: number; msgId: number; result: number; body?: Location }): void {
    const p = this.pending.get(session)?.get(reply.serial);
    if (p === undefined) return;
    if (reply.msgId === MSG.LOCATION_ANSWER && reply.body !== undefined) {
      p.record.location = {
        ts: new Date(reply.body.ts).toISOString(),
        lat: reply.body.lat,
        lon: reply.body.lon,
        speed: reply.body.speed,
      };
      this.finish(p, 'acknowledged');
      return;
    }
    // a packet of a sub-packaged command is answered one by one: the last answer settles it
    const states: Record<(typeof TERMINAL_RESULTS)[number], CommandState> = {
      success: 'acknowledged',
      failure: 'failure',
      message_error: 'message_error',
      unsupported: 'unsupported',
    };
    const state = states[TERMINAL_RESULTS[reply.result] ?? 'failure'];
    p.open.delete(reply.serial);
    if (state === 'acknowledged' && p.open.size > 0) return;
    this.finish(p, state);
  }

  /**
   * Settles every command still waiting as `cancelled`, with `reason`: the gateway closes its
   * connections, so no answer can come (a stopping edge settles them itself rather than leaving them
   * to their deadline). Returns how many.
   */
  cancelWaiting(reason: string): number {
    const waiting = [...this.waiting];
    for (const p of waiting) this.finish(p, 'cancelled', reason);
    return waiting.length;
  }

  list(deviceId: string): CommandRecord[] {
    return [...this.records.values()].filter((r) => r.device === deviceId).reverse();
  }

  get(id: string): CommandRecord | undefined {
    return this.records.get(id);
  }

  private finish(p: Pending, state: CommandState, reason?: string): void {
    if (p.record.state !== 'sent') return;
    clearTimeout(p.timer);
    this.waiting.delete(p);
    const bySerial = this.pending.get(p.session);
    for (const s of p.serials) if (bySerial?.get(s) === p) bySerial.delete(s);
    p.record.state = state;
    p.record.answeredAt = new Date(this.now()).toISOString();
    if (reason !== undefined) p.record.reason = reason;
    this.opts.metrics.commands.labels(p.record.msgId, state).inc();
    this.opts.onRecord?.({ ...p.record });
    if (state !== 'acknowledged') {
      this.opts.logger.info(
        { device: p.record.device, command: p.record.msgId, state, ...(reason ? { reason } : {}) },
        'jt808 command not acknowledged',
      );
    }
  }

  private keep(record: CommandRecord): void {
    this.records.set(record.id, record);
    const max = this.opts.maxRecords ?? 10_000;
    while (this.records.size > max) {
      const oldest = this.records.keys().next().value as string;
      this.records.delete(oldest);
    }
  }
}
