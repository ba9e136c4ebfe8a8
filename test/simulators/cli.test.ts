/**
 * The `sim` command line (simulators/cli.ts): help, argument errors, `evaluate` against a real platform,
 * dry runs, a run against a real aedes broker checking each device's credentials, offline provisioning.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import {
  RouteFeatureInSchema,
  SiteFeatureInSchema,
  ZoneFeatureInSchema,
} from '../../api/compliance-schemas.ts';
import { startBareAedes } from '../../bench/aedes.ts';
import { OFFLINE_SCORING_HELP } from '../../simulators/cli/common.ts';
import { readCredentialsFile } from '../../simulators/load/credentials.ts';
import { brokerUnreachable } from '../../simulators/scenario/broker-probe.ts';
import { readScenario } from '../../simulators/scenario/file.ts';
import type { SimMessage } from '../../simulators/scenario/fleet-types.ts';
import { brokerUrlOf, type HealthBody } from '../../simulators/scenario/platform-settle.ts';
import { offlineFiles } from '../../simulators/scenario/provision.ts';
import { buildWorld } from '../../simulators/scenario/world.ts';
import { freePort } from '../../testkit/servers/ports.ts';
import { ADMIN_TOKEN, startTestPlatform } from '../support/platform.ts';
import { BASIC, FAULTS, minimal, START } from '../support/simulators/scenario.ts';

const cli = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'simulators/cli.ts', ...args], { encoding: 'utf8' });
/** the CLI as a child while this process keeps serving (a platform in this process answers it) */
const cliAsync = (args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'simulators/cli.ts', ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });

test('sim help and --help of every subcommand', (t) => {
  const top = cli(['help']);
  t.is(top.status, 0);
  for (const c of ['evaluate', 'run', 'score', 'provision', 'load'])
    t.regex(top.stdout, new RegExp(`^  ${c} `, 'm'));
  const expected: Record<string, string[]> = {
    run: [
      '--scenario',
      '--url',
      '--dry-run',
      '--seed',
      '--start',
      '--duration',
      '--speedup',
      '--interval',
      '--alarm-interval',
      '--noise-m',
      '--drift-m',
      '--inject',
      '--truth',
      '--messages',
      '--qos',
    ],
    score: [
      '--truth',
      '--api',
      '--token',
      '--detections',
      '--tolerance-s',
      '--json',
      '--min-precision',
      '--min-recall',
      '--exclude',
    ],
    provision: [
      '--scenario',
      '--offline',
      '--out',
      '--api',
      '--token',
      '--seed',
      '--start',
      '--duration',
      '--inject',
    ],
    load: ['--url', '--connections', '--rate', '--ids-file', '--qos'],
    evaluate: [
      '--scenario',
      '--api',
      '--token',
      '--url',
      '--speedup',
      '--noise-m',
      '--seed',
      '--start',
      '--duration',
      '--inject',
      '--truth',
      '--json',
      '--min-precision',
      '--min-recall',
      '--exclude',
      '--settle-timeout',
      'COMPLIANCE_CLOCK=fleet',
    ],
  };
  for (const [command, flags] of Object.entries(expected)) {
    const r = cli([command, '--help']);
    t.is(r.status, 0, command);
    t.regex(r.stdout, new RegExp(`^Usage: npm run sim -- ${command}`), command);
    for (const f of flags) t.true(r.stdout.includes(f), `${command} --help names ${f}`);
  }
  t.is(cli(['nope']).status, 2);
  const bad = cli(['run', '--scenario', BASIC, '--dry-run', '--inject', 'OFF_ROUTE:2']);
  t.is(bad.status, 2);
  t.regex(bad.stderr, /--inject "OFF_ROUTE:2": a rate is a probability/);
  // evaluate checks its arguments before it touches a platform or runs for minutes
  const noApi = cli(['evaluate', '--scenario', BASIC, '--token', 'x'.repeat(20)]);
  t.is(noApi.status, 2);
  t.regex(noApi.stderr, /--api is required/);
  const badGoal = cli([
    'evaluate',
    '-s',
    BASIC,
    '--api',
    'http://127.0.0.1:9',
    '--token',
    't',
    '--min-recall',
    '2',
  ]);
  t.is(badGoal.status, 2);
  t.regex(badGoal.stderr, /--min-recall: expected a number 0\.\.1, got "2"/);
  const down = cli(['evaluate', '-s', BASIC, '--api', 'http://127.0.0.1:9', '--token', 't']);
  t.is(down.status, 1);
  t.regex(down.stderr, /the platform API at http:\/\/127\.0\.0\.1:9 is not reachable/);
  // run and evaluate say the same about scoring OFFLINE from a sped-up run
  const paragraph = OFFLINE_SCORING_HELP.replace(/\s+/g, ' ');
  for (const command of ['run', 'evaluate'])
    t.true(cli([command, '--help']).stdout.replace(/\s+/g, ' ').includes(paragraph), `${command} --help`);
});

