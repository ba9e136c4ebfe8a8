import net from 'node:net';
import { encodeGbk } from '../../gateway/jt808/codec/bytes.ts';
import { FrameSplitter } from '../../gateway/jt808/codec/frame.ts';
import type { Edition } from '../../gateway/jt808/codec/header.ts';
import { MSG } from '../../gateway/jt808/codec/ids.ts';
import { encode0001 } from '../../gateway/jt808/codec/msg-0001.ts';
import { encode0100 } from '../../gateway/jt808/codec/msg-0100.ts';
import { encode0102 } from '../../gateway/jt808/codec/msg-0102.ts';
import { encodeLocation, type LocationInput } from '../../gateway/jt808/codec/msg-0200.ts';
import { encode0704 } from '../../gateway/jt808/codec/msg-0704.ts';
import { decode8001 } from '../../gateway/jt808/codec/msg-8001.ts';
import { decode8100 } from '../../gateway/jt808/codec/msg-8100.ts';
import { decodeFrame, encodeFrame, type Packet } from '../../gateway/jt808/codec/packet.ts';

/**
 * A JT/T 808 terminal over TCP, for the simulator, the tests and the benchmark: registers,
 * authenticates, reports and answers the platform's commands (0x0001; 0x8201 with a 0x0201 of its last
 * location) as a terminal does. Every request resolves with the platform's answer to it, matched by
 * reply serial (JT/T 808-2013 §8.2, §8.6).
 */

export interface TerminalOptions {
  host: string;
  port: number;
  /** terminal phone number (digits) */
  phone: string;
  edition?: Edition;
  terminalId?: string;
  plate?: string;
  /** how long a request waits for its answer, ms (default 10 s) */
  replyTimeoutMs?: number;
}

export interface PlatformCommand {
  msgId: number;
  serial: number;
  body: Buffer;
}

