import { connect } from 'node:net';

/**
 * Does anything listen where the devices are to publish? A TCP connection to the broker's host and port
 * (mqtt:// and mqtts://; ws:// and wss:// on their HTTP port), before a run of minutes that would only
 * report every device as not connected. Undefined when it answered; otherwise why not, as the operating
 * system says it (`connect ECONNREFUSED 127.0.0.1:1883`, or a timeout).
 */
export function brokerUnreachable(url: string, timeoutMs = 5_000): Promise<string | undefined> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.resolve(`not a URL: ${url}`);
  }
  const defaults: Record<string, number> = { 'mqtt:': 1883, 'mqtts:': 8883, 'ws:': 80, 'wss:': 443 };
  const port = target.port ? Number(target.port) : defaults[target.protocol];
  if (port === undefined) return Promise.resolve(`unknown scheme ${target.protocol} (mqtt, mqtts, ws, wss)`);
  const host = target.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`no answer from ${host}:${port} within ${timeoutMs / 1000} s`);
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      resolve(err.message);
    });
  });
}
