import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { ScenarioError } from '../scenario/file.ts';
import { FleetSim } from '../scenario/fleet-sim.ts';
import type { SimMessage } from '../scenario/fleet-types.ts';
import { startPublisher } from '../scenario/publisher.ts';
import { truthJsonl } from '../scenario/truth.ts';
import { unitOf } from '../scenario/world.ts';
import {
  DEVICE_LINK_OPTIONS,
  DRIVE_OPTIONS,
  PLATFORM_OPTIONS,
  type SimCommand,
  simCommand,
} from './command.ts';
import {
  loadWorld,
  OFFLINE_SCORING_HELP,
  parseDuration,
  parseNumber,
  parseStart,
  UsageError,
  usageFailed,
  WORLD_HELP,
  WORLD_OPTIONS,
} from './common.ts';

/** "host:port" (the gateway) → its parts; a usage error naming the option otherwise */
export function parseHostPort(value: string, option: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || !(port > 0 && port < 65536))
    throw new UsageError(`${option}: expected host:port, e.g. 127.0.0.1:6808, got "${value}"`);
  return { host: m[1]!, port };
}

export const RUN_HELP = (
  prog: string,
) => `Usage: ${prog} run --scenario <file> (--url <mqtt-url> | --dry-run) [options]

Simulates the scenario's fleet (muck trucks on full trip cycles, sweepers, body cameras) on a simulated
clock and publishes every device's fixes to the broker as that device (user name = device id, password
= its secret from the scenario), QoS 1, on devices/{id}/telemetry. Injects violations per truck or by
rate and protocol faults by rate; writes the ground truth (every violation the rule definitions find on
the true tracks) as JSON Lines. The same seed, start and options give the same messages, byte for byte.
Progress goes to stderr; a JSON summary is the last line of stdout.

Options:
${WORLD_HELP}
  --url <url>             broker URL: mqtt://, mqtts://, ws:// (required unless --dry-run)
  --jt808 <host:port>     the muck trucks report over JT/T 808 to the platform's gateway there (each a
                          terminal bound by its phone, authenticating with its secret); the sweepers and
                          body cameras still over MQTT at --url
  --dry-run               no broker: generate the messages and the truth only
  --speedup <n>           simulated seconds per real second, e.g. 60 (default 1)
  --interval <s>          report interval of every device, 1-30 s (default: each device's own)
  --alarm-interval <s>    report interval while a rule's condition holds (default 5)
  --noise-m <m>           GNSS error, metres per axis (default 4; 15 = JT/T 794 terminals)
  --drift-m <m>           peak of a DRIFT episode, metres (default 2 x noise, at least 20)
  --truth <file>          write the ground truth here (JSON Lines: a run line, then one per violation)
  --messages <file>       write every message here (JSON Lines: ts, device, topic, kind, payload)
  --qos <0|1>             publish QoS (default 1)
  --api <url>, --token <t>
                          the platform API and an admin token: the run makes its registry changes
                          through them at their instants (REVOKE revokes a permit mid-trip); required
                          when the injections include REVOKE (or CITYWATCH_TOKEN for the token)
  --batch-order <after-live|before-live>
                          where a BLIND_AREA batch goes: after the first live fix out of it (default, as
                          JT/T 808 terminals do) or before it (in time order)
  -q, --quiet             no progress on stderr
  -h, --help              this text

Examples:
  ${prog} run -s simulators/scenarios/hefei-basic.json --url mqtt://127.0.0.1:1883 \\
      --speedup 60 -d 2h --noise-m 15 --truth truth.jsonl
  ${prog} run -s simulators/scenarios/hefei-fleet.yaml --dry-run -d 4h --seed 7 \\
      --inject OFF_ROUTE:0.2,DUPLICATE:0.01 --truth truth.jsonl --messages messages.jsonl

${OFFLINE_SCORING_HELP}

Exit status: 0 when the run completed, 2 on bad arguments or an invalid scenario, 1 on failure.`;

const RUN_OPTIONS = {
  ...PLATFORM_OPTIONS,
  ...DEVICE_LINK_OPTIONS,
  ...DRIVE_OPTIONS,
  ...WORLD_OPTIONS,
  'dry-run': { type: 'boolean' },
  truth: { type: 'string' },
  messages: { type: 'string' },
  qos: { type: 'string' },
} as const;

