import type { RuleModule, Violation } from '../types.ts';
import { close, open } from './lifecycle.ts';
import { LOAD_TRACK_INITIAL, type LoadTrack, loadEventOf, loadThresholds, refsWith } from './load-events.ts';

/**
 * NO_PERMIT (无证运输): a loading (load-events.ts) while the vehicle has no permit valid on that local
 * date (`facts.validPermits` empty). Opens at the loading fix; closes at the next unloading, or at the
 * first fix on which a permit has become valid. A loading on a date with a valid permit but outside its
 * hours is not this rule (OFF_HOURS judges loaded movement outside the windows).
 *
 * details: trigger (load|weight), site (id of the site it loaded in, '' outside every site), siteKind,
 * and at close endReason (unloading|permit).
 */

export interface NoPermitState extends LoadTrack {
  open: Violation | null;
}

export const noPermit: RuleModule<NoPermitState> = {
  code: 'NO_PERMIT',
  version: 1,
  initial: () => ({ ...LOAD_TRACK_INITIAL, open: null }),
  step(state, ctx) {
    const { track, event } = loadEventOf(state, ctx);
    const pos: [number, number] = [ctx.fix.lon, ctx.fix.lat];
    if (state.open !== null) {
      const permitted = ctx.facts.validPermits.length > 0;
      if (event?.kind === 'unloading' || permitted) {
        const closed = close(state.open, ctx.fix.ts, pos);
        closed.violation.details = {
          ...closed.violation.details,
          endReason: event?.kind === 'unloading' ? 'unloading' : 'permit',
        };
        return { state: { ...track, open: null }, events: [closed] };
      }
      return { state: { ...track, open: state.open }, events: [] };
    }
    if (event?.kind !== 'loading' || ctx.facts.validPermits.length > 0) {
      return { state: { ...track, open: null }, events: [] };
    }
    const site = ctx.facts.sites.find((s) => s.kind === 'origin') ?? ctx.facts.sites[0];
    const o = open(ctx, {
      code: 'NO_PERMIT',
      ruleVersion: 1,
      startTs: ctx.fix.ts,
      startPos: pos,
      refs: refsWith(ctx, [], site ? [site] : []),
      thresholds: loadThresholds(ctx.thresholds),
      details: { trigger: event.trigger, site: site?.id ?? '', siteKind: site?.kind ?? '' },
    });
    return { state: { ...track, open: o.violation }, events: [o.event] };
  },
};
