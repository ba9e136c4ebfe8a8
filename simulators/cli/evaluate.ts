import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokerUnreachable } from '../scenario/broker-probe.ts';
import { brokerUrlOf, clockOf, fetchHealth, waitUntilJudged } from '../scenario/platform-settle.ts';
import type { PublishSummary } from '../scenario/publisher.ts';
import {
  type CommandValues,
  DEVICE_LINK_OPTIONS,
  DRIVE_OPTIONS,
  PLATFORM_OPTIONS,
  SCORING_OPTIONS,
  type SimCommand,
  simCommand,
} from './command.ts';
import {
  OFFLINE_SCORING_HELP,
  parseDuration,
  parseNumber,
  parseStart,
  type TextSink,
  UsageError,
  usageFailed,
  WORLD_HELP,
  WORLD_OPTIONS,
} from './common.ts';
import { provisionCommand } from './provision.ts';
import { runCommand } from './run.ts';
import { scoreCommand } from './score.ts';

/**
 * `evaluate`: the tester's one command (issue 5) — provision a scenario through the platform API, drive
 * its fleet over MQTT at a speed-up, wait until the platform has judged the run, and print the
 * precision/recall table. It runs `provision`, `run` and `score` in turn with the world arguments
 * pinned once (above all `--start`: NO_PERMIT and OFF_HOURS change permits when the world is built, so
 * provisioning and driving must build the same world).
 */

const DEFAULTS = { duration: '2h', speedup: '60', noiseM: '15', settleS: 120 };

export const EVALUATE_HELP = (
  prog: string,
) => `Usage: ${prog} evaluate --scenario <file> --api <url> --token <t> [options]

Provisions the scenario through the platform API, drives its fleet over MQTT at --speedup (each device
as itself), waits until the platform has judged the whole run (GET /healthz: the compliance tick has
passed the run's end and the outbox is empty), and prints the per-type precision/recall table of the
platform's violations (GET /api/v1/violations) against the ground truth. The same as
provision + run + score with the world arguments given once.

${OFFLINE_SCORING_HELP}
evaluate reads the platform's clock from GET /healthz and leaves OFFLINE out by itself (saying so) when a
sped-up run cannot be scored for it.

Options:
${WORLD_HELP.replace('(default 1h)', `(default ${DEFAULTS.duration})`)}
  --api <url>             platform API base, e.g. http://127.0.0.1:8080 (required)
  --token <t>             admin bearer token (or CITYWATCH_TOKEN; npm start prints it and keeps it in
                          DATA_DIR/admin-token)
  --url <mqtt-url>        the broker the devices publish to (default: the platform's own broker, its
                          port read from GET /healthz, at the host of --api; required when the platform
                          has none, e.g. it ingests from an external broker)
  --jt808 <host:port>     drive the muck trucks over JT/T 808 to the platform's gateway there (as run)
  --speedup <n>           simulated seconds per real second (default ${DEFAULTS.speedup})
  --noise-m <m>           GNSS error, metres per axis (default ${DEFAULTS.noiseM}, JT/T 794 terminals)
  --drift-m <m>, --interval <s>, --alarm-interval <s>, --batch-order <after-live|before-live>
                          as for run
  --truth <file>          keep the ground truth here (default: a temporary file, named on stderr)
  --json                  the result as JSON (with missed truths and false alarms) instead of the table
  --tolerance-s <s>, --min-precision <p>, --min-recall <r>, --exclude <types>
                          as for score (--min-* set the exit status)
  --settle-timeout <s>    how long to wait for the platform to judge the run (default ${DEFAULTS.settleS})
  -q, --quiet             no progress on stderr
  -h, --help              this text

Example (a 2-hour scenario in about 2 minutes):
  SIMULATE=0 COMPLIANCE_CLOCK=fleet DATA_DIR=./sim-data npm start &
  ${prog} evaluate -s simulators/scenarios/hefei-basic.json --api http://127.0.0.1:8080 \\
      --token "$(cat sim-data/admin-token)" --min-precision 0.99 --min-recall 0.98

Exit status: 0 done (and the goals met), 1 on a failure or a goal missed, 2 on bad arguments.`;

const EVALUATE_OPTIONS = {
  ...PLATFORM_OPTIONS,
  ...DEVICE_LINK_OPTIONS,
  ...DRIVE_OPTIONS,
  ...SCORING_OPTIONS,
  ...WORLD_OPTIONS,
  truth: { type: 'string' },
  'settle-timeout': { type: 'string' },
} as const;

