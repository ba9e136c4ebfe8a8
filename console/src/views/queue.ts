import { ApiError, allPages, get } from '../api.ts';
import type { Ctx, View } from '../app.ts';
import { toDisplay } from '../crs.ts';
import { fill, h } from '../dom.ts';
import { named, t, VIOLATION_CODES } from '../i18n.ts';
import { boundsOf, CARD_PADDING } from '../map/focus-layer.ts';
import type { Violation } from '../store.ts';
import { cst, fromLocalInput, toLocalInput, ZONE_SUFFIX } from '../time.ts';
import { plateOf, renderViolationCard, STATUSES, type Status } from './violation-card.ts';

/**
 * The violation queue: violations from GET /violations (type, firm, status, time), new ones arriving on
 * the live stream without a reload, a count badge per type; one selected (`#/violations/<id>`, the
 * Grafana dashboards link here) is shown on the map with its detail and the enforcement workflow
 * (POST /violations/{id}/status with the reason): acknowledge, dispute, confirm, close, as the key's
 * role and the violation's status allow.
 */

const DEFAULT_SPAN_MS = 24 * 3_600_000;
const MAX_ITEMS = 2000;

interface Filter {
  code?: string;
  firm?: string;
  status?: Status;
  from: number;
  to?: number;
}

export function queueView(ctx: Ctx): View {
  const filter: Filter = { from: Date.now() - DEFAULT_SPAN_MS };
  const items = new Map<string, Violation>();
  const fresh = new Set<string>();
  let selected: string | undefined;
  const list = h('ol', { class: 'queue', id: 'queue-list' });
  const badges = h('div', { class: 'badges', id: 'queue-badges' });
  const summary = h('p', { class: 'muted', id: 'queue-count' });
  let unsubscribe: (() => void) | undefined;
  let renderTimer: ReturnType<typeof setTimeout> | undefined;
  let loadSeq = 0;

  const matches = (v: Violation, ignoreCode = false) =>
    (ignoreCode || !filter.code || v.code === filter.code) &&
    (!filter.firm || v.firm === filter.firm) &&
    (!filter.status || v.status === filter.status) &&
    v.startTs >= filter.from &&
    (filter.to === undefined || v.startTs <= filter.to);

  const render = () => {
    renderTimer = undefined;
    const all = [...items.values()].filter((v) => matches(v, true));
    const counts = new Map<string, number>();
    for (const v of all) counts.set(v.code, (counts.get(v.code) ?? 0) + 1);
    fill(
      badges,
      VIOLATION_CODES.filter((c) => counts.has(c)).map((c) =>
        h(
          'button',
          {
            type: 'button',
            class: `badge${filter.code === c ? ' active' : ''}`,
            'data-code': c,
            onclick: () => {
              filter.code = filter.code === c ? undefined : c;
              (document.getElementById('q-code') as HTMLSelectElement).value = filter.code ?? '';
              render();
            },
          },
          named('code', c),
          h('b', {}, String(counts.get(c))),
        ),
      ),
    );
    const shown = all.filter((v) => matches(v)).sort((a, b) => b.startTs - a.startTs);
    summary.textContent = `${shown.length} · ${t('filter.from')} ${cst(filter.from)} ${ZONE_SUFFIX}`;
    fill(
      list,
      shown.length === 0
        ? h('li', { class: 'muted' }, t('queue.empty'))
        : shown.slice(0, 500).map((v) =>
            h(
              'li',
              {
                'data-violation': v.id,
                'data-status': v.status,
                class: [v.id === selected ? 'selected' : '', fresh.has(v.id) ? 'fresh' : ''].join(' '),
              },
              h(
                'a',
                { href: `#/violations/${encodeURIComponent(v.id)}` },
                h('span', { class: 'code' }, named('code', v.code)),
                h('span', { class: `status-tag ${v.status}` }, named('status', v.status)),
                fresh.has(v.id) ? h('span', { class: 'status-tag open' }, t('queue.new')) : null,
                h(
                  'div',
                  { class: 'meta' },
                  `${plateOf(ctx, v.vehicle)} · ${ctx.firms.get(v.firm) ?? v.firm} · ${cst(v.startTs)}${v.phase !== 'closed' ? ` · ${t('queue.ongoing')}` : ''}`,
                ),
              ),
            ),
          ),
    );
  };
  const scheduleRender = () => {
    renderTimer ??= setTimeout(render, 250);
  };

  const load = async () => {
    const seq = ++loadSeq;
    fill(list, h('li', { class: 'muted' }, t('common.loading')));
    try {
      const got = await allPages<Violation>(
        '/violations',
        {
          firm: filter.firm,
          status: filter.status,
          from: filter.from,
          to: filter.to,
          limit: 1000,
        },
        MAX_ITEMS,
      );
      if (seq !== loadSeq) return;
      items.clear();
      for (const v of got) items.set(v.id, v);
      render();
    } catch (err) {
      if (seq === loadSeq) fill(list, h('li', { class: 'error' }, (err as Error).message));
    }
  };

  const select = async (id: string) => {
    selected = id;
    render();
    const card = ctx.card;
    card.hidden = false;
    card.dataset.violation = id;
    fill(card, h('p', { class: 'muted' }, t('common.loading')));
    let detail: { violation: Violation; phases: Array<{ seq: number; phase: string; violation: Violation }> };
    try {
      detail = await get(`/violations/${encodeURIComponent(id)}`);
    } catch (err) {
      fill(card, h('p', { class: 'error' }, err instanceof ApiError ? err.detail || err.title : String(err)));
      return;
    }
    if (selected !== id) return;
    items.set(id, detail.violation);
    render();
    renderViolationCard(ctx, detail.violation, detail.phases, select);
    showOnMap(detail.violation);
  };

  const showOnMap = (v: Violation) => {
    ctx.focus.set([
      { role: 'violation-segment', geometry: { type: 'LineString', coordinates: [v.startPos, v.lastPos] } },
      {
        role: 'start',
        geometry: { type: 'Point', coordinates: v.startPos },
        properties: { violation: v.id },
      },
      {
        role: 'violation-point',
        geometry: { type: 'Point', coordinates: v.lastPos },
        properties: { violation: v.id },
      },
    ]);
    ctx.units.select(v.vehicle);
    const b = boundsOf([v.startPos, v.lastPos]);
    if (b) {
      const [[w, s], [e, n]] = b;
      if (e - w < 0.005 && n - s < 0.005)
        ctx.map.easeTo({
          center: toDisplay(v.lastPos),
          zoom: Math.max(ctx.map.getZoom(), 14),
          duration: 300,
        });
      else ctx.map.fitBounds(b, { padding: CARD_PADDING, duration: 300, maxZoom: 15 });
    }
  };

  const dateInput = (id: string, value: number | undefined, set: (ms: number | undefined) => void) =>
    h('input', {
      type: 'datetime-local',
      id,
      value: value === undefined ? '' : toLocalInput(value),
      onchange: (e: Event) => {
        const ms = fromLocalInput((e.target as HTMLInputElement).value);
        set(Number.isNaN(ms) ? undefined : ms);
        void load();
      },
    });

  return {
    enter(params) {
      if (!ctx.side.dataset.view) {
        ctx.side.dataset.view = 'violations';
        const firms = [...ctx.firms.entries()].sort((a, b) => a[0].localeCompare(b[0]));
        fill(
          ctx.side,
          h('h2', {}, t('queue.title')),
          h(
            'div',
            { class: 'filters' },
            h(
              'label',
              { class: 'field' },
              h('span', {}, t('filter.code')),
              h(
                'select',
                {
                  id: 'q-code',
                  onchange: (e: Event) => {
                    filter.code = (e.target as HTMLSelectElement).value || undefined;
                    render();
                  },
                },
                h('option', { value: '' }, t('filter.all')),
                VIOLATION_CODES.map((c) => h('option', { value: c }, named('code', c))),
              ),
            ),
            h(
              'label',
              { class: 'field' },
              h('span', {}, t('filter.status')),
              h(
                'select',
                {
                  id: 'q-status',
                  onchange: (e: Event) => {
                    filter.status = ((e.target as HTMLSelectElement).value || undefined) as
                      | Status
                      | undefined;
                    void load();
                  },
                },
                h('option', { value: '' }, t('filter.all')),
                STATUSES.map((s) => h('option', { value: s }, named('status', s))),
              ),
            ),
            h(
              'label',
              { class: 'field' },
              h('span', {}, t('filter.firm')),
              h(
                'select',
                {
                  id: 'q-firm',
                  onchange: (e: Event) => {
                    filter.firm = (e.target as HTMLSelectElement).value || undefined;
                    void load();
                  },
                },
                h('option', { value: '' }, t('filter.all')),
                firms.map(([id, name]) => h('option', { value: id }, name)),
              ),
            ),
            h('span'),
            h(
              'label',
              { class: 'field' },
              h('span', {}, `${t('filter.from')} (${ZONE_SUFFIX})`),
              dateInput('q-from', filter.from, (ms) => {
                filter.from = ms ?? 0;
              }),
            ),
            h(
              'label',
              { class: 'field' },
              h('span', {}, `${t('filter.to')} (${ZONE_SUFFIX})`),
              dateInput('q-to', filter.to, (ms) => {
                filter.to = ms;
              }),
            ),
          ),
          badges,
          summary,
          list,
        );
        unsubscribe = ctx.store.onViolation((v, phase, isFresh) => {
          if (phase === 'withdrawn') {
            // withdrawn by a re-judging (late fixes): out of the queue, as out of the API's default list
            if (items.delete(v.id)) {
              fresh.delete(v.id);
              scheduleRender();
            }
            return;
          }
          const known = items.get(v.id);
          const merged = known ? { ...known, ...v, status: known.status } : v;
          if (!known && !matches(merged, true)) return;
          items.set(v.id, merged);
          if (isFresh && !known) fresh.add(v.id);
          scheduleRender();
        });
        void load();
      }
      if (params[0]) void select(params[0]);
      else {
        selected = undefined;
        ctx.card.hidden = true;
        delete ctx.card.dataset.violation;
        ctx.focus.clear();
        ctx.units.select(undefined);
        render();
      }
    },
    leave() {
      unsubscribe?.();
      clearTimeout(renderTimer);
      ctx.units.select(undefined);
      delete ctx.side.dataset.view;
      delete ctx.card.dataset.violation;
    },
  };
}
