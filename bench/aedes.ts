import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { Aedes, type AedesOptions } from 'aedes';

/** A bare aedes broker on a TCP port (0 = any free port): default options, no auth, no hooks. */
export interface BareBroker {
  aedes: Aedes;
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function startBareAedes(port = 0, options?: AedesOptions): Promise<BareBroker> {
  const aedes = await Aedes.createBroker(options);
  const server = createServer(aedes.handle);
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return {
    aedes,
    server,
    port: address.port,
    url: `mqtt://127.0.0.1:${address.port}`,
    close: async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => aedes.close(() => r()));
      // close() waits for open sockets; aedes.close() has ended its clients by now
      await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
    },
  };
}
