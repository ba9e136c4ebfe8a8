import { ApiError, request, send } from '../api.ts';
import type { Ctx, View } from '../app.ts';
import { download, fill, h } from '../dom.ts';
import { named, t } from '../i18n.ts';
import { boundsOf, CARD_PADDING, type FocusFeature } from '../map/focus-layer.ts';
import { cstZ, duration, withUnit } from '../time.ts';

/**
 * A violation's evidence package (`#/evidence/<violation>`, GET /violations/{id}/evidence, the sealed
 * JSON exactly as stored): its track and the registry geometry it was judged against on the map, the
 * facts, the seal, and verification through POST /evidence/verify, of the package as downloaded or of a
 * file the user holds (a package received from elsewhere): "valid" when the hash matches and the
 * platform sealed exactly this package, "tampered" when a member was changed.
 */

interface Pkg {
  format: string;
  // biome-ignore lint/suspicious/noExplicitAny: the sealed package is read field by field
  violation: Record<string, any>;
  fixes: Array<{ lon: number; lat: number; ts: number; speed?: number }>;
  // biome-ignore lint/suspicious/noExplicitAny: entities differ by kind
  entities: Array<{ ref: { kind: string; id: string; version: number }; entity: Record<string, any> }>;
  sha256: string;
}

interface Verification {
  verified: boolean;
  hashValid: boolean;
  claimed: string;
  recomputed: string;
  record: 'matches' | 'differs' | 'unknown';
  differences: Array<{ pointer: string; message: string }>;
  reason: string;
}

export type Verdict = 'valid' | 'tampered' | 'unknown';

/** The verdict a monitor needs: valid (sealed by the platform, untouched), tampered, or not confirmable. */
export function verdictOf(v: Verification): Verdict {
  if (v.verified && v.record === 'matches') return 'valid';
  if (!v.hashValid || v.record === 'differs') return 'tampered';
  return 'unknown';
}

