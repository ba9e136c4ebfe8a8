import net from 'node:net';
import type { Logger } from 'pino';
import { Registry as MetricsRegistry } from 'prom-client';
import type { AcceptOutcome, FixObjects } from '../../ingest/core.ts';
import { LogThrottle } from '../../ingest/log-throttle.ts';
import type { Device } from '../../registry/types.ts';
import { FLAG, FrameSplitter, type SplitEvent } from './codec/frame.ts';
import type { Header } from './codec/header.ts';
import { decodeFrame } from './codec/packet.ts';
import type { Jt808Refusal } from './codec/refusals.ts';
import { type AssemblerLimits, DEFAULT_ASSEMBLER_LIMITS, SubPackageAssembler } from './codec/subpackage.ts';
import { type CommandRecord, Jt808Commands } from './commands.ts';
import { buildJt808DeadLetter, jt808Topic } from './dead-letter.ts';
import { createJt808Metrics, type Jt808Metrics } from './metrics.ts';
import { Session, type SessionRegistry } from './session.ts';

/**
 * The JT/T 808 TCP gateway: one Session per connection (session.ts), the pure codec (codec/) in
 * between. Per connection it holds a bounded frame splitter and sub-package assembler, and applies
 * backpressure: it stops reading a terminal whose replies are not being taken (socket write buffer over
 * `maxWriteBufferBytes`) or that has `maxInflight` location messages waiting to be durable, and reads
 * again when they drain; nothing is shared between connections, so one slow terminal stalls only itself.
 * A connection is closed after `idleTimeoutMs` without a byte (JT/T 808-2013 §5.2: the terminal sends
 * heartbeats while it has nothing else to send), and when it keeps sending garbage.
 */

export interface Jt808ServerOptions {
  host: string;
  /** 0 picks a free port */
  port: number;
  registry: SessionRegistry;
  ingest: (objects: FixObjects) => Promise<AcceptOutcome>;
  /** publishes a dead letter (the platform's dead-letter topic) */
  deadLetter: (payload: Buffer) => void;
  metrics?: MetricsRegistry;
  logger: Logger;
  allowUnauthenticated?: boolean;
  /** default 180 s: three missed heartbeats of a 60 s interval */
  idleTimeoutMs?: number;
  maxConnections?: number;
  subpackages?: AssemblerLimits;
  /** location messages of one connection waiting to be durable before reading it pauses (default 64) */
  maxInflight?: number;
  /** bytes queued to one terminal before reading it pauses (default 64 KiB) */
  maxWriteBufferBytes?: number;
  /** refusals in a row (each good frame takes one off) before the connection is closed (default 50) */
  garbageLimit?: number;
  now?: () => number;
  /** how long a command waits for the terminal's answer (default 30 s) */
  commandTimeoutMs?: number;
  /** every command record as it is created and as it settles (Jt808Commands onRecord) */
  onCommandRecord?: (record: CommandRecord) => void;
  /** a device's terminal authenticated on a connection here (true), or its last one here closed (false) */
  onSession?: (deviceId: string, connected: boolean) => void;
}

interface Connection {
  socket: net.Socket;
  session: Session;
  splitter: FrameSplitter;
  /** the splitter's receiver for this connection (made once, not per chunk) */
  onSplit: (event: SplitEvent) => boolean | undefined;
  assembler: SubPackageAssembler;
  garbage: number;
  paused: { write: boolean; inflight: boolean };
  /** the socket is corked until the next tick: the replies written in one tick leave in one writev */
  corked: boolean;
}

function uncork(c: Connection): void {
  c.corked = false;
  c.socket.uncork();
}

export class Jt808Server {
  readonly metrics: Jt808Metrics;
  /** commands to the connected terminals, and their outcomes */
  readonly commands: Jt808Commands;
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  private readonly byDevice = new Map<string, Connection>();
  /** messages handed to a session and not yet settled (close() lets them finish) */
  private underWay = 0;
  /** close() waiting for underWay to reach 0 */
  private onDrained: (() => void) | undefined;
  private readonly refusalLog = new LogThrottle();
  private readonly now: () => number;
  private expiryTimer: NodeJS.Timeout | undefined;
  private closing = false;