type EvaluateValues = CommandValues<typeof EVALUATE_OPTIONS>;

/** "--flag value" pairs for the options that are set (a subcommand's defaults apply to the rest). */
function passOn(v: EvaluateValues, names: readonly (keyof EvaluateValues & string)[]): string[] {
  const args: string[] = [];
  for (const name of names) {
    const value = v[name];
    if (typeof value === 'string') args.push(`--${name}`, value);
  }
  return args;
}

/** Collects a subcommand's stdout (its JSON summary) instead of printing it. */
class Capture implements TextSink {
  text = '';
  write(text: string): boolean {
    this.text += text;
    return true;
  }
  lastJson(): Record<string, unknown> | undefined {
    const line = this.text.trim().split('\n').at(-1);
    try {
      return line ? (JSON.parse(line) as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }
}

export const evaluateCommand: SimCommand = simCommand(
  EVALUATE_OPTIONS,
  EVALUATE_HELP,
  async (v, { out, err, write, prog }) => {
    const quiet = v.quiet === true;
    const say = (line: string) => {
      if (!quiet) write(`[evaluate] ${line}\n`);
    };
    const token = v.token ?? process.env.CITYWATCH_TOKEN;
    let api: URL;
    let mqttUrl: string | undefined;
    let start: string;
    let settleMs: number;
    const duration = v.duration ?? DEFAULTS.duration;
    const speedup = v.speedup ?? DEFAULTS.speedup;
    try {
      if (!v.scenario) throw new UsageError('--scenario is required');
      if (!v.api) throw new UsageError('--api is required (the platform API, e.g. http://127.0.0.1:8080)');
      if (!token) throw new UsageError('--token is required (or CITYWATCH_TOKEN)');
      try {
        api = new URL(v.api);
      } catch {
        throw new UsageError(`--api: expected a URL such as http://127.0.0.1:8080, got "${v.api}"`);
      }
      mqttUrl = v.url;
      const durationMs = parseDuration(duration, '--duration');
      const speedupN = parseNumber(speedup, '--speedup', 0.001, 1e6) ?? 1;
      // pinned here, once: provision and run must build the same world
      start = new Date(parseStart(v.start, durationMs, speedupN)).toISOString();
      // checked now rather than by score after a run of minutes
      parseNumber(v['tolerance-s'], '--tolerance-s', 0, 86_400);
      parseNumber(v['min-precision'], '--min-precision', 0, 1);
      parseNumber(v['min-recall'], '--min-recall', 0, 1);
      settleMs = (parseNumber(v['settle-timeout'], '--settle-timeout', 1, 86_400) ?? DEFAULTS.settleS) * 1000;
    } catch (e) {
      return usageFailed(e, write);
    }
    const world = [
      '--scenario',
      v.scenario,
      '--duration',
      duration,
      '--start',
      start,
      ...passOn(v, ['seed']),
      ...(v.inject ?? []).flatMap((i) => ['--inject', i]),
    ];
    const apiArgs = ['--api', api.origin, '--token', token];

    // 0. the platform: reachable, what it judges silence by, where its broker is; and the broker answers
    let clock: 'fleet' | 'wall' | undefined;
    try {
      const health = await fetchHealth(api.origin, AbortSignal.timeout(10_000));
      clock = clockOf(health);
      if (mqttUrl === undefined) {
        mqttUrl = brokerUrlOf(health, api);
        if (mqttUrl === undefined) {
          write(
            `[evaluate] the platform at ${api.origin} runs no MQTT broker of its own (its /healthz names none): ` +
              'give the broker its devices publish to with --url\n',
          );
          return 2;
        }
        say(`the platform's broker: ${mqttUrl} (from /healthz; --url to choose another)`);
      }
    } catch (e) {
      write(`[evaluate] the platform API at ${api.origin} is not reachable: ${(e as Error).message}\n`);
      return 1;
    }
    const unreachable = await brokerUnreachable(mqttUrl);
    if (unreachable !== undefined) {
      write(
        `[evaluate] no MQTT broker answers at ${mqttUrl}: ${unreachable}${v.url ? '' : ' (give it with --url)'}\n`,
      );
      return 1;
    }
    const excluded = new Set(
      (v.exclude ?? '')
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    );
    if (clock !== 'fleet' && Number(speedup) > 1 && !excluded.has('OFFLINE')) {
      excluded.add('OFFLINE');
      write(
        `[evaluate] OFFLINE left out: the platform judges silence by its ${clock ?? 'own'} clock, and the fixes of a ` +
          `${speedup}x run are behind it (start the platform with COMPLIANCE_CLOCK=fleet to score OFFLINE)\n`,
      );
    }

    // 1. provision
    say(`1/4 provisioning ${v.scenario} through ${api.origin} (start ${start}, ${duration})`);
    const provisioned = new Capture();
    const provisionCode = await provisionCommand(
      [...world, ...apiArgs, '--speedup', speedup],
      prog,
      provisioned,
      err,
    );
    if (provisionCode !== 0) {
      write(`[evaluate] provisioning failed (${provisioned.text.trim() || `exit ${provisionCode}`})\n`);
      return provisionCode;
    }

    // 2. drive the fleet, writing the ground truth
    const truthFile = v.truth ?? join(await mkdtemp(join(tmpdir(), 'sim-evaluate-')), 'truth.jsonl');
    say(`2/4 driving the fleet at ${speedup}x to ${mqttUrl}; ground truth: ${truthFile}`);
    const ran = new Capture();
    const runCode = await runCommand(
      [
        ...world,
        '--url',
        mqttUrl,
        '--speedup',
        speedup,
        '--noise-m',
        v['noise-m'] ?? DEFAULTS.noiseM,
        '--truth',
        truthFile,
        // registry changes during the run (REVOKE) go through the same API
        ...apiArgs,
        ...passOn(v, ['drift-m', 'interval', 'alarm-interval', 'batch-order', 'jt808']),
        ...(quiet ? ['--quiet'] : []),
      ],
      prog,
      ran,
      err,
    );
    const summary = ran.lastJson();
    if (runCode !== 0 || summary === undefined) {
      write(`[evaluate] the run failed (exit ${runCode})\n`);
      return runCode === 0 ? 1 : runCode;
    }
    const publish = summary.publish as PublishSummary | undefined;
    if (publish && publish.connected === 0 && publish.devices > 0) {
      // nothing was sent: waiting for the platform to judge it and scoring it would only report misses
      const reasons = Object.entries(publish.connectErrors ?? {})
        .map(([why, n]) => `${n} x ${why}`)
        .join('; ');
      write(
        `[evaluate] none of the ${publish.devices} devices could connect to ${mqttUrl}: ${reasons || 'no reason given'}\n`,
      );
      return 1;
    }
    if (publish) {
      say(
        `   ${publish.connected}/${publish.devices} devices connected, ${publish.published} published, ${publish.acked} acknowledged`,
      );
      if (publish.actions > 0 || publish.actionsFailed > 0)
        say(`   ${publish.actions} registry change(s) made during the run, ${publish.actionsFailed} failed`);
      if (publish.actionsFailed > 0)
        write(
          `[evaluate] warning: ${publish.actionsFailed} registry change(s) failed; the truth counts them as made\n`,
        );
      if (publish.connected < publish.devices)
        write(
          `[evaluate] warning: ${publish.devices - publish.connected} device(s) never connected ` +
            `(${Object.entries(publish.connectErrors ?? {})
              .map(([why, n]) => `${n} x ${why}`)
              .join(
                '; ',
              )}; a device provisioned earlier keeps its secret: delete it, or use a fresh DATA_DIR); ` +
            'their violations will count as missed\n',
        );
    }

    // 3. wait until the platform has judged the whole run
    const endTs = Date.parse(String(summary.end));
    say('3/4 waiting for the platform to judge the run');
    try {
      await waitUntilJudged({ api: api.origin, endTs, timeoutMs: settleMs, log: (l) => say(`   ${l}`) });
    } catch (e) {
      write(`[evaluate] ${(e as Error).message}\n`);
      return 1;
    }

    // 4. score
    say('4/4 scoring');
    return scoreCommand(
      [
        '--truth',
        truthFile,
        ...apiArgs,
        ...passOn(v, ['tolerance-s', 'min-precision', 'min-recall']),
        ...(excluded.size > 0 ? ['--exclude', [...excluded].join(',')] : []),
        ...(v.json ? ['--json'] : []),
      ],
      prog,
      out,
      err,
    );
  },
);