test("evaluate finds the platform's broker from /healthz, and fails at once, saying why, when no broker answers", async (t) => {
  const tp = await startTestPlatform();
  t.teardown(() => tp.stop());
  const health = (await (await fetch(`${tp.httpUrl}/healthz`)).json()) as HealthBody;
  t.is(brokerUrlOf(health, new URL('http://127.0.0.1:8080')), `mqtt://127.0.0.1:${tp.platform.ports.mqtt}`);
  t.is(brokerUrlOf({ components: {} }, new URL('http://h:1')), undefined, 'no broker of its own');
  t.is(await brokerUnreachable(tp.mqttUrl), undefined);

  // --url naming a port nobody listens on: refused before provisioning anything (no minutes of waiting,
  // no blaming of credentials)
  const closed = await freePort();
  const started = Date.now();
  const r = await cliAsync([
    'evaluate',
    '-s',
    BASIC,
    '--api',
    tp.httpUrl,
    '--token',
    ADMIN_TOKEN,
    '--url',
    `mqtt://127.0.0.1:${closed}`,
  ]);
  t.is(r.status, 1, r.stderr);
  t.regex(
    r.stderr,
    new RegExp(`no MQTT broker answers at mqtt://127\\.0\\.0\\.1:${closed}: connect ECONNREFUSED`),
  );
  t.deepEqual(tp.platform.registry.firms(), [], 'nothing was provisioned');
  t.log(`refused after ${Date.now() - started} ms`);
});

test('sim run: an invalid scenario fails with the field named', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sim-cli-'));
  const doc = minimal() as { permits: Array<Record<string, unknown>> };
  doc.permits[0]!.windows = ['22:00-6:00'];
  await writeFile(join(dir, 's.json'), JSON.stringify(doc));
  const r = cli(['run', '--scenario', join(dir, 's.json'), '--dry-run']);
  t.is(r.status, 2);
  t.regex(r.stderr, /permits\[0\]\.windows\[0\]: expected HH:MM-HH:MM/);
});

test('sim run --dry-run: same seed, same messages and truth files; another seed differs', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sim-cli-'));
  const run = (seed: number, tag: string) => {
    const r = cli([
      'run',
      '-s',
      BASIC,
      '--dry-run',
      '-d',
      '40m',
      '--start',
      '2025-06-02T08:00:00+08:00',
      '--seed',
      String(seed),
      '--noise-m',
      '15',
      '--inject',
      FAULTS,
      '--truth',
      join(dir, `${tag}.truth`),
      '--messages',
      join(dir, `${tag}.msg`),
      '-q',
    ]);
    t.is(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
      messages: Record<string, number>;
      truth: { total: number };
    };
  };
  const a = run(9, 'a');
  run(9, 'b');
  run(10, 'c');
  const read = (f: string) => readFile(join(dir, f), 'utf8');
  t.is(await read('a.msg'), await read('b.msg'));
  t.is(await read('a.truth'), await read('b.truth'));
  t.not(await read('a.msg'), await read('c.msg'));
  t.is(
    (await read('a.msg')).trim().split('\n').length,
    Object.values(a.messages).reduce((s, n) => s + n, 0) - a.messages.dropped! - a.messages.silent!,
  );
  t.regex(
    await read('a.truth'),
    /^\{"record":"run","scenario":"hefei-basic","seed":9,"start":"2025-06-02T00:00:00.000Z","end":"2025-06-02T00:40:00.000Z"/,
  );
  t.true(a.truth.total > 0);
});

