import test from 'ava';
import { buildWorld, call, type Reply, type World } from '../support/identity-world.ts';
import { type RouteRequest, type Target, TENANCY } from '../support/tenancy-table.ts';

/**
 * The tenancy matrix over a real platform (real sockets, embedded broker): every operation of the
 * generated OpenAPI document × {admin, monitor, firm-A on its own, firm-A on firm-B's}, against the
 * declared table in support/tenancy-table.ts. See that file for how a route is declared.
 */

let world: World;
let operations: string[];

test.before(async () => {
  world = await buildWorld();
  const doc = world.tp.platform.api!.swagger() as { paths: Record<string, Record<string, unknown>> };
  operations = Object.entries(doc.paths)
    .filter(([path]) => path.startsWith('/api/v1/'))
    .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`));
});
test.after.always(async () => {
  await world?.close();
});

test.serial('every /api/v1 operation of the OpenAPI document has a row in the tenancy table', (t) => {
  const undeclared = operations.filter((op) => !(op in TENANCY));
  t.deepEqual(undeclared, [], `declare these in test/support/tenancy-table.ts: ${undeclared.join(', ')}`);
  const stale = Object.keys(TENANCY).filter((op) => !operations.includes(op));
  t.deepEqual(stale, [], `rows for operations the document no longer has: ${stale.join(', ')}`);
});

test.serial('every /api/v1 operation declares the scope it needs (config.scope → x-scope)', (t) => {
  const doc = world.tp.platform.api!.swagger() as {
    paths: Record<string, Record<string, { 'x-scope'?: string }>>;
  };
  const unscoped = operations.filter((op) => {
    const [method, path] = op.split(' ') as [string, string];
    return doc.paths[path]?.[method.toLowerCase()]?.['x-scope'] === undefined;
  });
  t.deepEqual(unscoped, [], `add config: { scope } to: ${unscoped.join(', ')}`);
});

function url(op: string, req: RouteRequest): { method: string; path: string } {
  const [method, template] = op.split(' ') as [string, string];
  const path = template.replace(/\{(\w+)\}/g, (_m, name: string) => {
    const value = req.params?.[name];
    if (value === undefined) throw new Error(`${op}: the row's req() gives no value for {${name}}`);
    return encodeURIComponent(value);
  });
  const query = req.query ? `?${new URLSearchParams(req.query).toString()}` : '';
  return { method, path: path + query };
}

/** Firm-B's ids: none may appear in a successful answer to firm-A. */
function leaks(w: World, reply: Reply): string[] {
  // firm-B's devices as whole ids ("dev-b1" quoted, dev-b-x-N), not 'dev-b': a generated device id
  // (dev-<hex>) may begin with it by chance.
  const markers = [
    'firm-b',
    'veh-b',
    '"dev-b1"',
    'dev-b-x-',
    'off-b',
    'permit-b',
    w.b.keyId,
    w.b.webhook,
    w.b.delivery,
  ];
  return markers.filter((m) => reply.text.includes(m));
}

const ROLES = ['admin', 'monitor', 'firm-A on its own', 'firm-A on firm-B’s'] as const;

for (const [op, spec] of Object.entries(TENANCY)) {
  test.serial(`tenancy: ${op}`, async (t) => {
    if (!operations.includes(op)) {
      t.fail(`${op} is declared but not in the OpenAPI document`);
      return;
    }
    const w = world;
    const keys = [w.adminKey, w.monitorKey, w.a.key, w.a.key];
    const targets: Target[] = ['own', 'own', 'own', 'other'];
    // firm-B's case first and admin last: a case that changes or deletes must not hide the others' answers.
    for (const i of [3, 1, 2, 0]) {
      const req = (await spec.req?.(targets[i]!, w)) ?? {};
      const { method, path } = url(op, req);
      const reply = await call(w.url, method, path, {
        token: keys[i]!,
        ...(req.body === undefined ? {} : { body: req.body }),
        ...(spec.stream ? { stream: true } : {}),
      });
      const role = ROLES[i];
      t.is(
        reply.status,
        spec.expect[i]!,
        `${role}: ${method} ${path} → ${reply.status} ${reply.text.slice(0, 300)}`,
      );
      if (reply.status >= 400) {
        t.regex(
          String(reply.headers.get('content-type')),
          /^application\/problem\+json/,
          `${role}: a problem`,
        );
      }
      if (i >= 2 && reply.status < 300)
        t.deepEqual(leaks(w, reply), [], `${role}: firm-B data in ${reply.text.slice(0, 300)}`);
      if (spec.lists && reply.status === 200 && targets[i] === 'own') {
        t.true(reply.text.includes('firm-a'), `${role}: the list lacks firm-a's items`);
        if (i < 2) t.true(reply.text.includes('firm-b'), `${role}: the list lacks firm-b's items`);
      }
      if (op === 'POST /api/v1/evidence/verify') {
        // firm-A may check firm-B's package, but is never told how it compares with firm-B's record
        t.is(reply.json?.record, i === 3 ? 'unknown' : 'matches', `${role}: ${reply.text.slice(0, 300)}`);
      }
      if (i === 3 && spec.expect[3] === 404) {
        // Another firm's resource must look exactly like one that does not exist.
        const missingReq = (await spec.req?.('missing', w)) ?? {};
        const missing = url(op, missingReq);
        const none = await call(w.url, missing.method, missing.path, {
          token: w.a.key,
          ...(missingReq.body === undefined ? {} : { body: missingReq.body }),
        });
        t.is(none.status, reply.status, `missing id: ${none.text}`);
        t.is(none.json?.type, reply.json?.type, 'the same problem type as for a missing id');
        t.is(none.json?.title, reply.json?.title, 'the same problem title as for a missing id');
      }
    }
  });
}

// After the matrix, which called every operation: each has its series in the per-route latency histogram
// of /metrics, labelled with its route template (never the raw URL).
test.serial('/metrics: per-route latency for every /api/v1 operation, by route template', async (t) => {
  const text = await (await fetch(`${world.url}/metrics`)).text();
  const series = new Set(
    [...text.matchAll(/^citywatch_http_request_duration_seconds_count\{([^}]*)\}/gm)].map((m) => {
      const labels = Object.fromEntries(
        [...(m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]),
      );
      return `${labels.method} ${labels.route}`;
    }),
  );
  const missing = operations.map((op) => op.replace(/\{(\w+)\}/g, ':$1')).filter((op) => !series.has(op));
  t.deepEqual(missing, [], `no latency series for: ${missing.join(', ')}`);
  t.false(
    [...series].some((s) => /firm-a|veh-a1|no-such-id/.test(s)),
    'a route label holds an id: labels must be templates',
  );
});
