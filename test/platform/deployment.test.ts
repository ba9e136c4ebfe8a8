/**
 * The production shape (docker-compose.yml, .env.example, prometheus/prometheus.yml, the Grafana
 * provisioning), read as docker-compose and Grafana read them: no Docker engine runs here, so the
 * containers do not start, but everything that can be checked without them is:
 *  - `docker-compose config` (Debian's docker-compose) accepts the file with the secrets of .env.example
 *    and refuses it, naming the secret, without them: no secret has a default value;
 *  - the services' healthchecks and `depends_on: condition: service_healthy`, the simulator in the
 *    `demo` profile, only the API, MQTT and Grafana published (not InfluxDB, not Prometheus);
 *  - Grafana mounts the provisioning folders and the dashboards where its provider reads them, has
 *    anonymous access off, and gets every environment variable its provisioning files use;
 *  - every secret of .env.example is refused by the platform outside the demo (config.ts), and the
 *    refusal does not print the value;
 *  - promtool accepts prometheus/prometheus.yml; its scrape interval is the datasource's timeInterval.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { parse } from 'yaml';
import { SCRAPE_INTERVAL } from '../../grafana/lib/datasources.ts';
import { DEFAULT_EDGE_METRICS_PORT, DEFAULT_WORKER_METRICS_PORT } from '../../platform/cluster-metrics.ts';
import { ConfigError, loadConfig } from '../../platform/config.ts';
import { placeholderReason, SECRET_SETTINGS } from '../../platform/placeholder-secrets.ts';
import type { Json } from '../support/grafana/dashboards.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const read = (file: string) => readFile(path.join(ROOT, file), 'utf8');

/** `${NAME...}` references of a string: name and what follows the name (`:?msg`, `:-default`, ``). */
function references(value: string): { name: string; rest: string }[] {
  return [...value.matchAll(/\$\{(\w+)([^}]*)\}/g)].map((m) => ({ name: m[1]!, rest: m[2]! }));
}

