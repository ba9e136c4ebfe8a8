/**
 * The integrator's tools of the journey test (test/api/journey.test.ts): a client that reaches only the
 * operations the OpenAPI document at /docs/json declares (a step fails if its operation is missing), the
 * city the integrator finds, and firm A's webhook receiver, which checks the Standard Webhooks signature
 * as the POST /webhooks description lays it out.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExecutionContext } from 'ava';
import { squareAround } from '../geometry.ts';
import { call, type Reply } from '../identity-world.ts';
import { SseClient } from '../sse.ts';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are navigated field by field
export type Json = any;

export const LAT = 31.82;

/** The receiver's own check of a Standard Webhooks signature, from the POST /webhooks description. */
export function signatureValid(secret: string, headers: IncomingHttpHeaders, body: string): boolean {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
  return signatures.split(' ').some((entry) => {
    const [version, sig] = entry.split(',');
    const given = Buffer.from(sig ?? '', 'base64');
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/** The operations of `doc` on the platform at `base`: `api` and `sse` refuse one the document lacks. */
export function docClient(base: string, doc: Json) {
  const api = async (
    token: string,
    method: string,
    template: string,
    opts: {
      params?: Record<string, string>;
      query?: string;
      body?: unknown;
      headers?: Record<string, string>;
    } = {},
  ): Promise<Reply> => {
    const op = doc.paths[template]?.[method.toLowerCase()];
    if (op === undefined) throw new Error(`/docs has no operation ${method} ${template}`);
    const path = template.replace(/\{(\w+)\}/g, (_m, name: string) => {
      const value = opts.params?.[name];
      if (value === undefined) throw new Error(`${template}: no value for {${name}}`);
      return encodeURIComponent(value);
    });
    return call(base, method, `${path}${opts.query ? `?${opts.query}` : ''}`, {
      token,
      ...(opts.body === undefined ? {} : { body: opts.body }),
      ...(opts.headers ? { headers: opts.headers } : {}),
    });
  };
  const ok = async (reply: Promise<Reply>, status: number, what: string): Promise<Json> => {
    const r = await reply;
    if (r.status !== status) throw new Error(`${what}: ${r.status} ${r.text.slice(0, 400)}`);
    return r.json;
  };
  const sse = (token: string, template: string, query = '') => {
    if (doc.paths[template]?.get === undefined) throw new Error(`/docs has no operation GET ${template}`);
    return SseClient.connect(`${base}${template}${query}`, { authorization: `Bearer ${token}` });
  };
  return { api, ok, sse };
}

export type DocClient = ReturnType<typeof docClient>;

/**
 * The city: origin and disposal sites, a route; firms A and B, a firm key for each (in this order: the
 * test's audit trail starts with these records). Returns the keys' secrets by firm.
 */
export async function seedCity({ api, ok }: DocClient, admin: string): Promise<Record<string, string>> {
  await ok(
    api(admin, 'POST', '/api/v1/sites', {
      body: {
        type: 'Feature',
        id: 'site-origin',
        geometry: { type: 'Polygon', coordinates: squareAround(117.2, LAT) },
        properties: { kind: 'origin', name: '测试工地' },
      },
    }),
    201,
    'origin site',
  );
  await ok(
    api(admin, 'POST', '/api/v1/sites', {
      body: {
        type: 'Feature',
        id: 'site-disposal',
        geometry: { type: 'Polygon', coordinates: squareAround(117.3, LAT) },
        properties: { kind: 'disposal', name: '测试消纳场' },
      },
    }),
    201,
    'disposal site',
  );
  await ok(
    api(admin, 'POST', '/api/v1/routes', {
      body: {
        type: 'Feature',
        id: 'route-main',
        geometry: {
          type: 'LineString',
          coordinates: [
            [117.2, LAT],
            [117.3, LAT],
          ],
        },
        properties: { name: '测试线路' },
      },
    }),
    201,
    'route',
  );
  const keyOf: Record<string, string> = {};
  for (const firm of ['firm-a', 'firm-b']) {
    await ok(
      api(admin, 'POST', '/api/v1/firms', { body: { id: firm, name: `${firm} 运输有限公司` } }),
      201,
      firm,
    );
    const created = await ok(
      api(admin, 'POST', '/api/v1/keys', {
        body: { name: `${firm} dispatch`, role: 'firm', firm },
        headers: { 'idempotency-key': `key-for-${firm}` },
      }),
      201,
      `${firm} key`,
    );
    keyOf[firm] = created.secret;
  }
  return keyOf;
}

/** Firm A's webhook receiver (node:http), checking every signature with `secret` once it is set. */
export async function signedReceiver(t: ExecutionContext) {
  const hook = { url: '', secret: '', received: [] as Array<{ body: Json; verified: boolean }> };
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const verified = signatureValid(hook.secret, req.headers, text);
      hook.received.push({ body: JSON.parse(text), verified });
      res.writeHead(verified ? 200 : 401).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
  hook.url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/citywatch`;
  return hook;
}
