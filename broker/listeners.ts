import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import type { Aedes } from 'aedes';
import type { Logger } from 'pino';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { LogThrottle } from '../ingest/log-throttle.ts';
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
  /**
   * Most client sockets open at once over all listeners; beyond it a new socket is closed at accept
   * (no CONNACK: it has not said anything yet). Unlimited when undefined.
   */
  maxSockets?: number;
  /** called for each socket closed at accept for want of room */
  onSocketDropped?: () => void;
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
  /** client sockets open now, all listeners */
  openSockets(): number;
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

/** The sockets of every listener, against one limit: a descriptor is a descriptor, whatever its port. */
interface SocketBudget {
  open: number;
  max: number;
  onDrop: () => void;
}

/**
 * Tracks the raw sockets of a server (so close() can destroy them) and applies the socket budget:
 * Node's own `maxConnections` closes the socket before any JavaScript object is made for it (per
 * server, reported by 'drop'); the shared count covers the listeners together. `onSocket` gets the
 * sockets let in ('connection' fires for the raw socket of every listener kind: net, tls, http, https).
 */
function track(server: Server, budget: SocketBudget, onSocket?: (socket: Socket) => void): Entry {
  const sockets = new Set<Socket>();
  if (Number.isFinite(budget.max)) {
    server.maxConnections = budget.max;
    server.on('drop', budget.onDrop);
  }
  server.on('connection', (socket: Socket) => {
    if (budget.open >= budget.max) {
      budget.onDrop();
      socket.destroy();
      return;
    }
    budget.open++;
    sockets.add(socket);
    socket.once('close', () => {
      budget.open--;
      sockets.delete(socket);
    });
    onSocket?.(socket);
  });
  return { server, sockets };
}

/**
 * After bind, an 'error' on a listening server is a failed accept (EMFILE, ENFILE, ENOBUFS): without a
 * listener Node would throw it and end the process. The listener stays open; libuv drops the pending
 * connection and accepts again once descriptors are free.
 */
function keepListeningOnErrors(server: Server, name: string, logger: Logger, throttle: LogThrottle): void {
  server.on('error', (err: NodeJS.ErrnoException) => {
    const n = throttle.hit();
    if (n > 0)
      logger.warn({ listener: name, err: err.message, code: err.code, errors: n }, 'mqtt accept failed');
  });
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
  const budget: SocketBudget = {
    open: 0,
    max: opts.maxSockets ?? Number.POSITIVE_INFINITY,
    onDrop: () => opts.onSocketDropped?.(),
  };
  const acceptErrors = new LogThrottle();
  const bind = async (entry: Entry, port: number, name: string): Promise<number> => {
    entries.push(entry);
    const bound = await listen(entry.server, port, opts.host);
    keepListeningOnErrors(entry.server, name, logger, acceptErrors);
    return bound;
  };
  try {
    ports.tcpPort = await bind(track(createNetServer(), budget, handle), opts.port, 'tcp');

    if (opts.wsPort !== undefined) {
      const ws = track(createHttpServer(upgradeRequired), budget);
      attachWebSocket(ws, handle, opts.maxPacketBytes, logger);
      ports.wsPort = await bind(ws, opts.wsPort, 'ws');
    }
    if (tlsContext !== undefined && opts.tlsPort !== undefined) {
      const tls = track(
        createTlsServer(tlsContext, (socket) => handle(socket)),
        budget,
      );
      // a failed handshake is the client's problem; keep the listener quiet about it
      tls.server.on('tlsClientError', (err) => logger.debug({ err: err.message }, 'tls handshake failed'));
      ports.tlsPort = await bind(tls, opts.tlsPort, 'tls');
    }
    if (tlsContext !== undefined && opts.wssPort !== undefined) {
      const wss = track(createHttpsServer(tlsContext, upgradeRequired), budget);
      wss.server.on('tlsClientError', (err) => logger.debug({ err: err.message }, 'tls handshake failed'));
      attachWebSocket(wss, handle, opts.maxPacketBytes, logger);
      ports.wssPort = await bind(wss, opts.wssPort, 'wss');
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
    openSockets: () => budget.open,
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