  constructor(private readonly opts: Jt808ServerOptions) {
    this.metrics = createJt808Metrics(opts.metrics ?? new MetricsRegistry());
    this.now = opts.now ?? Date.now;
    this.commands = new Jt808Commands({
      sessionOf: (id) => this.sessionOf(id),
      metrics: this.metrics,
      logger: opts.logger,
      ...(opts.commandTimeoutMs !== undefined ? { timeoutMs: opts.commandTimeoutMs } : {}),
      ...(opts.onCommandRecord !== undefined ? { onRecord: opts.onCommandRecord } : {}),
      now: this.now,
    });
    this.server = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
    if (opts.maxConnections !== undefined) this.server.maxConnections = opts.maxConnections;
    this.server.on('error', (err) => opts.logger.error({ err }, 'jt808 server error'));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: this.opts.host, port: this.opts.port }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    // sub-packaged messages that never complete are dropped (and counted) on this tick
    const limits = this.opts.subpackages ?? DEFAULT_ASSEMBLER_LIMITS;
    this.expiryTimer = setInterval(() => this.expireSubpackages(), Math.min(5000, limits.timeoutMs));
    this.expiryTimer.unref();
    const address = this.server.address();
    const port = typeof address === 'object' && address ? address.port : this.opts.port;
    this.opts.logger.info({ host: this.opts.host, port }, 'jt808 gateway listening');
    return port;
  }

  stats(): { connections: number; authenticated: number } {
    return { connections: this.connections.size, authenticated: this.byDevice.size };
  }

  /** The authenticated session of a device, if it is connected. */
  sessionOf(deviceId: string): Session | undefined {
    return this.byDevice.get(deviceId)?.session;
  }

  /** Ends a device's connection (its secret changed, it was disabled or deleted). */
  dropDeviceSessions(deviceId: string): void {
    const c = this.byDevice.get(deviceId);
    if (c !== undefined) this.end(c, 'dropped');
  }

  /**
   * Stops accepting, lets location messages under way reach their reply for up to `graceMs`, then
   * closes every connection and settles the commands still waiting (`cancelled`). Messages arriving
   * meanwhile are not taken (no reply: the terminal resends).
   */
  async close(graceMs = 5000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.underWay > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.onDrained = resolve;
        timer = setTimeout(resolve, graceMs);
      });
      clearTimeout(timer);
      this.onDrained = undefined;
    }
    for (const c of this.connections) c.socket.destroy();
    // the connections are gone: a command still waiting cannot be answered any more
    this.commands.cancelWaiting('the gateway stopped: its connection to the terminal was closed');
    await closed;
  }

  private accept(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const { opts } = this;
    const c: Connection = {
      socket,
      splitter: new FrameSplitter(),
      onSplit: (event) => this.onSplit(c, event),
      assembler: new SubPackageAssembler(opts.subpackages ?? DEFAULT_ASSEMBLER_LIMITS),
      garbage: 0,
      paused: { write: false, inflight: false },
      corked: false,
      session: undefined as unknown as Session,
    };
    c.session = new Session({
      registry: opts.registry,
      ingest: opts.ingest,
      metrics: this.metrics,
      send: (frame) => this.write(c, frame),
      refuse: (refusal, header, frame) => this.refuse(c, refusal, header, frame),
      bound: (_session, device) => this.bind(c, device),
      commandReply: (session, reply) => this.commands.onReply(session, reply),
      allowUnauthenticated: opts.allowUnauthenticated ?? false,
      closing: () => this.closing,
      end: (cause) => this.end(c, cause),
      settled: () => this.settled(c),
      logger: opts.logger,
    });
    this.connections.add(c);
    this.metrics.connections.inc();
    socket.setTimeout(opts.idleTimeoutMs ?? 180_000);
    socket.on('timeout', () => this.end(c, 'idle'));
    socket.on('data', (chunk) => this.onData(c, chunk));
    socket.on('drain', () => this.resume(c, 'write'));
    socket.on('error', (err) => opts.logger.debug({ err: err.message }, 'jt808 socket error'));
    socket.on('close', () => {
      this.connections.delete(c);
      this.metrics.connections.dec();
      const id = c.session.device?.id;
      if (id !== undefined && this.byDevice.get(id) === c) {
        this.byDevice.delete(id);
        opts.onSession?.(id, false);
      }
    });
  }

  private onData(c: Connection, chunk: Buffer): void {
    c.splitter.push(chunk, c.onSplit);
  }

  private onSplit(c: Connection, event: SplitEvent): boolean | undefined {
    if (event.kind === 'garbage') {
      this.refuse(
        c,
        { reason: 'garbage', detail: `${event.bytes} byte(s) outside a frame` },
        undefined,
        Buffer.alloc(0),
      );
      return undefined;
    }
    if (event.kind === 'too_long') {
      this.refuse(
        c,
        { reason: 'frame_too_long', detail: `${event.bytes} bytes without a closing 0x7e` },
        undefined,
        Buffer.alloc(0),
      );
      return undefined;
    }
    // the escaped content; the dead letter puts the delimiters back
    const frame = event.content;
    const result = decodeFrame(event.content);
    if (!result.ok) {
      this.refuse(c, { reason: result.reason, detail: result.detail }, result.header, frame);
      return false;
    }
    if (c.garbage > 0) c.garbage--;
    const assembled = c.assembler.add(result.packet, this.now());
    if (assembled.kind === 'pending') return true;
    if (assembled.kind === 'overflow') {
      this.refuse(
        c,
        { reason: 'subpackage_overflow', detail: assembled.detail },
        result.packet.header,
        frame,
      );
      return true;
    }
    const { packet, serials } = assembled.message;
    // settled() comes back for it once it is handled (never within handle(): it is asynchronous)
    this.underWay++;
    void c.session.handle(packet, frame, serials);
    // location messages under way, per connection: backpressure
    if (c.session.inflight >= this.maxInflight() && !c.paused.inflight) {
      c.paused.inflight = true;
      this.metrics.backpressure.labels('inflight').inc();
      c.socket.pause();
    }
    return true;
  }

  private maxInflight(): number {
    return this.opts.maxInflight ?? 64;
  }

  /** a message of `c` is handled (Session deps.settled) */
  private settled(c: Connection): void {
    this.underWay--;
    if (c.paused.inflight && c.session.inflight < this.maxInflight() / 2) this.resume(c, 'inflight');
    if (this.underWay === 0) this.onDrained?.();
  }

  private write(c: Connection, frame: Buffer): void {
    if (c.socket.destroyed) return;
    // A spool commit makes many locations durable at once, so up to the window's 8 replies of one
    // terminal are written in the same tick: corked, they leave in one writev instead of 8 writes (as
    // mqtt-packet does for aedes's PUBACKs). The write syscalls were 5.7 % of the platform's CPU in the
    // jt808 benchmark before.
    if (!c.corked) {
      c.corked = true;
      c.socket.cork();
      process.nextTick(uncork, c);
    }
    c.socket.write(frame);
    if (c.socket.writableLength > (this.opts.maxWriteBufferBytes ?? 64 * 1024) && !c.paused.write) {
      c.paused.write = true;
      this.metrics.backpressure.labels('write').inc();
      c.socket.pause();
    }
  }

  private resume(c: Connection, cause: 'write' | 'inflight'): void {
    c.paused[cause] = false;
    if (!c.paused.write && !c.paused.inflight && !c.socket.destroyed) c.socket.resume();
  }

  private bind(c: Connection, device: Device): void {
    const other = this.byDevice.get(device.id);
    if (other !== undefined && other !== c) {
      this.opts.logger.info(
        { device: device.id },
        'jt808 terminal connected again: the older connection is closed',
      );
      this.end(other, 'taken_over');
    }
    this.byDevice.set(device.id, c);
    if (other !== c) this.opts.onSession?.(device.id, true);
  }

  private refuse(
    c: Connection,
    refusal: { reason: Jt808Refusal; detail: string },
    header: Header | undefined,
    frame: Buffer,
  ): void {
    this.metrics.refused.labels(refusal.reason).inc();
    const device = c.session.device?.id ?? '';
    const n = this.refusalLog.hit();
    if (n > 0) this.opts.logger.warn({ ...refusal, device, refusals: n }, 'jt808 frame refused');
    try {
      const letter = buildJt808DeadLetter(
        refusal,
        jt808Topic(header?.phone, header?.msgId),
        device,
        frame.length > 0 ? withFlags(frame) : frame,
        this.now(),
      );
      this.opts.deadLetter(Buffer.from(JSON.stringify(letter)));
    } catch (err) {
      this.opts.logger.warn({ err }, 'jt808 dead letter could not be published');
    }
    // a terminal refused over and over is sending garbage, not frames
    if (refusal.reason !== 'not_authenticated' && refusal.reason !== 'unsupported_message') {
      c.garbage++;
      if (c.garbage > (this.opts.garbageLimit ?? 50)) this.end(c, 'garbage');
    }
  }

  private expireSubpackages(): void {
    const now = this.now();
    for (const c of this.connections) {
      if (c.assembler.pendingMessages === 0) continue;
      for (const dropped of c.assembler.expire(now)) {
        this.refuse(
          c,
          {
            reason: 'subpackage_timeout',
            detail: `message 0x${dropped.msgId.toString(16).padStart(4, '0')}: ${dropped.parts} of ${dropped.total} packets arrived`,
          },
          undefined,
          Buffer.alloc(0),
        );
      }
    }
  }

  private end(c: Connection, cause: string): void {
    if (c.socket.destroyed) return;
    this.metrics.connectionsClosed.labels(cause).inc();
    c.socket.destroy();
  }
}

function withFlags(content: Buffer): Buffer {
  const out = Buffer.alloc(content.length + 2);
  out[0] = FLAG;
  content.copy(out, 1);
  out[out.length - 1] = FLAG;
  return out;
}
