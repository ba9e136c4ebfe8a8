/**
 * Test launcher for a REAL Mosquitto broker (Debian package `mosquitto`, /usr/sbin/mosquitto), the
 * external-broker path of ingest. Anonymous access on 127.0.0.1 on a free port, no persistence file
 * (sessions live in memory for the life of the process, which is what the tests need).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { ManagedProcess } from './process.ts';

export const MOSQUITTO_BIN = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';

export interface MosquittoServer {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
  logs(): string;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function startMosquitto(): Promise<MosquittoServer> {
  const dir = await mkdtemp(join(tmpdir(), 'mosquitto-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  await writeFile(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      // keep QoS 1 messages for a disconnected persistent-session subscriber (default 1000 is too few)
      'max_queued_messages 100000',
      'log_dest stdout',
      'log_type error',
      'log_type warning',
      '',
    ].join('\n'),
  );
  const proc = new ManagedProcess('mosquitto', MOSQUITTO_BIN, ['-c', conf]);
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (!proc.running) throw new Error(`mosquitto exited before it was ready:\n${proc.tail()}`);
    if (Date.now() > deadline)
      throw new Error(`mosquitto not listening on ${port} after 10 s:\n${proc.tail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    logs: () => proc.tail(),
    stop: async () => {
      await proc.stop(5000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
