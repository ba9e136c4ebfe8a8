import type { Logger } from 'pino';
import type { AcceptOutcome, FixObjects } from '../../ingest/core.ts';
import type { Device } from '../../registry/types.ts';
import type { Header } from './codec/header.ts';
import type { Location } from './codec/msg-0200.ts';
import type { Jt808Refusal } from './codec/refusals.ts';
import type { Jt808Metrics } from './metrics.ts';

/**
 * What a terminal session (session.ts) needs from the platform: the registry that binds and
 * authenticates terminals, the ingest entry, the reply channel and the server's hooks. `S` is the
 * session type the server's hooks receive (session.ts instantiates it with its Session class), so that
 * the modules of the session's jobs (session-login.ts, session-location.ts) need not import the class.
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

export interface SessionDepsOf<S> {
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
  bound: (session: S, device: Device) => void;
  /** a reply (0x0001 or 0x0201) to a command this session sent */
  commandReply?: (
    session: S,
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

/** What the modules of a session's jobs use of the session itself. */
export interface SessionCore {
  /** the device this connection authenticated as */
  device: Device | undefined;
  /** the phone as the terminal sends it: replies use the same */
  phone: string | undefined;
  /** sends a platform message in the terminal's own edition; returns its serial */
  sendMessage(msgId: number, body: Buffer): number;
  /** answers a terminal's message with 0x8001 (its serial unless another is given) */
  reply(header: Header, result: number, serial?: number): void;
}
