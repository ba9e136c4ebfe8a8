import { createServer, type Socket } from 'node:net';
import { pathToFileURL } from 'node:url';

/**
 * The cheapest possible MQTT peer, for measuring a sender on its own: it answers CONNECT with CONNACK,
 * PINGREQ with PINGRESP and QoS 1 PUBLISH with PUBACK, counts PUBLISH packets, and discards everything
 * else. It reads only the fixed header (and the packet id of QoS 1 publishes), so it is far cheaper per
 * message than any broker and the sender stays the bottleneck.
 *
 * Run as a child process with an IPC channel (`node --import tsx bench/tcp-sink.ts`): it sends
 * `{port}` once listening and answers `{cmd:'stats'}` with `{publishes, bytes, connections}`.
 */

export interface SinkStats {
  publishes: number;
  bytes: number;
  connections: number;
}

const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00]);
const PINGRESP = Buffer.from([0xd0, 0x00]);

export function startSink(
  port = 0,
  host = '127.0.0.1',
): Promise<{ port: number; stats: () => SinkStats; close: () => void }> {
  const stats: SinkStats = { publishes: 0, bytes: 0, connections: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    stats.connections++;
    socket.setNoDelay(true);
    let tail: Buffer | undefined;
    socket.on('data', (chunk: Buffer) => {
      stats.bytes += chunk.length;
      const buf = tail ? Buffer.concat([tail, chunk]) : chunk;
      tail = undefined;
      let off = 0;
      while (off < buf.length) {
        // fixed header: type byte, remaining length (1-4 bytes, 7 bits each)
        let len = 0;
        let mul = 1;
        let i = off + 1;
        let complete = false;
        for (let n = 0; n < 4 && i < buf.length; n++, i++) {
          const b = buf[i] as number;
          len += (b & 0x7f) * mul;
          mul *= 128;
          if ((b & 0x80) === 0) {
            complete = true;
            i++;
            break;
          }
        }
        if (!complete || i + len > buf.length) break;
        const type = (buf[off] as number) >> 4;
        if (type === 3) {
          stats.publishes++;
          const qos = ((buf[off] as number) >> 1) & 3;
          if (qos === 1) {
            const topicLen = ((buf[i] as number) << 8) | (buf[i + 1] as number);
            const idAt = i + 2 + topicLen;
            socket.write(Buffer.from([0x40, 0x02, buf[idAt] as number, buf[idAt + 1] as number]));
          }
        } else if (type === 1) {
          socket.write(CONNACK);
        } else if (type === 12) {
          socket.write(PINGRESP);
        } else if (type === 14) {
          socket.end();
        }
        off = i + len;
      }
      if (off < buf.length) tail = buf.subarray(off);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  return new Promise((resolve) => {
    server.listen(port, host, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : port;
      resolve({
        port: bound,
        stats: () => ({ ...stats }),
        close: () => {
          for (const s of sockets) s.destroy();
          server.close();
        },
      });
    });
  });
}

// As a child process: report the port and answer stats requests over IPC.
if (process.send && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const sink = await startSink(Number(process.env.SINK_PORT ?? 0));
  process.send({ port: sink.port });
  process.on('message', (m: { cmd?: string }) => {
    if (m.cmd === 'stats') process.send?.({ stats: sink.stats() });
    if (m.cmd === 'close') {
      sink.close();
      process.disconnect();
    }
  });
  process.on('disconnect', () => {
    sink.close();
    process.exit(0);
  });
}
