/**
 * Device credentials, request body errors, rate limit, security headers and CORS (their world: test/support/api/identity.ts).
 */
import test from 'ava';
import { ConfigError, loadConfig } from '../../platform/config.ts';
import { closed, refusal, setUp, world } from '../support/api/identity.ts';
import { call } from '../support/identity-world.ts';
import { ADMIN_TOKEN, connectClient, startTestPlatform } from '../support/platform.ts';

setUp();

// ---------------------------------------------------------------------------------------------------
// Devices and the real broker

test('devices: credentials shown once; rotation ends the old secret and its connection; disabled is refused', async (t) => {
  const mqtt = world.tp.mqttUrl;
  const key = world.a.key;
  const vehicle = await call(world.url, 'POST', '/api/v1/vehicles', {
    token: key,
    body: { id: 'veh-a-rot', plate: '皖A·77777', kind: 'muck_truck', ratedLoadT: 18 },
  });
  t.is(vehicle.status, 201, vehicle.text);
  const provisioned = await call(world.url, 'POST', '/api/v1/devices', {
    token: key,
    body: { id: 'dev-a-rot', kind: 'muck_truck', vehicle: 'veh-a-rot', reportIntervalS: 10 },
  });
  t.is(provisioned.status, 201, provisioned.text);
  const { username, password: first } = provisioned.json.credentials;
  t.is(username, 'dev-a-rot');
  t.like(provisioned.json.device, {
    firm: 'firm-a',
    unit: 'veh-a-rot',
    enabled: true,
    telemetryTopic: 'devices/dev-a-rot/telemetry',
  });
  for (const p of ['/api/v1/devices/dev-a-rot', '/api/v1/devices']) {
    t.false((await call(world.url, 'GET', p, { token: key })).text.includes(first), `${p} shows the secret`);
  }

  const connected = await connectClient(mqtt, { username, password: first, clientId: `${username}-1` });
  const rotated = await call(world.url, 'POST', '/api/v1/devices/dev-a-rot/rotate', { token: key });
  t.is(rotated.status, 200, rotated.text);
  const second = rotated.json.credentials.password;
  t.not(second, first);
  await closed(connected); // the connection opened with the old secret is ended
  t.is(await refusal(mqtt, username, first), 4, 'the old secret: bad user name or password');
  const again = await connectClient(mqtt, { username, password: second, clientId: `${username}-2` });

  const disabled = await call(world.url, 'PATCH', '/api/v1/devices/dev-a-rot', {
    token: key,
    body: { enabled: false },
  });
  t.is(disabled.status, 200);
  t.false(disabled.json.enabled);
  await closed(again);
  t.is(await refusal(mqtt, username, second), 5, 'disabled: not authorized');
  // Rotating a disabled device keeps it disabled.
  const rotatedOff = await call(world.url, 'POST', '/api/v1/devices/dev-a-rot/rotate', { token: key });
  t.false(rotatedOff.json.device.enabled);
  const third = rotatedOff.json.credentials.password;
  t.is(await refusal(mqtt, username, third), 5);

  t.is(
    (await call(world.url, 'PATCH', '/api/v1/devices/dev-a-rot', { token: key, body: { enabled: true } }))
      .status,
    200,
  );
  t.is(await refusal(mqtt, username, third), 0, 'enabled again with its current secret');
  t.is(await refusal(mqtt, username, second), 4);

  // Deleting ends it for good; the vehicle can go once it carries nothing.
  t.is((await call(world.url, 'DELETE', '/api/v1/vehicles/veh-a-rot', { token: key })).status, 409);
  t.is((await call(world.url, 'DELETE', '/api/v1/devices/dev-a-rot', { token: key })).status, 200);
  t.is(await refusal(mqtt, username, third), 4);
  t.is((await call(world.url, 'DELETE', '/api/v1/vehicles/veh-a-rot', { token: key })).status, 200);
});

