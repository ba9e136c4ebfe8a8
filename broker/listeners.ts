import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import type { Aedes } from 'aedes';
import type { Logger } from 'pino';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { guardPacketSize } from './packet-limit.ts';

/** PEM files of the broker's TLS identity. `caFile` adds the issuing chain presented to clients. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  caFile?: string;
}

export interface ListenOptions {
  host: string;
  /** MQTT over TCP (always on); 0 picks a free port */
  port: number;
  /** MQTT over WebSocket at path `/mqtt`; off when undefined */
  wsPort?: number;
  tls?: TlsFiles;
  /** MQTT over TLS; needs `tls` */
  tlsPort?: number;
  /** MQTT over secure WebSocket at `/mqtt`; needs `tls` */
  wssPort?: number;
  /** largest Remaining Length accepted in one packet; larger cuts the connection (packet-limit.ts) */
  maxPacketBytes: number;
  onOversize: (reason: string) => void;
}

export interface ListeningPorts {
  tcpPort: number;
  wsPort?: number;
  tlsPort?: number;
  wssPort?: number;
}

export const WS_PATH = '/mqtt';

export interface Listeners {
  ports: ListeningPorts;
  /** stop accepting new connections (open ones stay) */
  stopAccepting(): void;
  /** destroy whatever connection is left and wait for the servers to close */
  close(): Promise<void>;
}

interface Entry {
  server: Server;
  sockets: Set<Socket>;
  wss?: WebSocketServer;
  /** set by the first close request; resolves once the server has closed (or was never running) */
  closed?: Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const address = server.address();
      if (address === null || typeof address === 'string') reject(new Error('listener has no TCP address'));
      else resolve(address.port);
    });
  });
}

function track(server: Server): Entry {
  const sockets = new Set<Socket>();
  // 'connection' fires for the raw socket of every listener kind (net, tls, http, https)
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return { server, sockets };
}

function upgradeRequired(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
  res.end(`MQTT over WebSocket: connect to ${WS_PATH}\n`);
}

type Handle = (stream: Duplex, req?: IncomingMessage) => void;

function attachWebSocket(entry: Entry, handle: Handle, maxPacketBytes: number, logger: Logger): void {
  const wss = new WebSocketServer({
    server: entry.server as ReturnType<typeof createHttpServer>,
    path: WS_PATH,
    // ws buffers whole messages (default cap 100 MiB); an MQTT packet plus its header fits in this
    maxPayload: maxPacketBytes + 5,
  });
  wss.on('connection', (ws, req) => {
    const stream = createWebSocketStream(ws);
    // aedes attaches its own error handling once it takes the stream; this covers the gap before that
    stream.on('error', (err) => logger.debug({ err: err.message }, 'websocket stream error'));
    handle(stream, req);
  });
  wss.on('error', (err) => logger.warn({ err }, 'websocket server error'));
  entry.wss = wss;
}

/**
 * Starts the listeners: TCP always, WebSocket, TLS and secure WebSocket when configured. Every port may
 * be 0; the ports actually bound are returned. If one listener cannot bind, the others are closed and
 * the error is thrown.
 */
export async function startListeners(aedes: Aedes, opts: ListenOptions, logger: Logger): Promise<Listeners> {
  if ((opts.tlsPort !== undefined || opts.wssPort !== undefined) && opts.tls === undefined) {
    throw new Error('tlsPort/wssPort need tls: { certFile, keyFile }');
  }
  const tlsContext = opts.tls && {
    cert: readFileSync(opts.tls.certFile),
    key: readFileSync(opts.tls.keyFile),
    ...(opts.tls.caFile !== undefined ? { ca: readFileSync(opts.tls.caFile) } : {}),
  };

  // Every client stream passes the packet-size guard before aedes parses it.
  const handle: Handle = (stream, req) => {
    guardPacketSize(stream, opts.maxPacketBytes, opts.onOversize);
    aedes.handle(stream, req);
  };
  const entries: Entry[] = [];
  const ports: Partial<ListeningPorts> = {};
  try {
    const tcp = track(createNetServer((socket) => handle(socket)));
    entries.push(tcp);
    ports.tcpPort = await listen(tcp.server, opts.port, opts.host);

    if (opts.wsPort !== undefined) {
      const ws = track(createHttpServer(upgradeRequired));
      attachWebSocket(ws, handle, opts.maxPacketBytes, logger);
      entries.push(ws);
      ports.wsPort = await listen(ws.server, opts.wsPort, opts.host);
    }
    if (tlsContext !== undefined && opts.tlsPort !== undefined) {
      const tls = track(createTlsServer(tlsContext, (socket) => handle(socket)));
      // a failed handshake is the client's problem; keep the listener quiet about it
      tls.server.on('tlsClientError', (err) => logger.debug({ err: err.message }, 'tls handshake failed'));
      entries.push(tls);
      ports.tlsPort = await listen(tls.server, opts.tlsPort, opts.host);
    }
    if (tlsContext !== undefined && opts.wssPort !== undefined) {
      const wss = track(createHttpsServer(tlsContext, upgradeRequired));
      wss.server.on('tlsClientError', (err) => logger.debug({ err: err.message }, 'tls handshake failed'));
      attachWebSocket(wss, handle, opts.maxPacketBytes, logger);
      entries.push(wss);
      ports.wssPort = await listen(wss.server, opts.wssPort, opts.host);
    }
  } catch (err) {
    await closeAll(entries);
    throw err;
  }

  return {
    ports: ports as ListeningPorts,
    stopAccepting() {
      for (const entry of entries) requestClose(entry);
    },
    close: () => closeAll(entries),
  };
}

/** server.close(cb): cb runs once every connection has ended, or at once (with an error) if not running */
function requestClose(entry: Entry): Promise<void> {
  entry.closed ??= new Promise<void>((resolve) => entry.server.close(() => resolve()));
  return entry.closed;
}

async function closeAll(entries: Entry[]): Promise<void> {
  const closing: Promise<void>[] = [];
  for (const entry of entries) {
    closing.push(requestClose(entry));
    if (entry.wss !== undefined) {
      for (const client of entry.wss.clients) client.terminate();
      entry.wss.close();
    }
    for (const socket of entry.sockets) socket.destroy();
  }
  await Promise.all(closing);
}
