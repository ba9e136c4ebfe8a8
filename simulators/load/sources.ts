import { isIP } from 'node:net';

/**
 * Source addresses for the load generator's connections. A TCP connection is identified by source
 * address and port, broker address and port: towards one broker address:port, one source address has
 * the ephemeral port range (about 28,000 on Linux) and no more. Beyond it connect() fails with
 * EADDRNOTAVAIL, and long before that the kernel's search for a free port makes every connect() slow
 * enough to stall the generator's event loop (seen at 40,000 connections on loopback: most of the CPU
 * in connect(), the rate collapsing). Spreading the vehicles over several source addresses gives each
 * its own port range: on loopback any 127.x.y.z address works without configuration.
 */

/** "127.0.0.1-127.0.0.8" (a range of the last octet) or "10.0.0.5,10.0.0.6" */
export function parseSourceAddresses(spec: string): string[] {
  const out: string[] = [];
  for (const part of spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const range = /^(\d+\.\d+\.\d+\.)(\d+)-(?:\d+\.\d+\.\d+\.)?(\d+)$/.exec(part);
    if (range) {
      const [, prefix, from, to] = range as unknown as [string, string, string, string];
      const a = Number(from);
      const b = Number(to);
      if (!(a <= b && b <= 255))
        throw new Error(`source address range ${part}: expected a.b.c.X-Y with X <= Y <= 255`);
      for (let i = a; i <= b; i++) out.push(`${prefix}${i}`);
    } else if (isIP(part) !== 0) {
      out.push(part);
    } else {
      throw new Error(`source address ${JSON.stringify(part)} is not an IP address or a.b.c.X-Y range`);
    }
  }
  if (out.length === 0) throw new Error('no source address given');
  return out;
}

/** vehicles one source address is given, well inside the port range (ports in TIME_WAIT, other users) */
const SHARE_OF_PORTS = 0.6;

/**
 * Without --source-addresses: towards a loopback broker, as many 127.0.0.x addresses as keep each
 * under 60 % of the port range (none when one is enough); elsewhere none (the OS picks), since a
 * remote broker is reached from this machine's own addresses only.
 */
export function autoSourceAddresses(url: string, vehicles: number, ports: number | undefined): string[] {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return [];
  }
  if (!/^127\.\d+\.\d+\.\d+$/.test(host) && host !== 'localhost') return [];
  const perAddress = Math.floor((ports ?? 28_232) * SHARE_OF_PORTS);
  const n = Math.ceil(vehicles / perAddress);
  if (n <= 1) return [];
  return Array.from({ length: Math.min(n, 254) }, (_, i) => `127.0.0.${i + 1}`);
}