export function evidenceView(ctx: Ctx): View {
  let current: { pkg: Pkg; raw: string } | undefined;
  const result = h('div', { id: 'ev-result' });

  const showVerification = (v: Verification) => {
    const verdict = verdictOf(v);
    fill(
      result,
      h(
        'div',
        { class: 'verdict', 'data-verdict': verdict, id: 'ev-verdict' },
        h(
          'div',
          {},
          verdict === 'valid'
            ? `✔ ${t('evidence.valid')}`
            : verdict === 'tampered'
              ? `✘ ${t('evidence.tampered')}`
              : `? ${t('evidence.unknown')}`,
        ),
        // the API's reason is English; a valid package's is always the same and said in the console's words
        h('div', { class: 'reason' }, verdict === 'valid' ? t('evidence.validReason') : v.reason),
        v.differences.length > 0
          ? [
              h('div', { class: 'reason' }, `${t('evidence.differences')}:`),
              h(
                'ul',
                {},
                v.differences.slice(0, 12).map((d) => h('li', {}, `${d.pointer}: ${d.message}`)),
              ),
            ]
          : null,
      ),
    );
  };

  const verify = async (body: unknown) => {
    fill(result, h('p', { class: 'muted' }, t('common.loading')));
    try {
      showVerification(await send<Verification>('POST', '/evidence/verify', body));
    } catch (err) {
      fill(
        result,
        h(
          'div',
          { class: 'verdict', 'data-verdict': 'tampered', id: 'ev-verdict' },
          h('div', {}, `✘ ${t('evidence.tampered')}`),
          h('div', { class: 'reason' }, err instanceof ApiError ? err.detail || err.title : String(err)),
        ),
      );
    }
  };

  const fileInput = h('input', {
    type: 'file',
    id: 'ev-file',
    accept: 'application/json,.json',
    hidden: true,
    onchange: async (e: Event) => {
      const file = (e.target as HTMLInputElement).files?.[0];
      (e.target as HTMLInputElement).value = '';
      if (!file) return;
      let body: unknown;
      try {
        body = JSON.parse(await file.text());
      } catch {
        fill(
          result,
          h('div', { class: 'verdict', 'data-verdict': 'unknown', id: 'ev-verdict' }, t('evidence.notJson')),
        );
        return;
      }
      await verify(body);
    },
  });

  const render = (pkg: Pkg) => {
    const v = pkg.violation;
    const features: FocusFeature[] = [];
    for (const { ref, entity } of pkg.entities) {
      if ((ref.kind === 'site' || ref.kind === 'zone') && Array.isArray(entity.polygons))
        features.push({
          role: 'entity-area',
          geometry: { type: 'MultiPolygon', coordinates: entity.polygons },
          properties: { id: ref.id },
        });
      else if (ref.kind === 'route' && Array.isArray(entity.line))
        features.push({
          role: 'entity-line',
          geometry: { type: 'LineString', coordinates: entity.line },
          properties: { id: ref.id },
        });
    }
    const line = pkg.fixes.map((f) => [f.lon, f.lat]);
    if (line.length >= 2)
      features.push({ role: 'track', geometry: { type: 'LineString', coordinates: line } });
    const during = pkg.fixes.filter(
      (f) => f.ts >= v.startTs && f.ts <= (v.endTs ?? Number.POSITIVE_INFINITY),
    );
    if (during.length >= 2)
      features.push({
        role: 'violation-segment',
        geometry: { type: 'LineString', coordinates: during.map((f) => [f.lon, f.lat]) },
      });
    features.push({ role: 'start', geometry: { type: 'Point', coordinates: v.startPos } });
    features.push({ role: 'violation-point', geometry: { type: 'Point', coordinates: v.lastPos } });
    ctx.focus.set(features);
    const b = boundsOf(line.length > 0 ? line : [v.startPos, v.lastPos]);
    if (b) ctx.map.fitBounds(b, { padding: CARD_PADDING, duration: 0, maxZoom: 16 });

    ctx.card.hidden = false;
    fill(
      ctx.card,
      h('header', {}, h('h2', { id: 'card-title' }, `${t('evidence.title')} · ${named('code', v.code)}`)),
      h('h3', {}, t('evidence.facts')),
      h(
        'dl',
        { class: 'facts' },
        [
          [t('card.plate'), plateOf(ctx, String(v.vehicle))],
          [t('card.firm'), ctx.firms.get(v.firm) ?? String(v.firm)],
          [t('card.permit'), String(v.permit ?? '—')],
          [t('queue.start'), cstZ(v.startTs)],
          [
            t('queue.end'),
            v.endTs === undefined
              ? t('queue.ongoing')
              : `${cstZ(v.endTs)} (${duration(v.endTs - v.startTs)})`,
          ],
          [t('queue.level'), String(v.level)],
          ['', t('evidence.fixes', { n: pkg.fixes.length })],
        ].map(([k, val]) => [h('dt', {}, k!), h('dd', {}, val!)]),
      ),
      h('h3', {}, t('evidence.thresholds')),
      h(
        'dl',
        { class: 'facts' },
        Object.entries(v.thresholds ?? {}).map(([k, val]) => [h('dt', {}, k), h('dd', {}, withUnit(k, val))]),
      ),
      h('h3', {}, t('evidence.details')),
      h(
        'dl',
        { class: 'facts' },
        Object.entries(v.details ?? {}).map(([k, val]) => [h('dt', {}, k), h('dd', {}, withUnit(k, val))]),
      ),
      h('h3', {}, t('evidence.entities')),
      h(
        'ul',
        { class: 'plain' },
        pkg.entities.map((e) =>
          h('li', {}, `${e.ref.kind} ${e.ref.id} · ${t('registry.version')} ${e.ref.version}`),
        ),
      ),
      h('h3', {}, t('evidence.seal')),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'format'),
        h('dd', {}, pkg.format),
        h('dt', {}, 'sha256'),
        h('dd', {}, h('code', { class: 'hash', id: 'ev-sha' }, pkg.sha256)),
      ),
      h(
        'div',
        { class: 'actions' },
        h(
          'button',
          { type: 'button', id: 'ev-verify', onclick: () => void verify(JSON.parse(current!.raw)) },
          t('evidence.verify'),
        ),
        h(
          'button',
          { type: 'button', class: 'secondary', id: 'ev-verify-file', onclick: () => fileInput.click() },
          t('evidence.verifyFile'),
        ),
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            id: 'ev-download',
            onclick: () =>
              download(
                new Blob([current!.raw], { type: 'application/json' }),
                `evidence-${String(v.id).replaceAll(':', '_')}.json`,
              ),
          },
          t('evidence.download'),
        ),
        fileInput,
      ),
      result,
    );
  };

  const load = async (id: string) => {
    fill(result);
    ctx.card.hidden = false;
    fill(ctx.card, h('p', { class: 'muted' }, t('common.loading')));
    try {
      // the bytes as served: verification must see the package exactly as the platform sealed it
      const raw = await (
        await request(`/violations/${encodeURIComponent(id)}/evidence`, { query: { format: 'json' } })
      ).text();
      current = { pkg: JSON.parse(raw) as Pkg, raw };
      render(current.pkg);
    } catch (err) {
      current = undefined;
      const notReady = err instanceof ApiError && err.status === 404 && err.type.endsWith(':no-evidence');
      fill(
        ctx.card,
        h(
          'p',
          { class: notReady ? 'muted' : 'error', id: 'ev-error' },
          notReady ? t('evidence.notReady') : err instanceof Error ? err.message : String(err),
        ),
        h('p', {}, h('a', { href: `#/violations/${encodeURIComponent(id)}` }, t('nav.violations'))),
      );
    }
  };

  return {
    enter(params) {
      fill(
        ctx.side,
        h('h2', {}, t('nav.evidence')),
        h('p', { class: 'muted' }, params[0] ? params[0] : t('evidence.pick')),
        params[0]
          ? h('p', {}, h('a', { href: `#/violations/${encodeURIComponent(params[0])}` }, t('nav.violations')))
          : null,
      );
      if (params[0]) return load(params[0]);
      ctx.card.hidden = true;
    },
    leave() {
      ctx.card.hidden = true;
    },
  };
}

/** The unit's plate with its id, or the id alone when the live store has no plate for it. */
function plateOf(ctx: Ctx, unit: string): string {
  const plate = ctx.store.units.get(unit)?.pos.plate;
  return plate ? `${plate} (${unit})` : unit;
}
