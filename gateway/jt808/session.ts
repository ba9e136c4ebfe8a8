import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { AcceptOutcome, FixObjects } from '../../ingest/core.ts';
import { type ModelMapping, ModelMappingSchema } from '../../registry/device-models.ts';
import type { Device } from '../../registry/types.ts';
import { BodyError } from './codec/bytes.ts';
import type { Edition, Header } from './codec/header.ts';
import { MSG, msgName } from './codec/ids.ts';
import { decode0001 } from './codec/msg-0001.ts';
import { decode0002 } from './codec/msg-0002.ts';
import { decode0003 } from './codec/msg-0003.ts';
import { decode0100 } from './codec/msg-0100.ts';
import { decode0102 } from './codec/msg-0102.ts';
import { decode0200, type Location } from './codec/msg-0200.ts';
import { decode0201 } from './codec/msg-0201.ts';
import { decode0704 } from './codec/msg-0704.ts';
import { encode8001, PLATFORM_RESULT } from './codec/msg-8001.ts';
import { encode8100, REGISTER_RESULT } from './codec/msg-8100.ts';
import { encodeFrame, type Packet } from './codec/packet.ts';
import type { Jt808Refusal } from './codec/refusals.ts';
import { jt808Topic } from './dead-letter.ts';
import { locationToFixObject } from './location-fix.ts';
import type { Jt808Metrics } from './metrics.ts';

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
 * Credentials. The authentication code is the device's secret in the registry (stored as a scrypt
 * hash, the same secret as its MQTT password): a registration issues a new random code and replaces the
 * secret with it; a device provisioned with a known secret can authenticate with it without registering.
 * A registration needs only the phone number and terminal id, which are printed on the terminal and
 * its SIM, so anyone could register as a truck and void its code. The registry therefore closes a
 * device's registration once its terminal has authenticated: a later 0x0100 gets result 3 (终端已被注册)
 * until the device's secret changes (an operator's rotation, a new binding, or the terminal's own
 * 0x0003 deregistration). A registration whose answer was lost can be repeated, since its code was
 * never used.
 */

export interface SessionRegistry {
  deviceByJt808Phone(phone: string): Device | undefined;
  device(id: string): Device | undefined;
  deviceModel(id: string): unknown;
  verifyDevice(id: string, secret: string): Promise<boolean>;
  setDeviceSecret(id: string, secret: string): Promise<void>;
  jt808RegistrationClosedAt(id: string): number | undefined;
  /** durable when it resolves */
  closeJt808Registration(id: string, at: number): Promise<void>;
}

export interface SessionDeps {
  registry: SessionRegistry;
  ingest: (objects: FixObjects) => Promise<AcceptOutcome>;
  metrics: Jt808Metrics;
  /** writes a frame to the terminal */
  send: (frame: Buffer) => void;
  /** counts and dead-letters a refusal */
  refuse: (
    refusal: { reason: Jt808Refusal; detail: string },
    header: Header | undefined,
    frame: Buffer,
  ) => void;
  /** the session authenticated as a device (the server ends another connection of the same device) */
  bound: (session: Session, device: Device) => void;
  /** a reply (0x0001 or 0x0201) to a command this session sent */
  commandReply?: (
    session: Session,
    reply: { serial: number; msgId: number; result: number; body?: Location },
  ) => void;
  /** accept locations from a bound phone without authentication (legacy terminals) */
  allowUnauthenticated: boolean;
  /** ends the connection (counted by cause) */
  end: (cause: string) => void;
  /** true once the platform is closing: locations are not taken (no reply: the terminal resends) */
  closing: () => boolean;
  /**
   * a message given to handle() is done (answered, or left unanswered): called once for each, after
   * `inflight` has dropped for a location (the server's backpressure and close() count them)
   */
  settled?: () => void;
  logger: Logger;
}

/**
 * Failed authentications (or registrations refused) one connection may make before it is closed: each
 * costs a scrypt check, and a terminal with the right code needs one.
 */
const MAX_FAILED_LOGINS = 3;

const CONTROL = new Set<number>([MSG.REGISTER, MSG.AUTHENTICATE, MSG.DEREGISTER]);
const LOCATION = new Set<number>([MSG.LOCATION, MSG.LOCATION_ANSWER, MSG.LOCATION_BATCH]);
/** 16 characters of base64url: 96 random bits, ASCII as every terminal can store it */
const newAuthCode = () => randomBytes(12).toString('base64url');

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