/** The variables .env.example sets (uncommented lines). */
async function exampleEnv(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const line of (await read('.env.example')).split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** docker-compose.yml as docker-compose reads it: YAML 1.1 merge keys (`<<: *nats`) applied */
async function readCompose(): Promise<Json> {
  return parse(await read('docker-compose.yml'), { merge: true });
}

const SECRET_NAME = /PASSWORD|TOKEN|SECRET/;

async function dockerCompose(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    // only PATH: no secret of the test runner's environment may stand in for .env
    const r = await run('docker-compose', args, { cwd: ROOT, env: { PATH: process.env.PATH ?? '' } });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('docker-compose config passes with the secrets of .env.example and refuses to go on without them', async (t) => {
  const ok = await dockerCompose(['--env-file', '.env.example', 'config']);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /grafana\/grafana:/);
  const dir = await mkdtemp(path.join(tmpdir(), 'citywatch-env-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const empty = path.join(dir, 'empty.env');
  await writeFile(empty, '');
  const refused = await dockerCompose(['--env-file', empty, 'config']);
  t.not(refused.code, 0);
  t.regex(refused.stderr, /set [A-Z_]+(PASSWORD|TOKEN) in \.env/);
});

test('compose: healthchecks, depends_on service_healthy, the demo profile, only the ports a deployment needs', async (t) => {
  const compose = await readCompose();
  const s = compose.services;
  const healthy = { condition: 'service_healthy' };
  const cluster = ['api-node', 'edge-1', 'edge-2', 'nats-1', 'nats-2', 'nats-3', 'worker-1', 'worker-2'];
  t.deepEqual(
    Object.keys(s).sort(),
    ['grafana', 'influxdb', 'platform', 'prometheus', 'simulator', ...cluster].sort(),
  );
  // the cluster mode only with --profile cluster; its edges publish MQTT on ports of their own
  for (const name of cluster)
    t.deepEqual(s[name].profiles, ['cluster'], `${name} only in the cluster profile`);
  for (const name of ['nats-1', 'nats-2', 'nats-3', 'edge-1', 'edge-2', 'worker-1', 'worker-2', 'api-node'])
    t.true(
      Array.isArray(s[name].healthcheck?.test) && s[name].healthcheck.test.length > 1,
      `${name} healthcheck`,
    );
  for (const name of ['nats-1', 'nats-2', 'nats-3']) t.is(s[name].ports, undefined, `${name} not published`);
  t.deepEqual(
    ['edge-1', 'edge-2'].map((name) => s[name].ports),
    [
      ['1884:1883', '6809:6808'],
      ['1885:1883', '6810:6808'],
    ],
  );
  t.deepEqual(s['api-node'].environment.PARTS, 'api');
  // a worker is healthy by its /healthz on its metrics port (the default, unpublished)
  t.regex(s['worker-1'].healthcheck.test.join(' '), new RegExp(`:${DEFAULT_WORKER_METRICS_PORT}/healthz`));
  t.deepEqual(s['api-node'].ports, ['8081:8080']);
  t.deepEqual(s['worker-1'].depends_on, {
    influxdb: healthy,
    'nats-1': healthy,
    'nats-2': healthy,
    'nats-3': healthy,
  });
  for (const name of ['influxdb', 'platform', 'prometheus', 'grafana']) {
    t.true(
      Array.isArray(s[name].healthcheck?.test) && s[name].healthcheck.test.length > 1,
      `${name} healthcheck`,
    );
  }
  t.deepEqual(s.platform.depends_on, { influxdb: healthy });
  t.deepEqual(s.grafana.depends_on, { influxdb: healthy, prometheus: healthy });
  t.deepEqual(s.simulator.depends_on, { platform: healthy });
  t.deepEqual(s.simulator.profiles, ['demo'], 'the demo fleet only with --profile demo');
  t.is(s.platform.environment.SIMULATE, `\${SIMULATE:-0}`, 'no demo registry in production');
  // published ports
  t.is(s.influxdb.ports, undefined, 'InfluxDB not published');
  t.is(s.prometheus.ports, undefined, 'Prometheus not published');
  t.deepEqual(
    s.platform.ports.map((p: string) => p.split(':')[1]),
    ['8080', '1883', '6808'],
    'the API, MQTT and the JT/T 808 gateway only',
  );
  t.deepEqual(s.grafana.ports, ['3000:3000']);
  // the platform's healthcheck probes the port it listens on, http or https as it serves
  t.regex(s.platform.healthcheck.test.join(' '), /TLS_CERT_FILE\?'node:https':'node:http'/);
});

test('compose: Grafana is provisioned from grafana/, anonymous access off, every variable its provisioning reads is set', async (t) => {
  const compose = await readCompose();
  const g = compose.services.grafana;
  const mounts = new Map<string, string>(
    g.volumes.map((v: string) => {
      const [from, to] = v.split(':');
      return [to!, from!];
    }),
  );
  t.is(mounts.get('/etc/grafana/provisioning/datasources'), './grafana/provisioning/datasources');
  t.is(mounts.get('/etc/grafana/provisioning/dashboards'), './grafana/provisioning/dashboards');
  const provider = parse(await read('grafana/provisioning/dashboards/citywatch.yaml')).providers[0];
  t.is(mounts.get(provider.options.path), './grafana/dashboards', 'the dashboards where the provider reads');
  t.is(provider.allowUiUpdates, false);
  t.true(
    g.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH.startsWith(`${provider.options.path}/`),
    'the home dashboard is one of them',
  );
  t.is(g.environment.GF_AUTH_ANONYMOUS_ENABLED, 'false');
  t.is(g.environment.GF_USERS_ALLOW_SIGN_UP, 'false');
  t.regex(g.environment.GF_SECURITY_ADMIN_PASSWORD, /^\$\{GRAFANA_ADMIN_PASSWORD:\?/);
  // every $NAME of the mounted datasource files is in Grafana's environment
  for (const f of ['influxdb.yaml', 'prometheus.yaml']) {
    const text = await read(`grafana/provisioning/datasources/${f}`);
    for (const m of text.matchAll(/^[^#\n]*\$(\w+)/gm)) {
      t.truthy(g.environment[m[1]!], `${f} reads $${m[1]}: set for the grafana service`);
    }
  }
  // Prometheus: its config mounted, the scrape interval = the datasource's timeInterval
  const p = compose.services.prometheus;
  t.true(p.volumes.includes('./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro'));
  const prom = parse(await read('prometheus/prometheus.yml'));
  const ds = parse(await read('grafana/provisioning/datasources/prometheus.yaml')).datasources[0];
  t.is(prom.global.scrape_interval, SCRAPE_INTERVAL);
  t.is(ds.jsonData.timeInterval, SCRAPE_INTERVAL);
  t.deepEqual(prom.scrape_configs[0].static_configs[0].targets, ['platform:8080']);
  // the cluster profile's parts, by DNS, on the ports they serve /metrics on
  const clusterJob = prom.scrape_configs.find((c: Json) => c.job_name === 'citywatch-cluster');
  t.deepEqual(
    clusterJob.dns_sd_configs.map((c: Json) => [c.names, c.port]),
    [
      [['edge-1', 'edge-2'], DEFAULT_EDGE_METRICS_PORT],
      [['worker-1', 'worker-2'], DEFAULT_WORKER_METRICS_PORT],
      [['api-node'], 8080],
    ],
  );
  const checked = await run('promtool', ['check', 'config', 'prometheus/prometheus.yml'], { cwd: ROOT });
  t.regex(checked.stdout, /SUCCESS/);
});

test('no secret has a default value; every secret is listed in .env.example and every .env.example entry is used', async (t) => {
  const text = await read('docker-compose.yml');
  const compose = parse(text, { merge: true });
  const example = await exampleEnv();
  // every ${NAME} anywhere in the file (environment, command, ...)
  const used = new Set<string>(references(text).map((r) => r.name));
  const secrets = new Set<string>();
  for (const [service, def] of Object.entries<Json>(compose.services)) {
    for (const [key, value] of Object.entries<string>(def.environment ?? {})) {
      for (const ref of references(String(value))) {
        if (!SECRET_NAME.test(ref.name)) continue;
        secrets.add(ref.name);
        t.true(
          ref.rest.startsWith(':?'),
          `${service}.${key}: \${${ref.name}} must be required (:?), not defaulted`,
        );
      }
      if (SECRET_NAME.test(key) && !key.endsWith('_USER')) {
        t.regex(String(value), /^\$\{\w+:\?/, `${service}.${key} comes from .env, required`);
      }
    }
  }
  t.deepEqual([...secrets].sort(), [
    'ADMIN_TOKEN',
    'GRAFANA_ADMIN_PASSWORD',
    'INFLUX_ADMIN_PASSWORD',
    'INFLUX_TOKEN',
    'SERVICE_PASSWORD',
  ]);
  for (const name of secrets) t.true(example.has(name), `.env.example lists ${name}`);
  for (const name of example.keys())
    t.true(used.has(name), `.env.example: ${name} is used by docker-compose.yml`);
  // the commented settings of .env.example are the compose file's defaults
  for (const m of (await read('.env.example')).matchAll(/^# ([A-Z][A-Z0-9_]*)=/gm)) {
    t.true(used.has(m[1]!), `.env.example documents ${m[1]}, which docker-compose.yml reads`);
  }
});

test('the platform refuses the secrets of .env.example and other placeholders unless SIMULATE is on, without printing them', async (t) => {
  const example = await exampleEnv();
  const platformSecrets = SECRET_SETTINGS.filter((k) => example.has(k));
  t.deepEqual([...platformSecrets].sort(), ['ADMIN_TOKEN', 'INFLUX_TOKEN', 'SERVICE_PASSWORD']);
  const env = {
    SIMULATE: '0',
    INFLUX_URL: 'http://influxdb:8086',
    INFLUX_ORG: 'citywatch',
    INFLUX_BUCKET: 'telemetry',
    ...Object.fromEntries(platformSecrets.map((k) => [k, example.get(k)!])),
  };
  const err = t.throws(() => loadConfig(env), { instanceOf: ConfigError }) as ConfigError;
  for (const key of platformSecrets) {
    t.true(
      err.problems.some((p) => p.startsWith(`${key}: it is a placeholder`)),
      `${key} refused: ${err.problems.join('; ')}`,
    );
  }
  t.false(err.message.includes('change-me'), 'the values are not echoed');
  // the demo may run on them
  t.notThrows(() => loadConfig({ ...env, SIMULATE: 'seed' }));
  t.notThrows(() => loadConfig({ ...env, SIMULATE: '1' }));
  // a real secret passes
  t.notThrows(() =>
    loadConfig({
      ...env,
      ADMIN_TOKEN: 'q7Vd2mXk9LpR4sTz8NwYb3Hc',
      SERVICE_PASSWORD: 'Xy7-pQ2-vR9-kL4',
      INFLUX_TOKEN: 'Zk3mQ9vR2xL7pT4nB8wY1cF6',
    }),
  );
  for (const placeholder of [
    'changeme',
    'CHANGE_ME_PLEASE_NOW',
    'your-token-here-please',
    '<admin token here>',
    'aaaaaaaaaaaaaaaa',
    'password',
  ]) {
    t.truthy(placeholderReason(placeholder), placeholder);
  }
  // the process: exit code 2, the variable named, the value not printed
  const started = await run(process.execPath, ['--import', 'tsx', 'platform/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      ...env,
      ADMIN_TOKEN: 'change-me-admin-token',
      INFLUX_TOKEN: 'a-real-looking-token-value',
    },
    timeout: 30_000,
  }).then(
    () => ({ code: 0, stderr: '' }),
    (e: { code: number; stderr: string }) => e,
  );
  t.is(started.code, 2);
  t.regex(started.stderr, /ADMIN_TOKEN: it is a placeholder/);
  t.regex(started.stderr, /SERVICE_PASSWORD: it is a placeholder/);
  t.false(started.stderr.includes('change-me-admin-token'));
});