export const runCommand: SimCommand = simCommand(RUN_OPTIONS, RUN_HELP, async (v, { out, write }) => {
  let sim: FleetSim;
  let speedup: number;
  let qos: 0 | 1;
  let jt808: { host: string; port: number } | undefined;
  let act: ((m: SimMessage) => Promise<void>) | undefined;
  try {
    if (!v.scenario) throw new UsageError('--scenario is required');
    if (!v.url && !v['dry-run']) throw new UsageError('give --url <broker> or --dry-run');
    speedup = parseNumber(v.speedup, '--speedup', 0.001, 1e6) ?? 1;
    const durationMs = parseDuration(v.duration ?? '1h', '--duration');
    const startTs = parseStart(v.start, durationMs, v['dry-run'] ? 1 : speedup);
    const seed = parseNumber(v.seed, '--seed', 0, 2 ** 32 - 1) ?? 1;
    if (!Number.isInteger(seed)) throw new UsageError('--seed: expected an integer');
    if (v.qos !== undefined && v.qos !== '0' && v.qos !== '1') throw new UsageError('--qos: expected 0 or 1');
    qos = v.qos === '0' ? 0 : 1;
    if (v.jt808 !== undefined) jt808 = parseHostPort(v.jt808, '--jt808');
    const { world, injections } = await loadWorld({
      scenario: v.scenario,
      seed,
      startTs,
      durationMs,
      inject: v.inject?.join(','),
    });
    const noiseM = parseNumber(v['noise-m'], '--noise-m', 0, 500);
    const driftM = parseNumber(v['drift-m'], '--drift-m', 0, 5000);
    const intervalS = parseNumber(v.interval, '--interval', 1, 30);
    const alarmIntervalS = parseNumber(v['alarm-interval'], '--alarm-interval', 1, 30);
    const batchOrder = v['batch-order'] ?? 'after-live';
    if (batchOrder !== 'after-live' && batchOrder !== 'before-live')
      throw new UsageError('--batch-order: expected after-live or before-live');
    const token = v.token ?? process.env.CITYWATCH_TOKEN;
    if (v.api !== undefined) {
      if (!token) throw new UsageError('--api needs --token (or CITYWATCH_TOKEN)');
      act = apiActions(v.api, token);
    } else if (world.revocable.size > 0 && !v['dry-run']) {
      throw new UsageError(
        'REVOKE revokes permits through the platform API during the run: give --api and --token',
      );
    }
    sim = new FleetSim(world, {
      batchOrder,
      seed,
      injections,
      ...(noiseM !== undefined ? { noiseM } : {}),
      ...(driftM !== undefined ? { driftM } : {}),
      ...(intervalS !== undefined ? { intervalS } : {}),
      ...(alarmIntervalS !== undefined ? { alarmIntervalS } : {}),
    });
  } catch (e) {
    if (e instanceof UsageError || e instanceof ScenarioError || e instanceof RangeError)
      return usageFailed(e, write);
    throw e;
  }

  const world = sim.world;
  const dump = v.messages ? createWriteStream(v.messages) : undefined;
  const messages = (function* (): Generator<SimMessage> {
    for (const m of sim.messages()) {
      dump?.write(`${JSON.stringify(m)}\n`);
      yield m;
    }
  })();
  const quiet = v.quiet === true;
  if (!quiet)
    write(
      `[sim] ${world.name}: ${world.devices.length} devices, ${new Date(world.startTs).toISOString()} + ` +
        `${world.durationMs / 60_000} min simulated${v['dry-run'] ? ' (dry run)' : ` at ${speedup}x to ${v.url}`}\n`,
    );
  const ac = new AbortController();
  const onSignal = () => {
    if (ac.signal.aborted) process.exit(130);
    write('\n[sim] interrupted: stopping (again to exit at once)\n');
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let publish: Awaited<ReturnType<typeof startPublisher>['done']> | undefined;
  try {
    if (v['dry-run']) {
      for (const _ of messages) if (ac.signal.aborted) break;
    } else {
      const publisher = startPublisher({
        url: v.url!,
        devices: world.devices,
        messages,
        startTs: world.startTs,
        endTs: sim.endTs,
        speedup,
        qos,
        ...(jt808 ? { jt808 } : {}),
        signal: ac.signal,
        ...(act ? { act } : {}),
        log: (line) => write(`[sim] ${line}\n`),
        ...(quiet
          ? {}
          : {
              onProgress: (p) =>
                write(
                  `[sim] ${p.simTime} connected ${p.connected}/${p.devices} published ${p.published} acked ${p.acked}\n`,
                ),
            }),
      });
      publish = await publisher.done;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (dump) await new Promise((r) => dump.end(r));
  }
  const truth = sim.groundTruth();
  if (v.truth) {
    const trips = sim.trips().map((t) => ({ ...t, start: new Date(t.start).toISOString() }));
    await writeFile(
      v.truth,
      truthJsonl(
        {
          scenario: world.name,
          seed: sim.opts.seed,
          start: new Date(world.startTs).toISOString(),
          end: new Date(sim.endTs).toISOString(),
          vehicles: [...new Set(world.devices.map(unitOf))],
          trips,
        },
        truth,
      ),
    );
  }
  const byType: Record<string, number> = {};
  for (const t of truth) byType[t.type] = (byType[t.type] ?? 0) + 1;
  const skipped = sim
    .trips()
    .filter((t) => t.skipped)
    .map((t) => `${t.vehicle} trip ${t.trip}: ${t.skipped}`);
  if (!quiet) for (const s of skipped) write(`[sim] not injected: ${s}\n`);
  const summary = {
    scenario: world.name,
    seed: sim.opts.seed,
    start: new Date(world.startTs).toISOString(),
    end: new Date(sim.endTs).toISOString(),
    devices: world.devices.length,
    messages: sim.stats(),
    truth: { total: truth.length, injected: truth.filter((t) => t.injected).length, byType },
    notInjected: skipped,
    ...(publish ? { publish } : {}),
  };
  out.write(`${JSON.stringify(summary)}\n`);
  return 0;
});

/** Registry changes of a run (`action` messages) through the platform API, as the city would make them. */
export function apiActions(api: string, token: string): (m: SimMessage) => Promise<void> {
  let base: URL;
  try {
    base = new URL(api);
  } catch {
    throw new UsageError(`--api: expected a URL such as http://127.0.0.1:8080, got "${api}"`);
  }
  return async (m) => {
    const a = m.action;
    if (a?.type !== 'revoke_permit') throw new Error(`unknown action ${m.payload}`);
    const res = await fetch(new URL(`/api/v1/permits/${encodeURIComponent(a.permit)}/status`, base), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        status: 'revoked',
        reason: `simulated revocation while ${a.vehicle} hauls (REVOKE)`,
      }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`POST /permits/${a.permit}/status: ${res.status} ${await res.text()}`);
  };
}