interface Waiter {
  resolve: (p: Packet) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class Jt808Terminal {
  readonly edition: Edition;
  private socket: net.Socket | undefined;
  private serial = 0;
  private readonly splitter = new FrameSplitter();
  /** `${replyMsgId}:${replySerial}` → waiter */
  private readonly waiters = new Map<string, Waiter>();
  /** platform messages that are not answers: commands */
  readonly commands: PlatformCommand[] = [];
  onCommand: ((c: PlatformCommand) => void) | undefined;
  /** last location reported, answered to 0x8201 */
  lastLocation: LocationInput | undefined;
  /** answer commands with 0x0001 success (and 0x8201 with 0x0201) */
  autoAnswer = true;
  closed: Promise<void> = Promise.resolve();
  /** the socket is corked until the next tick (send) */
  private corked = false;

  constructor(private readonly opts: TerminalOptions) {
    this.edition = opts.edition ?? '2013';
  }

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: this.opts.host, port: this.opts.port, noDelay: true });
      this.socket = socket;
      this.closed = new Promise((done) => socket.once('close', () => done()));
      socket.once('connect', () => {
        socket.off('error', reject);
        socket.on('error', () => undefined);
        resolve();
      });
      socket.once('error', reject);
      socket.on('data', (chunk) => this.onData(chunk));
      socket.on('close', () => {
        for (const [key, w] of this.waiters) {
          clearTimeout(w.timer);
          w.reject(new Error(`connection closed before the answer to ${key}`));
        }
        this.waiters.clear();
      });
    });
  }

  get connected(): boolean {
    return this.socket !== undefined && !this.socket.destroyed;
  }

  close(): Promise<void> {
    this.socket?.end();
    this.socket?.destroySoon();
    return this.closed;
  }

  destroy(): void {
    this.socket?.destroy();
  }

  /** raw bytes, as they are (tests: garbage, split frames) */
  write(bytes: Buffer): void {
    this.socket?.write(bytes);
  }

  /** one message frame; returns its serial */
  send(msgId: number, body: Buffer): number {
    const serial = this.serial;
    this.serial = (this.serial + 1) & 0xffff;
    const socket = this.socket;
    // The frames sent in one tick leave in one writev, as mqtt.js's publishes do (mqtt-packet corks the
    // socket until the next tick): a terminal answering 8 replies with 8 reports costs the platform one
    // read, not 8, the same as the MQTT devices it is compared with in the benchmark.
    if (socket !== undefined && !this.corked && !socket.destroyed) {
      this.corked = true;
      socket.cork();
      process.nextTick(() => {
        this.corked = false;
        socket.uncork();
      });
    }
    this.write(encodeFrame({ msgId, edition: this.edition, phone: this.opts.phone, serial, body }));
    return serial;
  }

  /** a frame and the platform's answer to it (0x8001, or 0x8100 for 0x0100) */
  request(msgId: number, body: Buffer): Promise<Packet> {
    const answerId = msgId === MSG.REGISTER ? MSG.REGISTER_ANSWER : MSG.PLATFORM_REPLY;
    const serial = this.serial;
    const key = `${answerId}:${serial}`;
    const answer = new Promise<Packet>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(key);
        reject(new Error(`no answer to 0x${msgId.toString(16)} serial ${serial}`));
      }, this.opts.replyTimeoutMs ?? 10_000);
      this.waiters.set(key, { resolve, reject, timer });
    });
    this.send(msgId, body);
    return answer;
  }

  /** 0x0100 → the 0x8100 result and authentication code */
  async register(): Promise<{ result: number; authCode?: string }> {
    const body = encode0100(
      {
        province: 34,
        city: 100,
        maker: 'CWSIM',
        model: 'citywatch-muck-1',
        terminalId: this.opts.terminalId ?? 'SIM0001',
        plateColor: 2,
        plateGbk: encodeGbk(this.opts.plate ?? '皖A00000'),
      },
      this.edition,
    );
    const answer = decode8100((await this.request(MSG.REGISTER, body)).body);
    return answer.authCode === undefined
      ? { result: answer.result }
      : { result: answer.result, authCode: answer.authCode };
  }

  /** 0x0102 → the 0x8001 result (0 success) */
  async authenticate(authCode: string): Promise<number> {
    const body = encode0102({ authCode, imei: '860000000000001', softwareVersion: 'cw-sim-1' }, this.edition);
    return decode8001((await this.request(MSG.AUTHENTICATE, body)).body).result;
  }

  /** 0x0200 → the 0x8001 result (0: durable) */
  async report(location: LocationInput): Promise<number> {
    this.lastLocation = location;
    return decode8001((await this.request(MSG.LOCATION, encodeLocation(location))).body).result;
  }

  /** 0x0704 → the 0x8001 result */
  async batch(type: 0 | 1, locations: readonly LocationInput[]): Promise<number> {
    const body = encode0704(
      type,
      locations.map((l) => encodeLocation(l)),
    );
    return decode8001((await this.request(MSG.LOCATION_BATCH, body)).body).result;
  }

  async heartbeat(): Promise<number> {
    return decode8001((await this.request(MSG.HEARTBEAT, Buffer.alloc(0))).body).result;
  }

  async deregister(): Promise<number> {
    return decode8001((await this.request(MSG.DEREGISTER, Buffer.alloc(0))).body).result;
  }

  private onData(chunk: Buffer): void {
    this.splitter.push(chunk, (e) => {
      if (e.kind !== 'frame') return undefined;
      const r = decodeFrame(e.content);
      if (!r.ok) return false;
      this.onPacket(r.packet);
      return true;
    });
  }

  private onPacket(p: Packet): void {
    const { msgId } = p.header;
    if (msgId === MSG.PLATFORM_REPLY || msgId === MSG.REGISTER_ANSWER) {
      if (p.body.length < 2) return;
      const key = `${msgId}:${p.body.readUInt16BE(0)}`;
      const w = this.waiters.get(key);
      if (w === undefined) return;
      this.waiters.delete(key);
      clearTimeout(w.timer);
      w.resolve(p);
      return;
    }
    const command = { msgId, serial: p.header.serial, body: p.body };
    this.commands.push(command);
    this.onCommand?.(command);
    if (!this.autoAnswer) return;
    if (msgId === MSG.QUERY_LOCATION && this.lastLocation !== undefined) {
      const loc = encodeLocation(this.lastLocation);
      const body = Buffer.alloc(2 + loc.length);
      body.writeUInt16BE(p.header.serial, 0);
      loc.copy(body, 2);
      this.send(MSG.LOCATION_ANSWER, body);
      return;
    }
    this.send(MSG.TERMINAL_REPLY, encode0001({ replySerial: p.header.serial, replyId: msgId, result: 0 }));
  }
}
