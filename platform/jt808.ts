import type { Logger } from 'pino';
import { MSG } from '../gateway/jt808/codec/ids.ts';
import { encode8300, TEXT_FLAGS } from '../gateway/jt808/codec/msg-8300.ts';
import type { Jt808Commands } from '../gateway/jt808/commands.ts';
import { areaCommand, routeCommand } from '../gateway/jt808/permit-push.ts';
import type { ViolationCode } from '../geofence/model.ts';
import type { ViolationEvent } from '../geofence/types.ts';
import type { ComplianceChange, ComplianceRegistry } from '../registry/compliance.ts';
import { isEnforcedState } from '../registry/permit-workflow.ts';
import type { Registry } from '../registry/types.ts';

/**
 * What the platform sends JT/T 808 terminals on its own (gateway/jt808/commands.ts records the
 * outcomes, GET /api/v1/devices/{id}/commands shows them):
 *  - a text (0x8300, read aloud and shown) to the truck's driver when a violation of a type listed in
 *    JT808_VIOLATION_TEXTS opens; none by default, and never for a violation detected from fixes older
 *    than five minutes (a blind-area backfill judged late is history, not a warning);
 *  - a permit's route (0x8606) and its sites as areas (0x8604) to the terminals of its trucks when the
 *    permit becomes approved or active, or is changed while it is.
 */

/** a violation detected from fixes older than this is not announced to the driver */
const TEXT_MAX_AGE_MS = 5 * 60_000;

export interface Jt808TriggerDeps {
  /** the gateway's commands (a cluster edge's: only to the terminals it holds) */
  commands: { send(...args: Parameters<Jt808Commands['send']>): unknown };
  registry: Pick<Registry, 'devicesOfUnit' | 'device'>;
  compliance: Pick<ComplianceRegistry, 'get' | 'onChange'>;
  /** violation type → the text sent to the driver when one opens */
  violationTexts: Partial<Record<ViolationCode, string>>;
  now?: () => number;
  logger: Logger;
}

export function wireJt808Triggers(deps: Jt808TriggerDeps): {
  onViolation: (event: ViolationEvent) => void;
  stop: () => void;
} {
  const now = deps.now ?? Date.now;
  const terminalsOf = (vehicle: string) =>
    deps.registry.devicesOfUnit(vehicle).filter((id) => deps.registry.device(id)?.jt808 !== undefined);

  const onViolation = (event: ViolationEvent) => {
    if (event.phase !== 'opened') return;
    const text = deps.violationTexts[event.violation.code];
    if (text === undefined) return;
    const detected = event.violation.detectedTs ?? event.violation.startTs;
    if (now() - detected > TEXT_MAX_AGE_MS) return;
    for (const device of terminalsOf(event.violation.vehicle)) {
      deps.commands.send(
        device,
        'text',
        MSG.TEXT,
        (edition) => encode8300({ flags: TEXT_FLAGS.tts | TEXT_FLAGS.display, text }, edition),
        `violation:${event.violation.id}`,
      );
    }
  };

  const onChange = (change: ComplianceChange) => {
    if (change.kind !== 'permit' || change.deleted) return;
    const permit = deps.compliance.get('permit', change.id);
    if (permit === undefined || !isEnforcedState(permit.state)) return;
    const routes = permit.routes.flatMap((id) => deps.compliance.get('route', id) ?? []);
    const sites = [...permit.origins, ...permit.disposals].flatMap(
      (id) => deps.compliance.get('site', id) ?? [],
    );
    for (const vehicle of permit.vehicles) {
      for (const device of terminalsOf(vehicle)) {
        const source = `permit:${permit.id}`;
        for (const route of routes) {
          deps.commands.send(
            device,
            'route',
            MSG.SET_ROUTE,
            (edition) => routeCommand(route, edition),
            source,
          );
        }
        for (const site of sites) {
          deps.commands.send(
            device,
            'area',
            MSG.SET_POLYGON,
            (edition) => areaCommand(site, edition),
            source,
          );
        }
      }
    }
    deps.logger.info(
      { permit: permit.id, vehicles: permit.vehicles.length, routes: routes.length, areas: sites.length },
      'jt808: permit route and sites pushed to its trucks’ terminals',
    );
  };
  const stop = deps.compliance.onChange(onChange);
  return { onViolation, stop };
}