test('devices: what is provisioned is checked, naming the field', async (t) => {
  const key = world.a.key;
  const cases: [unknown, string][] = [
    [{ kind: 'muck_truck' }, '/vehicle'],
    [{ kind: 'muck_truck', vehicle: 'veh-b1' }, '/vehicle'],
    [{ kind: 'sanitation', vehicle: 'veh-a1' }, '/kind'],
    [{ kind: 'body_camera', vehicle: 'veh-a1' }, '/vehicle'],
    [{ kind: 'body_camera', officer: 'off-b1' }, '/officer'],
    [{ kind: 'body_camera', firm: 'firm-b' }, '/firm'],
    [{ id: 'a/b', kind: 'body_camera' }, '/id'],
    [{ kind: 'muck_truck', vehicle: 'veh-a1', reportIntervalS: 0 }, '/reportIntervalS'],
    [{ kind: 'body_camera', secret: 'too-short' }, '/secret'],
  ];
  for (const [body, pointer] of cases) {
    const res = await call(world.url, 'POST', '/api/v1/devices', { token: key, body });
    t.is(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
    t.deepEqual(
      res.json.errors.map((e: { pointer: string }) => e.pointer),
      [pointer],
      JSON.stringify(body),
    );
  }
  const camera = await call(world.url, 'POST', '/api/v1/devices', {
    token: key,
    body: { kind: 'body_camera', officer: 'off-a1' },
  });
  t.is(camera.status, 201, camera.text);
  t.like(camera.json.device, { kind: 'body_camera', firm: 'firm-a', officer: 'off-a1' });
  t.is(camera.json.device.unit, camera.json.device.id);
  // A terminal that ships with its own password keeps it.
  const factory = 'factory-set-password-0042';
  const shipped = await call(world.url, 'POST', '/api/v1/devices', {
    token: key,
    body: { id: 'cam-a-factory', kind: 'body_camera', secret: factory },
  });
  t.is(shipped.status, 201, shipped.text);
  t.is(await refusal(world.tp.mqttUrl, 'cam-a-factory', factory), 0);
  t.is(
    (
      await call(world.url, 'POST', '/api/v1/devices', {
        token: key,
        body: { id: 'dev-a1', kind: 'muck_truck', vehicle: 'veh-a1' },
      })
    ).status,
    409,
  );
});

// ---------------------------------------------------------------------------------------------------
// Schema errors

test('every request body error of every operation names the field at fault', async (t) => {
  const doc = (await call(world.url, 'GET', '/docs/json')).json as {
    paths: Record<string, Record<string, { requestBody?: unknown }>>;
  };
  let checked = 0;
  for (const [template, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!template.startsWith('/api/v1/') || op.requestBody === undefined) continue;
      const p = template.replace(/\{\w+\}/g, 'x');
      const res = await call(world.url, method.toUpperCase(), p, {
        token: world.adminKey,
        body: { __bogus: 1 },
      });
      const at = `${method.toUpperCase()} ${template}`;
      t.is(res.status, 400, `${at}: ${res.text}`);
      const errors = (res.json?.errors ?? []) as { in: string; pointer: string }[];
      t.true(errors.length > 0, `${at}: no errors listed`);
      for (const e of errors) {
        t.true(e.pointer.length > 0, `${at}: an error without a field: ${JSON.stringify(e)}`);
        t.true(
          res.json.detail.includes(`${e.in}${e.pointer}`),
          `${at}: the detail does not name ${e.pointer}`,
        );
      }
      checked++;
    }
  }
  t.true(checked >= 20, `only ${checked} operations with a body`);
});

// ---------------------------------------------------------------------------------------------------
// Rate limit, headers, CORS: a platform of their own, with a small budget and one allowed origin

