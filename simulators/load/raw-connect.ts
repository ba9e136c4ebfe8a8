import { connect } from 'node:net';

/**
 * One MQTT 3.1.1 CONNECT over a raw TCP socket, and its CONNACK return code: what a login flood (bench/
 * login-flood-child.ts) and the login tests send, from any local address (127.0.x.y stands for devices
 * behind many NATs), without a client library's reconnects and timers. MQTT 3.1.1 section 3.1 (CONNECT)
 * and 3.2 (CONNACK).
 */

function utf8Field(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

function remainingLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

/** CONNECT: protocol level 4, clean session, user name and password flags, keep alive 60 s */
export function connectPacket(clientId: string, username: string, password: string): Buffer {
  const variable = Buffer.concat([utf8Field('MQTT'), Buffer.from([4, 0xc2, 0, 60])]);
  const payload = Buffer.concat([utf8Field(clientId), utf8Field(username), utf8Field(password)]);
  const body = Buffer.concat([variable, payload]);
  return Buffer.concat([Buffer.from([0x10]), remainingLength(body.length), body]);
}

export interface RawConnectOptions {
  host?: string;
  port: number;
  localAddress?: string;
  clientId: string;
  username: string;
  password: string;
  /** called when the CONNECT has been written */
  onSent?: () => void;
}

/**
 * Sends the CONNECT and resolves with the CONNACK's return code (0 accepted, 1-5 refused), or 'closed'
 * when the socket closed without one. The socket is closed once the CONNACK is read.
 */
export function rawConnect(opts: RawConnectOptions): Promise<number | 'closed'> {
  return new Promise((resolve) => {
    const socket = connect({
      host: opts.host ?? '127.0.0.1',
      port: opts.port,
      ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
    });
    let buf = Buffer.alloc(0);
    let answered = false;
    socket.on('connect', () =>
      socket.write(connectPacket(opts.clientId, opts.username, opts.password), () => opts.onSent?.()),
    );
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      // CONNACK: type 2 (0x20), remaining length 2, acknowledge flags, return code
      if (!answered && buf.length >= 4 && buf[0] === 0x20) {
        answered = true;
        resolve(buf[3]!);
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (!answered) resolve('closed');
    });
  });
}
