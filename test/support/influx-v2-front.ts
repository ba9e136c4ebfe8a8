import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A minimal InfluxDB 2.x front for influxd 1.6: checks `Authorization: Token <token>`, maps
 * `POST /api/v2/write?org=&bucket=&precision=` onto `/write?db=<bucket>&precision=`, passes `/query` and
 * `/ping` through, answers 404 on `/health` (the adapter then falls back to /ping, as for VictoriaMetrics).
 */
export async function startV2Front(
  upstream: () => string,
  token: string,
): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const url = new URL(req.url ?? '/', 'http://front');
        const send = (status: number, body = ''): void => {
          res.writeHead(status, { 'content-type': 'application/json' }).end(body);
        };
        if (url.pathname === '/health') return send(404, '{"message":"not found"}');
        if (url.pathname !== '/ping' && req.headers.authorization !== `Token ${token}`)
          return send(401, '{"code":"unauthorized","message":"unauthorized access"}');
        let target: URL;
        if (url.pathname === '/api/v2/write') {
          const bucket = url.searchParams.get('bucket');
          if (!bucket || !url.searchParams.get('org'))
            return send(400, '{"message":"org and bucket required"}');
          target = new URL(`${upstream()}/write`);
          target.searchParams.set('db', bucket);
          target.searchParams.set('precision', url.searchParams.get('precision') ?? 'ns');
        } else if (url.pathname === '/query' || url.pathname === '/ping') {
          target = new URL(`${upstream()}${url.pathname}${url.search}`);
        } else {
          return send(404, '{"message":"not found"}');
        }
        try {
          const answer = await fetch(target, {
            method: req.method,
            headers: req.headers['content-type'] ? { 'content-type': req.headers['content-type'] } : {},
            body: req.method === 'POST' ? Buffer.concat(chunks) : undefined,
          });
          res.writeHead(answer.status, {
            'content-type': answer.headers.get('content-type') ?? 'text/plain',
          });
          res.end(Buffer.from(await answer.arrayBuffer()));
        } catch {
          send(502, '{"message":"upstream unreachable"}');
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}