/** a frame's escaped content as the dead letter's hex, delimiters put back */
function frameAsHex(frame: Buffer): Buffer {
  return Buffer.from(`7e${frame.toString('hex')}7e`);
}

/** parsed mappings by the registry's stored (frozen) object: parsed once per model version */
const parsedModels = new WeakMap<object, ModelMapping | null>();

export class Session {
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
  private failedLogins = 0;
  private lastTopic: { phone: string; msgId: number; topic: string } | undefined;

  constructor(private readonly deps: SessionDeps) {}

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

  private reply(header: Header, result: number, serial = header.serial): void {
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
        .then(() => this.guard(packet, frame, () => this.handleControl(packet)))
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
      await this.handleLocation(packet, frame, serials);
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

  private async handleControl({ header, body }: Packet): Promise<void> {
    const { registry, metrics } = this.deps;
    if (header.msgId === MSG.REGISTER) {
      const reg = decode0100(body, header.edition);
      const device = registry.deviceByJt808Phone(header.phone);
      let result: number = REGISTER_RESULT.success;
      // §8.6: 4 数据库中无该终端 for a phone no device is bound to, a disabled device, or another terminal id
      if (device === undefined || !device.enabled) result = REGISTER_RESULT.noSuchTerminal;
      else if (device.jt808?.terminalId !== undefined && device.jt808.terminalId !== reg.terminalId) {
        result = REGISTER_RESULT.noSuchTerminal;
      } else if (registry.jt808RegistrationClosedAt(device.id) !== undefined) {
        result = REGISTER_RESULT.terminalAlreadyRegistered;
      }
      const label =
        result === REGISTER_RESULT.success
          ? 'success'
          : result === REGISTER_RESULT.terminalAlreadyRegistered
            ? 'already_registered'
            : 'no_such_terminal';
      metrics.registrations.labels(label).inc();
      if (result !== REGISTER_RESULT.success || device === undefined) {
        this.deps.logger.info(
          { phone: header.phone, terminalId: reg.terminalId, plate: reg.plate, device: device?.id },
          result === REGISTER_RESULT.terminalAlreadyRegistered
            ? 'jt808 registration refused: this terminal has registered and authenticated already; rotate the device secret (POST /api/v1/devices/{id}/rotate) to let it register again'
            : 'jt808 registration refused: no enabled device is bound to this phone and terminal id',
        );
        this.sendMessage(MSG.REGISTER_ANSWER, encode8100({ replySerial: header.serial, result }));
        this.failedLogin();
        return;
      }
      const authCode = newAuthCode();
      await registry.setDeviceSecret(device.id, authCode);
      this.deps.logger.info(
        { device: device.id, phone: header.phone, terminalId: reg.terminalId, plate: reg.plate },
        'jt808 terminal registered: new authentication code issued',
      );
      this.sendMessage(MSG.REGISTER_ANSWER, encode8100({ replySerial: header.serial, result, authCode }));
      return;
    }
    if (header.msgId === MSG.AUTHENTICATE) {
      const auth = decode0102(body, header.edition);
      const device = registry.deviceByJt808Phone(header.phone);
      const ok = device !== undefined && (await registry.verifyDevice(device.id, auth.authCode));
      metrics.authentications.labels(ok ? 'success' : 'failure').inc();
      if (!ok || device === undefined) {
        this.deps.logger.info({ phone: header.phone }, 'jt808 authentication failed');
        this.reply(header, PLATFORM_RESULT.failure);
        this.failedLogin();
        return;
      }
      // the code is in use: no one can register as this terminal any more (see Credentials above); the
      // closing is durable before the answer (written with the other terminals' of this turn)
      await registry.closeJt808Registration(device.id, Date.now());
      this.device = device;
      this.phone = header.phone;
      this.deps.bound(this, device);
      this.reply(header, PLATFORM_RESULT.success);
      return;
    }
    // MSG.DEREGISTER (§8.7): the authentication code is given up; the terminal registers again
    decode0003(body);
    const device = this.device;
    if (device === undefined) {
      this.reply(header, PLATFORM_RESULT.failure);
      return;
    }
    await registry.setDeviceSecret(device.id, newAuthCode());
    this.device = undefined;
    this.deps.logger.info({ device: device.id }, 'jt808 terminal deregistered');
    this.reply(header, PLATFORM_RESULT.success);
  }

  private failedLogin(): void {
    this.failedLogins++;
    if (this.failedLogins >= MAX_FAILED_LOGINS) this.deps.end('failed_logins');
  }

  /** The device a location message is filed under, or undefined (refused: not authenticated). */
  private deviceFor(header: Header): Device | undefined {
    if (this.device !== undefined) {
      // a connection speaks for the terminal it authenticated as, not for another phone
      if (this.deps.registry.deviceByJt808Phone(header.phone)?.id !== this.device.id) return undefined;
      // the registry's current entry: disabled or re-bound since is seen at once
      return this.deps.registry.device(this.device.id);
    }
    if (!this.deps.allowUnauthenticated) return undefined;
    const device = this.deps.registry.deviceByJt808Phone(header.phone);
    if (device === undefined) return undefined;
    this.device = device;
    this.phone = header.phone;
    this.deps.bound(this, device);
    return device;
  }

  private mappingOf(device: Device): ModelMapping | undefined {
    const id = device.jt808?.model;
    if (id === undefined) return undefined;
    const stored = this.deps.registry.deviceModel(id);
    if (stored === undefined || stored === null || typeof stored !== 'object') return undefined;
    let parsed = parsedModels.get(stored);
    if (parsed === undefined) {
      const r = ModelMappingSchema.safeParse(stored);
      parsed = r.success ? r.data : null;
      parsedModels.set(stored, parsed);
    }
    return parsed ?? undefined;
  }

  private async handleLocation(packet: Packet, frame: Buffer, serials: readonly number[]): Promise<void> {
    const { header, body } = packet;
    // who it is first: nothing of an unauthenticated terminal is parsed
    const device = this.deviceFor(header);
    if (device === undefined) {
      this.deps.refuse(
        {
          reason: 'not_authenticated',
          detail:
            this.device === undefined
              ? 'location before authentication (0x0102)'
              : `phone ${header.phone} is not the authenticated terminal's`,
        },
        header,
        frame,
      );
      this.reply(header, PLATFORM_RESULT.failure);
      return;
    }
    let locations: Location[];
    let batch = false;
    if (header.msgId === MSG.LOCATION) locations = [decode0200(body)];
    else if (header.msgId === MSG.LOCATION_ANSWER) {
      const a = decode0201(body);
      locations = [a.location];
      this.deps.commandReply?.(this, {
        serial: a.replySerial,
        msgId: header.msgId,
        result: 0,
        body: a.location,
      });
    } else {
      // 0x0704: type 1 (blind-area backfill) needs nothing more: ingest marks a fix late when it is
      // older than one already accepted, and the compliance engine judges late fixes in time order
      locations = decode0704(body).locations;
      batch = true;
    }
    if (this.deps.closing()) return;
    if (locations.length === 0) {
      for (const s of serials) this.reply(header, PLATFORM_RESULT.success, s);
      return;
    }
    const mapping = this.mappingOf(device);
    const items: Record<string, unknown>[] = [];
    for (const l of locations) items.push(locationToFixObject(l, device.kind, mapping));
    let outcome: AcceptOutcome;
    try {
      outcome = await this.deps.ingest({
        device,
        items,
        batch,
        topic: this.topicOf(header),
        // bound, not a closure: one per report otherwise (only a dead letter calls it)
        raw: frameAsHex.bind(undefined, frame),
      });
    } catch {
      // not durable, so not answered: the terminal sends it again (its reply timeout, 0x8103 0x0002)
      this.deps.metrics.notDurable.inc();
      return;
    }
    // answered "message error" only when every fix was refused (dead-lettered by ingest): a terminal must
    // not resend what will never be taken
    const result =
      outcome.accepted + outcome.duplicates > 0 ? PLATFORM_RESULT.success : PLATFORM_RESULT.messageError;
    for (const s of serials) this.reply(header, result, s);
  }

  /** jt808Topic of a message, made once per phone and message id (every report names its topic) */
  private topicOf(header: Header): string {
    const last = this.lastTopic;
    if (last !== undefined && last.msgId === header.msgId && last.phone === header.phone) return last.topic;
    const topic = jt808Topic(header.phone, header.msgId);
    this.lastTopic = { phone: header.phone, msgId: header.msgId, topic };
    return topic;
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