test('sim run against an MQTT broker: each device logs in with its own secret; what arrives is what the run generated', async (t) => {
  const scenario = await readScenario(BASIC);
  const secrets = new Map(scenario.devices.map((d) => [d.id, d.secret]));
  const logins = new Map<string, boolean>();
  const broker = await startBareAedes(0, {
    authenticate: (client, username, password, done) => {
      const ok = username === client.id && password?.toString() === secrets.get(username ?? '');
      logins.set(client.id, ok);
      done(null, ok);
    },
  });
  t.teardown(() => broker.close());
  const received = new Map<string, string[]>();
  broker.aedes.on('publish', (packet, client) => {
    if (!client || !packet.topic.endsWith('/telemetry')) return;
    received.set(client.id, [...(received.get(client.id) ?? []), packet.payload.toString()]);
  });
  const dir = await mkdtemp(join(tmpdir(), 'sim-cli-'));
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'simulators/cli.ts',
      'run',
      '-s',
      BASIC,
      '--url',
      broker.url,
      '--speedup',
      '600',
      '-d',
      '10m',
      '--start',
      '2025-06-02T00:00:00Z',
      '--seed',
      '4',
      '--inject',
      'DUPLICATE:0.05,OUT_OF_ORDER:0.05',
      '--messages',
      join(dir, 'm.jsonl'),
      '-q',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise((r) => child.on('close', r));
  t.is(code, 0, err);
  const summary = JSON.parse(out.trim().split('\n').at(-1)!);
  t.like(summary.publish, { devices: 22, connected: 22, failed: 0, notConnected: 0 });
  t.is(summary.publish.acked, summary.publish.published);
  t.is(logins.size, 22);
  t.true([...logins.values()].every(Boolean));
  const sent = (await readFile(join(dir, 'm.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as SimMessage);
  const byDevice = new Map<string, string[]>();
  for (const m of sent) byDevice.set(m.device, [...(byDevice.get(m.device) ?? []), m.payload]);
  t.is(received.size, byDevice.size);
  for (const [device, payloads] of byDevice) t.deepEqual(received.get(device), payloads, device);
});

test('sim provision --offline: credentials for the load CLI and mosquitto_passwd, an ACL, the world as API bodies', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sim-prov-'));
  const r = cli([
    'provision',
    '-s',
    BASIC,
    '--offline',
    '--out',
    dir,
    '--start',
    '2025-06-02T00:00:00Z',
    '-d',
    '2h',
  ]);
  t.is(r.status, 0, r.stderr);
  const creds = await readCredentialsFile(join(dir, 'devices.json'));
  t.is(creds.length, 22);
  t.deepEqual(creds[0], { id: 'dev-d1234', password: 'demo-only-secret-dev-d1234' });
  const passwd = (await readFile(join(dir, 'mosquitto.passwd'), 'utf8')).trim().split('\n');
  t.is(passwd.length, 22);
  t.is(passwd[0], 'dev-d1234:demo-only-secret-dev-d1234');
  t.regex(await readFile(join(dir, 'mosquitto.acl'), 'utf8'), /^pattern write devices\/%u\/telemetry$/m);
  const world = JSON.parse(await readFile(join(dir, 'world.json'), 'utf8'));
  for (const s of world.sites) t.true(SiteFeatureInSchema.safeParse(s).success, s.id);
  for (const x of world.routes) t.true(RouteFeatureInSchema.safeParse(x).success, x.id);
  for (const z of world.zones) t.true(ZoneFeatureInSchema.safeParse(z).success, z.id);
  // NO_PERMIT: the noPermit truck is on no permit; OFF_HOURS: the offHours truck has its own
  t.false(world.permits.some((p: { vehicles: string[] }) => p.vehicles.includes('veh-d2003')));
  const own = world.permits.filter((p: { vehicles: string[] }) => p.vehicles.includes('veh-f3001'));
  t.is(own.length, 1);
  t.deepEqual(own[0].windows, ['11:00-12:00']); // 08:00 local + ceil(2 h) + 1 h
  t.deepEqual(
    offlineFiles(
      buildWorld(await readScenario(BASIC), {
        startTs: START,
        durationMs: 2 * 3_600_000,
        seed: 1,
        injections: (await readScenario(BASIC)).injections,
      }),
    ).world,
    await readFile(join(dir, 'world.json'), 'utf8'),
  );
});
