/**
 * A wrong-password login flood, as its own process (bench/login-flood.ts starts it): `--connections N`
 * sockets, each sending an MQTT 3.1.1 CONNECT with a known device id (`--ids a,b,...`, round robin) and
 * a wrong password, reading the CONNACK, closing and connecting again at once, until SIGTERM. The
 * sockets are spread over `--sources` local addresses (127.0.x.y) the way devices behind many NATs
 * would be. Prints one JSON line on exit: CONNACKs by return code, sockets closed without one, and the
 * time the first CONNACK came.
 *
 * Raw TCP with a hand-encoded CONNECT (simulators/load/raw-connect.ts) rather than mqtt.js: a flood costs the
 * flooder next to nothing, as it would an attacker.
 */
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { connectPacket } from '../simulators/load/raw-connect.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    connections: { type: 'string', default: '500' },
    ids: { type: 'string' },
    sources: { type: 'string', default: '' },
  },
});
// --port P, or none with an IPC channel: started ahead (its start is not in the measured windows), it
// says {ready: true} and floods once the parent sends {port: P}
const awaitPort = values.port === undefined && process.send !== undefined;
let port = Number(values.port);
const connections = Number(values.connections);
const ids = (values.ids ?? '').split(',').filter((s) => s.length > 0);
const sources = values.sources.split(',').filter((s) => s.length > 0);
if ((!awaitPort && !Number.isInteger(port)) || ids.length === 0) {
  process.stderr.write(
    'usage: login-flood-child --port P --ids a,b --connections N [--sources 127.0.1.1,...]\n' +
      '  (without --port, from a parent with an IPC channel: the port comes as a message {port})\n',
  );
  process.exit(2);
}

const codes: Record<string, number> = {};
let closedWithout = 0;
let firstConnackAt: number | undefined;
let started = Date.now();
let stopping = false;
const open = new Set<Socket>();
let attempt = 0;

function loop(slot: number): void {
  if (stopping) return;
  const id = ids[attempt++ % ids.length]!;
  const localAddress = sources.length > 0 ? sources[slot % sources.length] : undefined;
  const socket = connect({ host: values.host, port, ...(localAddress ? { localAddress } : {}) });
  open.add(socket);
  let answered = false;
  let buf = Buffer.alloc(0);
  socket.on('connect', () => socket.write(connectPacket(`flood-${slot}-${attempt}`, id, 'wrong-password')));
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    // CONNACK: 0x20, remaining length 2, session present, return code
    if (!answered && buf.length >= 4 && buf[0] === 0x20) {
      answered = true;
      firstConnackAt ??= Date.now();
      const code = String(buf[3]);
      codes[code] = (codes[code] ?? 0) + 1;
      socket.destroy();
    }
  });
  let failed = false;
  socket.on('error', () => {
    failed = true;
  });
  socket.on('close', () => {
    open.delete(socket);
    if (!answered) closedWithout++;
    if (stopping) return;
    // at once, as a flood would; a short pause only after a socket error, so a refused port does not spin
    if (failed && !answered) setTimeout(() => loop(slot), 50);
    else setImmediate(() => loop(slot));
  });
}

function flood(): void {
  started = Date.now();
  for (let i = 0; i < connections; i++) loop(i);
  process.stderr.write(`[flood] ${connections} connections flooding port ${port}\n`);
}

if (awaitPort) {
  process.once('message', (m: { port?: number }) => {
    port = Number(m.port);
    if (!Number.isInteger(port)) {
      process.stderr.write(`login-flood-child: no port in ${JSON.stringify(m)}\n`);
      process.exit(2);
    }
    // the channel would keep the process alive after SIGTERM's exit otherwise; it is not needed any more
    process.disconnect?.();
    flood();
  });
  process.send?.({ ready: true });
} else flood();

process.on('SIGTERM', () => {
  stopping = true;
  for (const s of open) s.destroy();
  process.stdout.write(
    `${JSON.stringify({
      connacks: codes,
      closedWithoutConnack: closedWithout,
      attempts: attempt,
      firstConnackMs: firstConnackAt === undefined ? null : firstConnackAt - started,
      ms: Date.now() - started,
    })}\n`,
  );
  process.exit(0);
});
