/**
 * A TCP relay on loopback in front of one server, that a test can cut: `cut()` closes every connection
 * through it and refuses new ones (accepted and closed at once, as a peer gone from the network looks to
 * a client that keeps reconnecting), `restore()` lets connections through again. A cluster test puts one
 * in front of each NATS node for one process (given the relays' URLs, on nodes that advertise no other
 * address: startNatsCluster's noAdvertise) to cut that process off from NATS and nothing else.
 */
import net from 'node:net';

export interface TcpCut {
  readonly port: number;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpCut(target: { host: string; port: number }): Promise<TcpCut> {
  let open = true;
  const pairs = new Set<[net.Socket, net.Socket]>();
  const server = net.createServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const s of pair) {
      s.on('error', end);
      s.on('close', end);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const cut = () => {
    open = false;
    for (const [a, b] of [...pairs]) {
      a.destroy();
      b.destroy();
    }
  };
  return {
    port: (server.address() as net.AddressInfo).port,
    cut,
    restore() {
      open = true;
    },
    async close() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