test('rate limit, security headers and CORS (API_RATE_LIMIT, API_CORS_ORIGINS)', async (t) => {
  const tp = await startTestPlatform({ API_RATE_LIMIT: '5', API_CORS_ORIGINS: 'https://ops.hefei.example' });
  t.teardown(() => tp.stop());
  const url = tp.httpUrl;
  const { json: key } = await call(url, 'POST', '/api/v1/keys', {
    token: ADMIN_TOKEN,
    body: { name: 'poller', role: 'monitor' },
  });
  // The admin token has spent 1 of its 5; the new key has its own 5.
  const replies = [];
  for (let i = 0; i < 6; i++)
    replies.push(await call(url, 'GET', '/api/v1/positions', { token: key.secret }));
  t.deepEqual(
    replies.map((r) => r.status),
    [200, 200, 200, 200, 200, 429],
  );
  t.is(replies[0]!.headers.get('x-ratelimit-limit'), '5');
  t.is(replies[4]!.headers.get('x-ratelimit-remaining'), '0');
  const limited = replies[5]!;
  t.regex(String(limited.headers.get('content-type')), /^application\/problem\+json/);
  t.is(limited.json.status, 429);
  const retryAfter = Number(limited.headers.get('retry-after'));
  t.true(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 12, String(retryAfter));
  t.is(
    (await call(url, 'GET', '/api/v1/positions', { token: ADMIN_TOKEN })).status,
    200,
    'another key is not limited',
  );

  // Security headers: on data, on errors, and (without the API's no-store) on the docs.
  for (const r of [replies[0]!, limited, await call(url, 'GET', '/api/v1/positions')]) {
    t.is(r.headers.get('x-content-type-options'), 'nosniff');
    t.is(r.headers.get('x-frame-options'), 'DENY');
    t.is(r.headers.get('referrer-policy'), 'no-referrer');
    t.is(r.headers.get('cache-control'), 'no-store');
    t.regex(String(r.headers.get('content-security-policy')), /frame-ancestors 'none'/);
  }
  const docs = await call(url, 'GET', '/docs/json');
  t.is(docs.headers.get('x-content-type-options'), 'nosniff');
  t.regex(String(docs.headers.get('content-security-policy')), /^frame-ancestors 'none'$/);

  // CORS: a preflight from the configured origin is answered without a token; others are not.
  const preflight = (origin: string) =>
    call(url, 'OPTIONS', '/api/v1/vehicles', {
      token: null,
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
  const allowed = await preflight('https://ops.hefei.example');
  t.is(allowed.status, 204);
  t.is(allowed.headers.get('access-control-allow-origin'), 'https://ops.hefei.example');
  t.regex(String(allowed.headers.get('access-control-allow-methods')), /POST/);
  t.regex(String(allowed.headers.get('access-control-allow-headers')), /authorization/);
  t.is(allowed.headers.get('access-control-allow-credentials'), null, 'bearer tokens, never cookies');
  const other = await preflight('https://evil.example');
  t.not(other.status, 204);
  t.is(other.headers.get('access-control-allow-origin'), null);
  // An actual request from the allowed origin may read the answer and its rate-limit headers.
  const simple = await call(url, 'GET', '/api/v1/positions', {
    token: ADMIN_TOKEN,
    headers: { origin: 'https://ops.hefei.example' },
  });
  t.is(simple.headers.get('access-control-allow-origin'), 'https://ops.hefei.example');
  t.regex(String(simple.headers.get('access-control-expose-headers')), /retry-after/);
  t.regex(String(simple.headers.get('vary')), /Origin/);
});

test('config: API_RATE_LIMIT and API_CORS_ORIGINS are validated, naming the variable', (t) => {
  const base = { DATA_DIR: '/tmp/x' };
  t.deepEqual(loadConfig(base).env.API_CORS_ORIGINS, []);
  t.is(loadConfig(base).env.API_RATE_LIMIT, 1200);
  t.deepEqual(
    loadConfig({ ...base, API_CORS_ORIGINS: 'https://a.example, http://b.example:8080' }).env
      .API_CORS_ORIGINS,
    ['https://a.example', 'http://b.example:8080'],
  );
  const bad = t.throws(() => loadConfig({ ...base, API_CORS_ORIGINS: 'https://a.example/path' }), {
    instanceOf: ConfigError,
  });
  t.regex(bad.message, /API_CORS_ORIGINS/);
  t.throws(() => loadConfig({ ...base, API_RATE_LIMIT: '-1' }), { message: /API_RATE_LIMIT/ });
});
