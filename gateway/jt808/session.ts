import type { Device } from '../../registry/types.ts';
import { BodyError } from './codec/bytes.ts';
import type { Edition, Header } from './codec/header.ts';
import { MSG, msgName } from './codec/ids.ts';
import { decode0001 } from './codec/msg-0001.ts';
import { decode0002 } from './codec/msg-0002.ts';
import { encode8001, PLATFORM_RESULT } from './codec/msg-8001.ts';
import { encodeFrame, type Packet } from './codec/packet.ts';
import type { Jt808Metrics } from './metrics.ts';
import type { SessionCore, SessionDepsOf } from './session-deps.ts';
import { SessionLocations } from './session-location.ts';
import { SessionLogin } from './session-login.ts';

/**
 * One terminal connection's protocol state (JT/T 808-2013 §5 通信连接, §6 消息处理机制): registration
 * (0x0100 → 0x8100), authentication (0x0102 → 0x8001), heartbeats, deregistration, location reports
 * into ingest with the 0x8001 reply sent once they are durable, and the replies (0x0001) to the
 * platform's commands. No socket here: the server hands it checked (and reassembled) packets and gives
 * it a `send` for replies.
 *
 * Order. Control messages (register, authenticate, deregister) run one at a time in arrival order, and a
 * location waits for the control messages before it: a terminal that sends 0x0102 and its first 0x0200
 * without waiting for the answer is judged authenticated or not as it would be in sequence. Locations do
 * not wait for each other: each is answered when its own fixes are durable (replies carry the serial
 * they answer, §8.2, so their order does not matter).
 *
 * By job: this module orders and dispatches the messages and answers heartbeats and command replies;
 * session-login.ts registers, authenticates and deregisters (the credentials' rules are there);
 * session-location.ts takes the locations into ingest; session-deps.ts is what it needs of the platform.
 */

export type { SessionRegistry } from './session-deps.ts';
/** the platform's side of a session: registry, ingest, the reply channel and the server's hooks */
export type SessionDeps = SessionDepsOf<Session>;

const CONTROL = new Set<number>([MSG.REGISTER, MSG.AUTHENTICATE, MSG.DEREGISTER]);
const LOCATION = new Set<number>([MSG.LOCATION, MSG.LOCATION_ANSWER, MSG.LOCATION_BATCH]);

/** labelled counters resolved once per message id: labels() hashes its arguments on every call */
const counters = new WeakMap<Jt808Metrics, Map<number, { inc(): void }>>();
function messageCounter(metrics: Jt808Metrics, msgId: number): { inc(): void } {
  let byId = counters.get(metrics);
  if (byId === undefined) {
    byId = new Map();
    counters.set(metrics, byId);
  }
  let c = byId.get(msgId);
  if (c === undefined) {
    // unknown ids share one label: a terminal cannot grow the metric without bound
    c = metrics.messages.labels(KNOWN_IDS.has(msgId) ? msgName(msgId) : 'other');
    byId.set(msgId, c);
  }
  return c;
}
const KNOWN_IDS: ReadonlySet<number> = new Set(Object.values(MSG));

export class Session implements SessionCore {
  /** the device this connection authenticated as */
  device: Device | undefined;
  /** edition and phone as the terminal sends them: replies use the same */
  edition: Edition = '2013';
  phone: string | undefined;
  protocolVersion = 1;
  private serial = 0;
  private control: Promise<void> = Promise.resolve();
  /** control messages not yet handled: a location waits for them, and only then */
  private controlPending = 0;
  /** locations handed to ingest and not yet answered */
  inflight = 0;
  /** registration, authentication, deregistration (session-login.ts) */
  private readonly login: SessionLogin<Session>;
  /** location reports and answers (session-location.ts) */
  private readonly locations: SessionLocations<Session>;

  constructor(private readonly deps: SessionDeps) {
    this.login = new SessionLogin<Session>(this, deps);
    this.locations = new SessionLocations<Session>(this, deps);
  }

  /** the serial nextSerial() will give */
  peekSerial(): number {
    return this.serial;
  }

  /** writes a ready frame to the terminal */
  write(frame: Buffer): void {
    this.deps.send(frame);
  }

