import { ScenarioError } from '../scenario/file.ts';
import { provisionApi, writeOffline } from '../scenario/provision.ts';
import type { SimWorld } from '../scenario/world.ts';
import { PLATFORM_OPTIONS, type SimCommand, simCommand } from './command.ts';
import {
  loadWorld,
  parseDuration,
  parseNumber,
  parseStart,
  UsageError,
  usageFailed,
  WORLD_HELP,
  WORLD_OPTIONS,
} from './common.ts';

export const PROVISION_HELP = (
  prog: string,
) => `Usage: ${prog} provision --scenario <file> (--offline --out <dir> | --api <url> --token <t>) [options]

Provisions the world of a run: give it the same --scenario, --seed, --start, --duration and --inject
as the run (they decide which trucks lose their permit for NO_PERMIT / OFF_HOURS, and the permit dates).

  --offline --out <dir>   for a foreign broker, writes into <dir>:
                            devices.json      [{id, secret, kind}]: the load CLI's --ids-file
                            mosquitto.passwd  id:secret lines; hash in place: mosquitto_passwd -U <file>
                            mosquitto.acl     each device writes only devices/{id}/telemetry|status
                            world.json        firms, officers, vehicles, devices, sites, routes, zones
                                              (GeoJSON Features), permits and thresholds as API bodies
  --api <url> --token <t> through the platform API (token also from CITYWATCH_TOKEN): POST (or PUT when
                          it exists) sites, routes, zones, permits (approved), PUT thresholds; and
                          firms, officers, vehicles, devices where the API offers routes for them (read
                          from its OpenAPI document at /docs/json; missing ones are reported). An
                          existing device is kept with its secret (the API rotates secrets, never sets
                          them): delete it first to provision the scenario's secret
${WORLD_HELP}
  --speedup <n>           the run's speed-up (only for --start auto)
  -h, --help              this text

Exit status: 0 done, 1 when some entity was refused or the API lacks a route, 2 on bad arguments.`;

const PROVISION_OPTIONS = {
  ...PLATFORM_OPTIONS,
  ...WORLD_OPTIONS,
  offline: { type: 'boolean' },
  out: { type: 'string', short: 'o' },
  speedup: { type: 'string' },
} as const;

export const provisionCommand: SimCommand = simCommand(
  PROVISION_OPTIONS,
  PROVISION_HELP,
  async (v, { out, write }) => {
    const token = v.token ?? process.env.CITYWATCH_TOKEN;
    let world: SimWorld;
    try {
      if (!v.scenario) throw new UsageError('--scenario is required');
      if (Boolean(v.offline) === (v.api !== undefined))
        throw new UsageError('give --offline --out <dir> or --api <url>');
      if (v.offline && !v.out) throw new UsageError('--offline needs --out <dir>');
      if (v.api !== undefined && !token) throw new UsageError('--api needs --token (or CITYWATCH_TOKEN)');
      const durationMs = parseDuration(v.duration ?? '1h', '--duration');
      const speedup = parseNumber(v.speedup, '--speedup', 0.001, 1e6) ?? 1;
      const seed = parseNumber(v.seed, '--seed', 0, 2 ** 32 - 1) ?? 1;
      ({ world } = await loadWorld({
        scenario: v.scenario,
        seed,
        startTs: parseStart(v.start, durationMs, speedup),
        durationMs,
        inject: v.inject?.join(','),
      }));
    } catch (e) {
      if (e instanceof UsageError || e instanceof ScenarioError || e instanceof RangeError)
        return usageFailed(e, write);
      throw e;
    }
    if (v.offline) {
      const files = await writeOffline(world, v.out!);
      out.write(`${JSON.stringify({ devices: world.devices.length, files })}\n`);
      return 0;
    }
    const report = await provisionApi(world, {
      api: v.api!,
      token: token!,
      log: (l) => write(`[provision] ${l}\n`),
    });
    for (const e of report.errors) write(`[provision] ${e}\n`);
    if (report.kept.length > 0)
      write(
        `[provision] ${report.kept.length} existing device(s) kept with their current secret: ${report.kept.join(', ')}\n`,
      );
    out.write(`${JSON.stringify(report)}\n`);
    return report.errors.length > 0 || report.missingRoutes.length > 0 ? 1 : 0;
  },
);