  /** The platform's next message serial for this terminal (§4.4.2: from 0, wrapping). */
  nextSerial(): number {
    const s = this.serial;
    this.serial = (this.serial + 1) & 0xffff;
    return s;
  }

  /** Sends a platform message in the terminal's own edition; returns its serial. */
  sendMessage(msgId: number, body: Buffer): number {
    const serial = this.nextSerial();
    this.deps.send(
      encodeFrame({
        msgId,
        edition: this.edition,
        phone: this.phone ?? '0',
        serial,
        body,
        protocolVersion: this.protocolVersion,
      }),
    );
    return serial;
  }

  /** answers a terminal's message with 0x8001 (its serial unless another is given) */
  reply(header: Header, result: number, serial = header.serial): void {
    this.sendMessage(MSG.PLATFORM_REPLY, encode8001({ replySerial: serial, replyId: header.msgId, result }));
  }

  /**
   * Handles one checked packet. `frame` is the raw frame for dead letters; `serials` the serials to
   * answer (every packet of a reassembled message). Resolves when the message is handled (a location:
   * answered or left unanswered), after deps.settled(); never rejects.
   */
  handle(packet: Packet, frame: Buffer, serials: readonly number[] = [packet.header.serial]): Promise<void> {
    const { header } = packet;
    messageCounter(this.deps.metrics, header.msgId).inc();
    // the terminal's edition and phone as of its latest message
    this.edition = header.edition;
    if (header.edition === '2019') this.protocolVersion = header.protocolVersion;
    if (this.phone === undefined || this.device === undefined) this.phone = header.phone;
    if (CONTROL.has(header.msgId)) {
      this.controlPending++;
      const step = this.control
        .then(() => this.guard(packet, frame, () => this.login.handle(packet)))
        .finally(() => {
          this.controlPending--;
          this.deps.settled?.();
        });
      this.control = step;
      return step;
    }
    if (LOCATION.has(header.msgId)) {
      this.inflight++;
      // the common case, an authenticated terminal reporting: no control message to wait for (and, per
      // report, no closure: this is the path every 0x0200 takes)
      return this.controlPending === 0
        ? this.location(packet, frame, serials)
        : this.control.then(() => this.location(packet, frame, serials));
    }
    return this.guard(packet, frame, () => this.handleOther(packet, frame)).finally(() =>
      this.deps.settled?.(),
    );
  }

  /** runs a handler; a body that does not match its table is refused and answered "message error" */
  private async guard(packet: Packet, frame: Buffer, run: () => void | Promise<void>): Promise<void> {
    try {
      await run();
    } catch (err) {
      this.failed(err, packet, frame);
    }
  }

  /** a location message, answered once durable (guarded as guard() does); never rejects */
  private async location(packet: Packet, frame: Buffer, serials: readonly number[]): Promise<void> {
    try {
      await this.locations.handle(packet, frame, serials);
    } catch (err) {
      this.failed(err, packet, frame);
    } finally {
      this.inflight--;
      this.deps.settled?.();
    }
  }

  /** a handler threw: a body that does not match its table is refused and answered "message error" */
  private failed(err: unknown, packet: Packet, frame: Buffer): void {
    if (err instanceof BodyError) {
      this.deps.refuse({ reason: 'malformed_body', detail: err.message }, packet.header, frame);
      // a reply to a reply would never end
      if (packet.header.msgId !== MSG.TERMINAL_REPLY) this.reply(packet.header, PLATFORM_RESULT.messageError);
      return;
    }
    this.deps.logger.error({ err, msg: msgName(packet.header.msgId) }, 'jt808 message handler failed');
  }

  private handleOther({ header, body }: Packet, frame: Buffer): void {
    switch (header.msgId) {
      case MSG.HEARTBEAT:
        decode0002(body);
        this.reply(header, PLATFORM_RESULT.success);
        return;
      case MSG.TERMINAL_REPLY: {
        const r = decode0001(body);
        this.deps.commandReply?.(this, { serial: r.replySerial, msgId: r.replyId, result: r.result });
        return;
      }
      default:
        this.deps.refuse(
          { reason: 'unsupported_message', detail: `message ${msgName(header.msgId)} is not handled` },
          header,
          frame,
        );
        this.reply(header, PLATFORM_RESULT.unsupported);
    }
  }
}
